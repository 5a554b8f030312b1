package forward

import (
	"fmt"
	"strings"
	"time"
)

// Alert is a finding as it is forwarded: what a receiver needs to triage it without opening
// Vigil, and a link to open it there.
type Alert struct {
	// ID is the finding's id, unique and stable: receivers deduplicate by it.
	ID       string `json:"id"`
	RuleID   string `json:"rule_id"`
	RuleName string `json:"rule_name,omitempty"`
	Title    string `json:"title"`
	Level    string `json:"level"`
	// Author is the rule's author; the SigmaHQ rules' licence asks that alerts keep it.
	Author   string    `json:"author,omitempty"`
	Tags     []string  `json:"tags,omitempty"`
	Time     time.Time `json:"time"`
	HostID   string    `json:"host_id,omitempty"`
	Hostname string    `json:"hostname"`
	// Group holds a correlation's group-by values; Count the count that fired it.
	Group       map[string]string `json:"group,omitempty"`
	Count       int               `json:"count,omitempty"`
	Correlation string            `json:"correlation,omitempty"`
	// Evidence counts the events attached to the finding.
	Evidence int `json:"evidence,omitempty"`
	// URL opens the finding in the Vigil web UI.
	URL string `json:"url,omitempty"`
}

// Levels are Sigma's rule levels, lowest first.
var Levels = []string{"informational", "low", "medium", "high", "critical"}

// LevelRank orders a level (informational 0 ... critical 4); an unknown level ranks -1.
func LevelRank(level string) int {
	for i, l := range Levels {
		if strings.EqualFold(l, level) {
			return i
		}
	}
	return -1
}

// levelScale is a level on the numeric scales of the output formats.
type levelScale struct{ syslog, cef, ecs int }

// levelScales, by LevelRank: RFC 5424 severities (critical 2 Critical, high 3 Error, medium 4
// Warning, low 5 Notice, informational 6 Informational); CEF's 0-10; ECS's event.severity, whose
// scale ECS leaves to the source (Vigil uses 21/47/73/99 as Elastic's detection rules do).
var levelScales = [...]levelScale{{6, 1, 0}, {5, 3, 21}, {4, 5, 47}, {3, 8, 73}, {2, 10, 99}}

// scale returns a level's numbers; an unknown level counts as informational.
func scale(level string) levelScale {
	return levelScales[max(LevelRank(level), 0)]
}

// Summary is the one-line text of an alert used by the text formats.
func (a *Alert) Summary() string {
	s := fmt.Sprintf("[%s] %s on %s", strings.ToUpper(a.Level), a.Title, a.Hostname)
	if a.Count > 0 {
		s += fmt.Sprintf(" (count %d)", a.Count)
	}
	return s
}
