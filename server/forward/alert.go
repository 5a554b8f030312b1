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

// syslogSeverity maps a level onto RFC 5424 severities: critical 2 (Critical), high 3 (Error),
// medium 4 (Warning), low 5 (Notice), informational 6 (Informational).
func syslogSeverity(level string) int {
	switch LevelRank(level) {
	case 4:
		return 2
	case 3:
		return 3
	case 2:
		return 4
	case 1:
		return 5
	default:
		return 6
	}
}

// cefSeverity maps a level onto CEF's 0-10 scale.
func cefSeverity(level string) int {
	switch LevelRank(level) {
	case 4:
		return 10
	case 3:
		return 8
	case 2:
		return 5
	case 1:
		return 3
	default:
		return 1
	}
}

// ecsSeverity maps a level onto a numeric event.severity (ECS leaves the scale to the
// source; Vigil uses 21/47/73/99 like Elastic's detection rules, 0 for informational).
func ecsSeverity(level string) int {
	switch LevelRank(level) {
	case 4:
		return 99
	case 3:
		return 73
	case 2:
		return 47
	case 1:
		return 21
	default:
		return 0
	}
}

// Summary is the one-line text of an alert used by the text formats.
func (a *Alert) Summary() string {
	s := fmt.Sprintf("[%s] %s on %s", strings.ToUpper(a.Level), a.Title, a.Hostname)
	if a.Count > 0 {
		s += fmt.Sprintf(" (count %d)", a.Count)
	}
	return s
}
