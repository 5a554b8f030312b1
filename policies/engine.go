package policies

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/policies/correlate"
	"github.com/vigilhq/vigil/policies/match"
)

// EngineOptions configure an Engine.
type EngineOptions struct {
	// MaxGroups caps each correlation's group state (default 10,000; the least recently
	// updated group is dropped beyond it).
	MaxGroups int
	// Logger receives diagnostics; optional.
	Logger hclog.Logger
}

// Engine evaluates a Ruleset over a stream of events. It is NOT safe for concurrent use: drive
// each Engine from one goroutine (several Engines may share one Ruleset). Events should arrive
// in time order per host; a zero Time is taken by correlations as the newest time seen (callers
// fill Time, e.g. with the arrival time).
type Engine struct {
	rs      *Ruleset
	ix      *match.Index
	ctx     *match.Ctx
	corr    *correlate.Engine
	log     hclog.Logger
	matched []int
	candFn  func(int)
	fireFn  func(correlate.Firing)
	emit    func(*Finding)
}

// NewEngine returns an engine over rs. Building the prefilter index happens once per Ruleset.
func NewEngine(rs *Ruleset, opts EngineOptions) (*Engine, error) {
	if rs == nil {
		return nil, errors.New("policies: NewEngine: nil ruleset")
	}
	e := &Engine{rs: rs, ix: rs.buildIndex(), ctx: match.NewCtx(rs.fields), log: opts.Logger}
	if e.log == nil {
		e.log = hclog.NewNullLogger()
	}
	if len(rs.specs) > 0 {
		c, err := correlate.New(rs.specs, correlate.Options{MaxGroups: opts.MaxGroups})
		if err != nil {
			return nil, fmt.Errorf("policies: correlations: %w", err)
		}
		e.corr = c
	}
	e.candFn = e.candidate
	e.fireFn = e.firing
	e.log.Debug("policy engine ready", "rules", len(rs.rules), "correlations", len(rs.specs), "filters", len(rs.filters))
	return e, nil
}

func (e *Engine) candidate(ri int) {
	r := e.rs.rules[ri]
	if !r.m.Match(e.ctx) {
		return
	}
	ev := e.ctx.Event()
	for _, f := range r.filters {
		if match.Applies(f.ls, ev.Category, ev.Product, ev.Service) && f.m.Match(e.ctx) {
			return
		}
	}
	e.matched = append(e.matched, ri)
}

// Process matches one event and passes each finding to emit: rule matches first (in load
// order), then the correlation firings the event caused.
func (e *Engine) Process(ev *event.Event, emit func(*Finding)) {
	if ev == nil {
		return
	}
	if ev.Fields == nil {
		ev = &event.Event{ID: ev.ID, Time: ev.Time, Host: ev.Host, Category: ev.Category, Product: ev.Product, Service: ev.Service, Fields: map[string]any{}}
	}
	e.ctx.Reset(ev)
	e.matched = e.matched[:0]
	e.ix.Candidates(e.ctx, e.candFn)
	e.emit = emit
	observed := false
	for _, ri := range e.matched {
		r := e.rs.rules[ri]
		if !r.silent && emit != nil {
			emit(e.ruleFinding(r, ev))
		}
		if e.corr != nil && e.rs.baseInCor[ri] {
			e.corr.Observe(ri, ev, e.fireFn)
			observed = true
		}
	}
	if e.corr != nil && !observed {
		e.corr.Advance(ev.Time, e.fireFn)
	}
	e.emit = nil
}

// Matches returns how many rules the last Process call matched, silent ones (those that only
// feed correlations) included. The agent keeps such events as evidence for the correlation
// findings they may lead to.
func (e *Engine) Matches() int { return len(e.matched) }

// Flush ends the input: correlation windows still open are judged (e.g. lt/lte conditions) and
// their findings emitted. The engine can take more input afterwards.
func (e *Engine) Flush(emit func(*Finding)) {
	if e.corr == nil {
		return
	}
	e.emit = emit
	e.corr.Flush(e.fireFn)
	e.emit = nil
}

// Advance tells the engine that time has reached t without an event (the agent calls it on a
// timer), so correlation windows that closed are judged and their findings emitted.
func (e *Engine) Advance(t time.Time, emit func(*Finding)) {
	if e.corr == nil {
		return
	}
	e.emit = emit
	e.corr.Advance(t, e.fireFn)
	e.emit = nil
}

// CorrelationStats returns the correlation engine's counters (zero without correlations).
func (e *Engine) CorrelationStats() correlate.Stats {
	if e.corr == nil {
		return correlate.Stats{}
	}
	return e.corr.Stats()
}

func (e *Engine) ruleFinding(r *ruleEntry, ev *event.Event) *Finding {
	m := &r.ast.Meta
	return &Finding{
		ID:       event.NewID(),
		RuleID:   r.key,
		RuleName: m.Name,
		Title:    m.Title,
		Level:    m.Level,
		Author:   m.Author,
		Tags:     append([]string{}, m.Tags...),
		Time:     ev.Time,
		Host:     ev.Host,
		EventIDs: []string{ev.ID},
	}
}

func (e *Engine) firing(f correlate.Firing) {
	if e.emit == nil || f.Spec < 0 || f.Spec >= len(e.rs.specCorr) {
		return
	}
	c := e.rs.corrs[e.rs.specCorr[f.Spec]]
	if c.silent {
		return
	}
	m := &c.ast.Meta
	fd := &Finding{
		ID:          event.NewID(),
		RuleID:      c.key,
		RuleName:    m.Name,
		Title:       m.Title,
		Level:       m.Level,
		Author:      m.Author,
		Tags:        append([]string{}, m.Tags...),
		Time:        f.Time,
		Host:        f.Host,
		EventIDs:    append([]string{}, f.EventIDs...),
		Count:       f.Count,
		Correlation: c.ast.Type,
	}
	if fd.Title == "" {
		fd.Title = c.key
	}
	if len(f.Group) > 0 {
		fd.Group = make(map[string]string, len(f.Group))
		for k, v := range f.Group {
			fd.Group[k] = v
		}
	}
	switch c.ast.Type {
	case "value_sum", "value_avg", "value_median", "value_percentile":
		v := f.Value
		fd.Value = &v
	}
	e.emit(fd)
}
