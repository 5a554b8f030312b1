package policies

import (
	"fmt"
	"time"

	"github.com/vigilhq/vigil/policies/sigma"
)

// LoadOptions configure loading.
type LoadOptions struct {
	// Placeholders holds the values of |expand %name% placeholders, by name (without the %).
	Placeholders map[string][]string
	// Limits bound what loading may cost (zero: DefaultLimits).
	Limits Limits

	builtin bool // the documents are the built-in pack's (Load sets it)
}

// Problem is a refused rule or document, or (Warning) an accepted one with a note.
type Problem struct {
	File    string
	Line    int
	Column  int
	Message string
	Warning bool
}

// Error formats the problem as "file:line: message" or "file:line:col: message"; warnings read
// "file:line: warning: message".
func (p Problem) Error() string {
	return sigma.Error{File: p.File, Line: p.Line, Column: p.Column, Message: p.Message, Warning: p.Warning}.Error()
}

func problemOf(e sigma.Error) Problem {
	return Problem{File: e.File, Line: e.Line, Column: e.Column, Message: e.Message, Warning: e.Warning}
}

// Logsource is a rule's Sigma log source; empty attributes are wildcards.
type Logsource struct {
	Category   string `json:"category,omitempty"`
	Product    string `json:"product,omitempty"`
	Service    string `json:"service,omitempty"`
	Definition string `json:"definition,omitempty"`
}

// RuleInfo describes one loaded rule or correlation.
type RuleInfo struct {
	ID, Name, Title, Description, Level, Status, Author string
	Tags, References, FalsePositives                    []string
	Logsource                                           Logsource
	File                                                string
	Line                                                int
	// Kind is "rule" or "correlation".
	Kind string
	// CorrelationType is the correlation's type (event_count...), for correlations.
	CorrelationType string
	// Uses lists, for a correlation, the IDs of the rules and correlations it references that
	// are loaded, in the order written.
	Uses []string
	// Silent is true for a rule or correlation that emits no finding of its own because the
	// active correlations referencing it all have generate: false.
	Silent bool
	// Builtin is true for the built-in pack's rules, as loaded by Load with LoadSpec.Builtin.
	Builtin bool
}

// Finding is one detection: a rule match or a correlation firing.
type Finding struct {
	ID       string    `json:"id"` // new ULID (event.NewID)
	RuleID   string    `json:"rule_id"`
	RuleName string    `json:"rule_name,omitempty"`
	Title    string    `json:"title"`
	Level    string    `json:"level"`
	Author   string    `json:"author"` // DRL 1.1 requires keeping it in alerts
	Tags     []string  `json:"tags"`
	Time     time.Time `json:"time"` // the triggering event's time
	Host     string    `json:"host"`
	// EventIDs is the evidence: the matching event for a rule; for a correlation, its events,
	// oldest first, at most correlate.DefaultMaxEvidence (100), the oldest dropped first.
	EventIDs []string          `json:"event_ids"`
	Group    map[string]string `json:"group,omitempty"` // correlations: group-by field -> value
	Count    int               `json:"count,omitempty"` // correlations: the count that fired
	Value    *float64          `json:"value,omitempty"` // value_sum/avg/median/percentile
	// Correlation is the correlation type, for correlation findings.
	Correlation string `json:"correlation,omitempty"`
}

func (f *Finding) String() string {
	return fmt.Sprintf("%s %s %q host=%s events=%d", f.Time.Format(time.RFC3339), f.RuleID, f.Title, f.Host, len(f.EventIDs))
}
