package forward

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vigilhq/vigil/internal/version"
)

// ECS is an alert in Elastic Common Schema field names, one JSON object per line of the
// export. Fields ECS has no name for live under "vigil".
func ECS(a *Alert) map[string]any {
	ev := map[string]any{
		"kind":     "alert",
		"id":       a.ID,
		"module":   "vigil",
		"dataset":  "vigil.finding",
		"category": []string{"intrusion_detection"},
		"type":     []string{"info"},
		"severity": scale(a.Level).ecs,
		"created":  a.Time.UTC().Format(time.RFC3339Nano),
	}
	if a.URL != "" {
		ev["url"] = a.URL
	}
	rule := map[string]any{"id": a.RuleID, "name": a.RuleName, "description": a.Title, "ruleset": "vigil"}
	if a.RuleName == "" {
		rule["name"] = a.RuleID
	}
	if a.Author != "" {
		rule["author"] = splitAuthors(a.Author)
	}
	host := map[string]any{"name": a.Hostname}
	if a.HostID != "" {
		host["id"] = a.HostID
	}
	vigil := map[string]any{"level": a.Level}
	if len(a.Group) > 0 {
		vigil["group"] = a.Group
	}
	if a.Count > 0 {
		vigil["count"] = a.Count
	}
	if a.Correlation != "" {
		vigil["correlation"] = a.Correlation
	}
	if a.Evidence > 0 {
		vigil["evidence_events"] = a.Evidence
	}
	doc := map[string]any{
		"@timestamp": a.Time.UTC().Format(time.RFC3339Nano),
		"ecs":        map[string]any{"version": "8.11.0"},
		"message":    a.Summary(),
		"event":      ev,
		"rule":       rule,
		"host":       host,
		"observer":   map[string]any{"vendor": "Vigil", "product": "Vigil", "type": "edr", "version": version.Version},
		"log":        map[string]any{"level": a.Level},
		"vigil":      vigil,
	}
	if len(a.Tags) > 0 {
		doc["tags"] = a.Tags
	}
	return doc
}

// splitAuthors turns Sigma's free-text author ("A, B") into ECS's list.
func splitAuthors(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// fileFwd appends ECS JSON lines to a file, opening it for each alert so that a rotated file
// (moved away by logrotate) is recreated rather than written after it moved.
type fileFwd struct{ c Config }

func newFile(c Config) (*fileFwd, error) {
	if err := os.MkdirAll(filepath.Dir(c.Path), 0o700); err != nil {
		return nil, fmt.Errorf("destination %s: %w", c.Name, err)
	}
	return &fileFwd{c: c}, nil
}

func (f *fileFwd) Send(_ context.Context, a *Alert) error {
	line, err := json.Marshal(ECS(a))
	if err != nil {
		return fmt.Errorf("encode ECS: %w", err)
	}
	fh, err := os.OpenFile(f.c.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("export file: %w", err)
	}
	if _, err := fh.Write(append(line, '\n')); err != nil {
		fh.Close()
		return fmt.Errorf("export file %s: %w", f.c.Path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("export file %s: %w", f.c.Path, err)
	}
	return nil
}

func (f *fileFwd) Close() error { return nil }
