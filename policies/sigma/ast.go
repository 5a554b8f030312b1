package sigma

import (
	"fmt"
	"time"
)

// Error is one problem in a rule file: a refused document, or a warning when Warning is set.
type Error struct {
	File    string
	Line    int
	Column  int
	Message string
	Warning bool
}

// Error formats the problem as "file:line: message" (or "file:line:col: message").
func (e Error) Error() string {
	prefix := e.File
	if e.Line > 0 {
		prefix += fmt.Sprintf(":%d", e.Line)
		if e.Column > 0 {
			prefix += fmt.Sprintf(":%d", e.Column)
		}
	}
	if e.Warning {
		return prefix + ": warning: " + e.Message
	}
	return prefix + ": " + e.Message
}

// Pos is a position in a rule file (1-based line and column).
type Pos struct{ Line, Column int }

// Kind is the YAML type of a scalar value.
type Kind int

// Scalar kinds, as YAML resolved them (quoted scalars are always strings).
const (
	String Kind = iota
	Int
	Float
	Bool
	Null
)

func (k Kind) String() string {
	switch k {
	case Int:
		return "int"
	case Float:
		return "float"
	case Bool:
		return "bool"
	case Null:
		return "null"
	}
	return "string"
}

// Value is one scalar of a detection, with its lexical text exactly as written (after YAML
// unquoting) and its resolved kind.
type Value struct {
	Text   string
	Kind   Kind
	Quoted bool
	Pos
}

// Item is one detection item: a field (empty for keywords) with its modifier chain and values.
// Several values are OR-linked, or AND-linked with the "all" modifier.
type Item struct {
	Field     string
	Modifiers []string
	Values    []Value
	// List is true when the values were written as a YAML list (even of one element).
	List bool
	// Keyword is true for keyword items (no field: a list-of-scalars identifier, a scalar
	// identifier or a key with an empty field name such as '|all').
	Keyword bool
	Pos
}

// Has reports whether the item's modifier chain contains m.
func (it *Item) Has(m string) bool {
	for _, x := range it.Modifiers {
		if x == m {
			return true
		}
	}
	return false
}

// Search is one search identifier: an OR of AND-groups of items.
type Search struct {
	Name string
	// Any holds the alternatives (OR); each alternative is an AND of items.
	Any [][]*Item
	Pos
}

// Detection is a rule's (or filter's) detection block.
type Detection struct {
	Searches map[string]*Search
	// Order lists the identifiers in the order written.
	Order []string
	// Condition is the parsed condition (a YAML list of conditions is OR-linked into one).
	Condition Cond
	// ConditionText is the condition as written (list items joined by " | or | ").
	ConditionText string
	ConditionPos  Pos
}

// Logsource is a rule's log source. Empty attributes are wildcards.
type Logsource struct {
	Category   string
	Product    string
	Service    string
	Definition string
}

// Meta is the metadata common to rules, correlations and filters.
type Meta struct {
	Title          string
	ID             string
	Name           string
	Status         string
	Description    string
	Author         string
	License        string
	Date           string
	Modified       string
	Level          string
	Taxonomy       string
	References     []string
	Tags           []string
	FalsePositives []string
	Fields         []string
	Related        []Related
	// Custom holds unknown top-level keys (tolerated) with their scalar text when they are scalars.
	Custom map[string]string
}

// Related is one entry of a rule's related list.
type Related struct{ ID, Type string }

// Rule is a detection rule document.
type Rule struct {
	Meta
	Logsource Logsource
	Detection Detection
	File      string
	Pos
}

// Correlation types.
const (
	EventCount      = "event_count"
	ValueCount      = "value_count"
	Temporal        = "temporal"
	TemporalOrdered = "temporal_ordered"
	ValueSum        = "value_sum"
	ValueAvg        = "value_avg"
	ValuePercentile = "value_percentile"
	ValueMedian     = "value_median"
)

// CondOp is one comparison of a correlation condition.
type CondOp struct {
	Op    string // gt gte lt lte eq neq
	Value float64
}

// Correlation is a correlation rule document.
type Correlation struct {
	Meta
	Type string
	// Rules are the referenced rule or correlation ids or names, as written.
	Rules []string
	// Aliases maps an alias to the field name per referenced rule name/id.
	Aliases  map[string]map[string]string
	GroupBy  []string
	Timespan time.Duration
	// TimespanText is the timespan as written (e.g. "5m").
	TimespanText string
	// Ops are AND-linked; empty for temporal types without a condition.
	Ops []CondOp
	// Fields is condition.field (value_* types).
	Fields   []string
	Generate bool
	File     string
	Pos
}

// Filter is a Sigma v2 filter document: "rule and not filter" for each listed rule, applied when
// the event matches the filter's logsource.
type Filter struct {
	Meta
	Logsource Logsource
	Rules     []string
	Detection Detection
	File      string
	Pos
}

// File is the parse result of one rule file.
type File struct {
	Name         string
	Rules        []*Rule
	Correlations []*Correlation
	Filters      []*Filter
}
