package correlate

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/vigilhq/vigil/internal/event"
)

// Correlation types.
const (
	EventCount      = "event_count"
	ValueCount      = "value_count"
	Temporal        = "temporal"
	TemporalOrdered = "temporal_ordered"
	ValueSum        = "value_sum"
	ValueAvg        = "value_avg"
	ValueMedian     = "value_median"
	ValuePercentile = "value_percentile"
)

// Op is one comparison of a correlation condition: Kind is gt, gte, lt, lte, eq or neq.
type Op struct {
	Kind  string
	Value float64
}

// Condition is a correlation condition: every Op must hold (AND). Fields names the event fields
// the value_* types measure (value_count and value_percentile read them as a tuple when several
// are given; value_sum, value_avg and value_median take exactly one).
type Condition struct {
	Ops    []Op
	Fields []string
}

// Ref is one entry of a correlation's rules list: a base rule (Base >= 0, Corr == -1) or another
// correlation, by its index in the specs given to New (Corr >= 0, Base == -1).
type Ref struct {
	Base int
	Corr int
}

// BaseRef returns a Ref to base rule i.
func BaseRef(i int) Ref { return Ref{Base: i, Corr: -1} }

// CorrRef returns a Ref to correlation spec i.
func CorrRef(i int) Ref { return Ref{Base: -1, Corr: i} }

// Spec is one correlation rule, already resolved by the facade.
type Spec struct {
	// Type is one of event_count, value_count, temporal, temporal_ordered, value_sum, value_avg,
	// value_median, value_percentile.
	Type string
	// Rules are the referenced rules in the order written (the order matters for temporal_ordered).
	Rules []Ref
	// AliasFields maps an alias name to the field to read for each Rules position; "" means the
	// alias was not given for that rule, which then reads the field named like the alias itself.
	AliasFields map[string][]string
	// GroupBy lists field or alias names; empty means one global group.
	GroupBy []string
	// Timespan is the window length; it must be positive.
	Timespan time.Duration
	// Condition is required for every type except temporal and temporal_ordered, where empty Ops
	// means "all referenced rules" (gte len(Rules)).
	Condition Condition
}

// Options bound the engine's memory and output. Zero values take the defaults.
type Options struct {
	// MaxGroups caps the groups one spec keeps (default 10000). When a new group would exceed it,
	// the least recently updated group is dropped (counted in Stats.CapEvictions).
	MaxGroups int
	// MaxEvidence caps the event ids of one firing (default 100); the oldest are dropped first.
	MaxEvidence int
	// MaxGroupEvents caps the window entries one group stores (default 10000): events for
	// event_count, value_sum, value_avg, value_median, value_percentile and temporal_ordered,
	// distinct values for value_count. Beyond it the oldest entry is dropped (Stats.Truncated).
	MaxGroupEvents int
}

// Default option values.
const (
	DefaultMaxGroups      = 10000
	DefaultMaxEvidence    = 100
	DefaultMaxGroupEvents = 10000
)

// Firing is one correlation match.
type Firing struct {
	// Spec is the index of the spec that fired.
	Spec int
	// Time is the time of the event that made it fire, or the window end for conditions judged
	// when a window closes (lt, lte, eq, neq and ranges). Always UTC.
	Time time.Time
	// Host is the host every evidence event shares, or "" when they differ.
	Host string
	// Group maps each group-by name to the group's value (nil without group-by).
	Group map[string]string
	// Count is the event count (event_count), distinct values (value_count), distinct rules
	// (temporal), completed steps (temporal_ordered), events in the window (value_sum, value_avg,
	// value_median) or events in the group's window (value_percentile).
	Count int
	// Value is the sum, average, median or percentage share (value_percentile) that fired.
	Value float64
	// EventIDs are the evidence event ids, oldest first, at most Options.MaxEvidence (the oldest
	// are dropped first). A chained correlation carries its inner firings' evidence. Treat as
	// read-only: the same slice is handed on to correlations that reference this one.
	EventIDs []string
}

// Stats are the engine's counters.
type Stats struct {
	Groups       int    // groups held now, all specs together
	Evicted      uint64 // groups dropped because their window passed (expired or closed)
	CapEvictions uint64 // groups dropped because a spec reached MaxGroups
	Late         uint64 // inputs dropped because they were older than their window
	Skipped      uint64 // inputs skipped because a group-by or condition field was missing or not numeric
	Muted        uint64 // inputs ignored because their group had fired within the last timespan
	Truncated    uint64 // window entries dropped because a group reached MaxGroupEvents
}

// SpecError is the error New returns for an invalid spec; Spec is its index.
type SpecError struct {
	Spec int
	Err  error
}

func (e *SpecError) Error() string { return fmt.Sprintf("correlation spec %d: %v", e.Spec, e.Err) }

func (e *SpecError) Unwrap() error { return e.Err }

// New validates specs and returns an engine evaluating them. Every spec must have a known type,
// references in range (exactly one of Base and Corr set), no reference cycle, valid condition
// operators with finite values, the fields its type needs, alias lists matching Rules, and a
// positive timespan. A chained spec's group-by and condition fields must be group-by names of
// the correlations it references, since those are the only fields a firing carries. The error
// is a *SpecError naming the first bad spec.
func New(specs []Spec, opts Options) (*Engine, error) {
	if opts.MaxGroups <= 0 {
		opts.MaxGroups = DefaultMaxGroups
	}
	if opts.MaxEvidence <= 0 {
		opts.MaxEvidence = DefaultMaxEvidence
	}
	if opts.MaxGroupEvents <= 0 {
		opts.MaxGroupEvents = DefaultMaxGroupEvents
	}
	e := &Engine{opts: opts, now: minNanos}
	maxBase := -1
	for i := range specs {
		sp, err := compile(i, specs, opts)
		if err != nil {
			return nil, &SpecError{Spec: i, Err: err}
		}
		e.specs = append(e.specs, sp)
		for _, r := range specs[i].Rules {
			maxBase = max(maxBase, r.Base)
		}
	}
	order, err := topoOrder(specs)
	if err != nil {
		return nil, err
	}
	e.order = order
	e.byBase = make([][]target, maxBase+1)
	e.byCorr = make([][]target, len(specs))
	for i, s := range specs {
		sp := e.specs[i]
		// Temporal types treat every position separately (descending, so one event never
		// advances two steps of one sequence); the others count an event once, at the first
		// position of its rule.
		seen := map[Ref]int{}
		for pos, r := range s.Rules {
			if ti, ok := seen[r]; ok {
				if sp.temporalKind() {
					t := e.refTargets(r)
					(*t)[ti].positions = append([]int{pos}, (*t)[ti].positions...)
				}
				continue
			}
			t := e.refTargets(r)
			seen[r] = len(*t)
			*t = append(*t, target{sp: sp, positions: []int{pos}})
		}
	}
	return e, nil
}

func (e *Engine) refTargets(r Ref) *[]target {
	if r.Base >= 0 {
		return &e.byBase[r.Base]
	}
	return &e.byCorr[r.Corr]
}

var typeKinds = map[string]kind{
	EventCount:      kEventCount,
	ValueCount:      kValueCount,
	Temporal:        kTemporal,
	TemporalOrdered: kTemporalOrdered,
	ValueSum:        kValueSum,
	ValueAvg:        kValueAvg,
	ValueMedian:     kValueMedian,
	ValuePercentile: kValuePercentile,
}

// maxBaseIndex bounds base rule indexes: the engine keeps a slice indexed by them.
const maxBaseIndex = 1<<24 - 1

var opKinds = map[string]opKind{"gt": opGT, "gte": opGTE, "lt": opLT, "lte": opLTE, "eq": opEQ, "neq": opNEQ}

// compile validates spec i and builds its runtime form.
func compile(i int, specs []Spec, opts Options) (*spec, error) {
	s := specs[i]
	k, ok := typeKinds[s.Type]
	if !ok {
		return nil, fmt.Errorf("unknown correlation type %q", s.Type)
	}
	if s.Timespan <= 0 {
		return nil, fmt.Errorf("timespan %v: must be positive", s.Timespan)
	}
	if len(s.Rules) == 0 {
		return nil, errors.New("rules: empty")
	}
	for pos, r := range s.Rules {
		switch {
		case r.Base >= 0 && r.Corr >= 0, r.Base < 0 && r.Corr < 0:
			return nil, fmt.Errorf("rules[%d]: exactly one of Base and Corr must be set (got Base %d, Corr %d)", pos, r.Base, r.Corr)
		case r.Base > maxBaseIndex:
			return nil, fmt.Errorf("rules[%d]: base rule index %d above the limit %d", pos, r.Base, maxBaseIndex)
		case r.Corr >= len(specs):
			return nil, fmt.Errorf("rules[%d]: correlation %d out of range (%d specs)", pos, r.Corr, len(specs))
		case r.Corr == i:
			return nil, fmt.Errorf("rules[%d]: references itself", pos)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.AliasFields)) {
		fields := s.AliasFields[name]
		if name == "" {
			return nil, errors.New("aliases: empty alias name")
		}
		if len(fields) != len(s.Rules) {
			return nil, fmt.Errorf("alias %q: %d fields for %d rules", name, len(fields), len(s.Rules))
		}
	}
	seen := map[string]bool{}
	for _, g := range s.GroupBy {
		if g == "" {
			return nil, errors.New("group-by: empty field name")
		}
		if seen[g] {
			return nil, fmt.Errorf("group-by: %q listed twice", g)
		}
		seen[g] = true
	}
	sp := &spec{index: i, kind: k, src: s, ts: int64(s.Timespan), groups: map[string]*group{}}
	for _, op := range s.Condition.Ops {
		ok, known := opKinds[op.Kind]
		if !known {
			return nil, fmt.Errorf("condition: unknown operator %q (want gt, gte, lt, lte, eq or neq)", op.Kind)
		}
		if math.IsNaN(op.Value) || math.IsInf(op.Value, 0) {
			return nil, fmt.Errorf("condition %s: value %v is not a finite number", op.Kind, op.Value)
		}
		sp.ops = append(sp.ops, cop{kind: ok, v: op.Value})
		if ok != opGT && ok != opGTE {
			sp.closing = true
		}
	}
	if len(sp.ops) == 0 {
		if !sp.temporalKind() {
			return nil, fmt.Errorf("%s: condition: at least one of gt, gte, lt, lte, eq, neq is required", s.Type)
		}
		sp.ops = []cop{{kind: opGTE, v: float64(len(s.Rules))}}
	}
	if k == kValuePercentile {
		// The share is a property of each event: always judged when the event arrives.
		sp.closing = false
	}
	switch k {
	case kValueCount, kValuePercentile:
		if len(s.Condition.Fields) == 0 {
			return nil, fmt.Errorf("%s: condition field is required", s.Type)
		}
	case kValueSum, kValueAvg, kValueMedian:
		if len(s.Condition.Fields) != 1 {
			return nil, fmt.Errorf("%s: condition needs exactly one field (got %d)", s.Type, len(s.Condition.Fields))
		}
	}
	if sp.valueKind() {
		for _, f := range s.Condition.Fields {
			if f == "" {
				return nil, errors.New("condition field: empty name")
			}
		}
	}
	// Conditions on counts that the engine could never reach.
	if !sp.closing && sp.countKind() {
		need := sp.need()
		switch {
		case sp.temporalKind() && need > len(s.Rules):
			return nil, fmt.Errorf("%s: condition needs %d rules but only %d are referenced: it can never hold", s.Type, need, len(s.Rules))
		case !sp.temporalKind() && need > opts.MaxGroupEvents:
			return nil, fmt.Errorf("%s: condition needs %d events, above the per-group bound MaxGroupEvents %d", s.Type, need, opts.MaxGroupEvents)
		}
	}
	if sp.closing && k == kValueCount {
		for _, op := range sp.ops {
			if op.v >= float64(opts.MaxGroupEvents) {
				return nil, fmt.Errorf("%s: condition value %v is not below the per-group bound MaxGroupEvents %d", s.Type, op.v, opts.MaxGroupEvents)
			}
		}
	}
	// Field names per position, aliases resolved.
	sp.groupFields = make([][]string, len(s.Rules))
	sp.valueFields = make([][]string, len(s.Rules))
	for pos, r := range s.Rules {
		sp.groupFields[pos] = resolve(s.GroupBy, s.AliasFields, pos)
		if sp.valueKind() {
			sp.valueFields[pos] = resolve(s.Condition.Fields, s.AliasFields, pos)
		}
		if r.Corr < 0 {
			continue
		}
		inner := map[string]bool{}
		for _, g := range specs[r.Corr].GroupBy {
			inner[g] = true
		}
		for _, f := range append(append([]string(nil), sp.groupFields[pos]...), sp.valueFields[pos]...) {
			if !inner[f] {
				return nil, fmt.Errorf("rules[%d] is correlation %d, whose firings carry only its group-by fields %q: field %q is not one of them", pos, r.Corr, specs[r.Corr].GroupBy, f)
			}
		}
	}
	return sp, nil
}

func resolve(names []string, aliases map[string][]string, pos int) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n
		if a, ok := aliases[n]; ok && a[pos] != "" {
			out[i] = a[pos]
		}
	}
	return out
}

// topoOrder returns the spec indexes with every referenced correlation before its referrers, or
// an error naming a spec on a reference cycle.
func topoOrder(specs []Spec) ([]int, error) {
	indeg := make([]int, len(specs)) // references to not-yet-ordered correlations
	users := make([][]int, len(specs))
	for i, s := range specs {
		for _, r := range s.Rules {
			if r.Corr >= 0 {
				indeg[i]++
				users[r.Corr] = append(users[r.Corr], i)
			}
		}
	}
	var order, ready []int
	for i := range specs {
		if indeg[i] == 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		i := ready[0]
		ready = ready[1:]
		order = append(order, i)
		for _, u := range users[i] {
			if indeg[u]--; indeg[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	if len(order) < len(specs) {
		for i := range specs {
			if indeg[i] > 0 {
				return nil, &SpecError{Spec: i, Err: errors.New("rules: reference cycle through correlations")}
			}
		}
	}
	return order, nil
}

// Engine evaluates correlation specs over a stream of base-rule matches. It is not safe for
// concurrent use.
type Engine struct {
	opts   Options
	specs  []*spec
	order  []int      // specs, referenced correlations first
	byBase [][]target // base rule -> specs referencing it
	byCorr [][]target // spec -> specs referencing it

	now      int64 // stream time: the newest time seen (ns since the Unix epoch, clamped)
	seq      uint64
	occ      uint64
	gseq     uint64
	lastEv   *event.Event
	lastID   string
	lastTime time.Time
	lastOcc  uint64

	heap  groupHeap
	queue []pendingFiring
	qhead int

	keyBuf, valBuf, scratch []byte
	evbuf                   []*entry

	groups int
	stats  Stats
}

type target struct {
	sp        *spec
	positions []int // descending
}

type pendingFiring struct {
	f Firing
	t int64
}

// Observe reports that base rule base matched ev. Every spec referencing base updates its state;
// firings are passed to emit (which may be nil) and fed to the specs that reference them, to any
// depth. A zero ev.Time counts as the newest time seen. Windows that the event's time closes are
// judged first. emit must not call back into the engine.
func (e *Engine) Observe(base int, ev *event.Event, emit func(Firing)) {
	if ev == nil {
		return
	}
	t := e.now
	if !ev.Time.IsZero() {
		t = toNanos(ev.Time)
	}
	// Consecutive calls for the same event (one per base rule it matched) are one occurrence.
	if same := ev.ID == e.lastID && (ev.ID != "" || ev == e.lastEv) && ev.Time.Equal(e.lastTime); !same {
		e.occ++
		e.lastOcc = e.occ
	}
	e.lastEv, e.lastID, e.lastTime = ev, ev.ID, ev.Time
	e.advance(t, emit)
	if base < 0 || base >= len(e.byBase) {
		return
	}
	in := input{t: t, occ: e.lastOcc, host: ev.Host, id: ev.ID, ev: ev}
	for i := range e.byBase[base] {
		e.feed(&e.byBase[base][i], &in)
	}
	e.drain(emit)
}

// Advance tells the engine that time has reached t without a matching event: windows that closed
// before t are judged and expired state is evicted. A zero t does nothing.
func (e *Engine) Advance(t time.Time, emit func(Firing)) {
	if t.IsZero() {
		return
	}
	e.advance(toNanos(t), emit)
	e.drain(emit)
}

// Flush ends the input: every open window is judged as closed, in the order of window ends (so
// a chained correlation receives its inner firings before its own windows close), with the
// window end as the firing's Time. All state is then dropped; stream time is kept, so the engine
// can take more input.
func (e *Engine) Flush(emit func(Firing)) {
	saved := e.now
	for len(e.heap) > 0 {
		g := e.heap[0]
		e.now = max(e.now, g.deadline)
		e.due(g)
		e.drain(emit)
	}
	for _, sp := range e.specs {
		for sp.lruHead != nil { // groups never pushed (none expected)
			e.remove(sp.lruHead)
		}
	}
	e.now = saved
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.Groups = e.groups
	return s
}
