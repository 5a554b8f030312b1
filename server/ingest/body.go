package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vigilhq/vigil/internal/wire"
)

// BatchBody is the server's view of wire.Batch: the same JSON, decoded so that each event's
// fields stay raw JSON (stored as sent, never re-encoded) and times are parsed by Validate, which
// can name the item at fault.
type BatchBody struct {
	Events    []EventBody     `json:"events"`
	Findings  []FindingBody   `json:"findings"`
	Inventory []InventoryBody `json:"inventory"`
	Health    *wire.Health    `json:"health"`
}

// EventBody is event.Event as it travels. Host is ignored: the token says which host.
type EventBody struct {
	ID       string          `json:"id"`
	Time     json.RawMessage `json:"time"`
	Host     string          `json:"host"`
	Category string          `json:"category"`
	Product  string          `json:"product"`
	Service  string          `json:"service"`
	Fields   json.RawMessage `json:"fields"`
}

// FindingBody is wire.Finding as it travels.
type FindingBody struct {
	ID          string            `json:"id"`
	RuleID      string            `json:"rule_id"`
	RuleName    string            `json:"rule_name"`
	Title       string            `json:"title"`
	Level       string            `json:"level"`
	Author      string            `json:"author"`
	Tags        []string          `json:"tags"`
	Time        json.RawMessage   `json:"time"`
	EventIDs    []string          `json:"event_ids"`
	Group       map[string]string `json:"group"`
	Count       int               `json:"count"`
	Value       *float64          `json:"value"`
	Correlation string            `json:"correlation"`
}

// InventoryBody is wire.Inventory as it travels.
type InventoryBody struct {
	ID    string          `json:"id"`
	Kind  string          `json:"kind"`
	Time  json.RawMessage `json:"time"`
	Items json.RawMessage `json:"items"`
}

// Items counts what the body carries against wire.MaxBatchItems.
func (b *BatchBody) Items() int { return len(b.Events) + len(b.Findings) + len(b.Inventory) }

// Field size limits, beyond the body's.
const (
	maxID       = 128
	maxShort    = 256  // category, product, rule ids, levels, tags
	maxText     = 4096 // titles, authors
	maxTags     = 64
	maxGroupKey = 64
)

// Levels a finding may carry (Sigma's).
var Levels = []string{"informational", "low", "medium", "high", "critical"}

// inventoryKinds are the kinds an inventory snapshot may name.
var inventoryKinds = map[string]bool{
	wire.InventoryHost: true, wire.InventoryUSB: true, wire.InventoryDisplay: true,
	wire.InventoryMedia: true, wire.InventoryNeighbor: true,
}

func badField(field, format string, args ...any) *wire.Error {
	return &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf(format, args...), Field: field}
}

// parseTime parses events[i].time, naming the field only on failure.
func parseTime(raw json.RawMessage, i int) (time.Time, *wire.Error) {
	var t time.Time
	if len(raw) > 2 && raw[0] == '"' && t.UnmarshalJSON(raw) == nil && !t.IsZero() {
		return t.UTC(), nil
	}
	return parseTimeField(raw, fmt.Sprintf("events[%d].time", i))
}

func parseTimeField(raw json.RawMessage, field string) (time.Time, *wire.Error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, badField(field, "missing time")
	}
	var t time.Time
	if err := t.UnmarshalJSON(raw); err != nil {
		return time.Time{}, badField(field, "not an RFC 3339 time: %s", truncate(string(raw), 64))
	}
	if t.IsZero() {
		return time.Time{}, badField(field, "zero time")
	}
	return t.UTC(), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func checkLen(field, v string, maxLen int, required bool) *wire.Error {
	if required && v == "" {
		return badField(field, "empty")
	}
	if len(v) > maxLen {
		return badField(field, "longer than %d bytes", maxLen)
	}
	return nil
}

// isObject reports whether raw is a JSON object (the decoder has checked it is valid JSON).
func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

func isArray(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '['
}
