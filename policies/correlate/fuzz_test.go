package correlate

import (
	"math"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/event"
)

// FuzzSpecsAndEvents builds specs (valid or not) and events from arbitrary bytes: New must
// either refuse them with an error or run them without panicking, and state must stay within
// its bounds.
func FuzzSpecsAndEvents(f *testing.F) {
	f.Add([]byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"))
	f.Add([]byte("\x03\x02\x00\x01\x05\x10\x01\x00\x07\x07\x07\x07\xff\xfe\x80\x00\x01\x02"))
	f.Add([]byte("\x07\x01\x00\x00\x02\x03\x04\x05\x06\x07\x08\x09\x00\x00\x00\x00"))
	f.Fuzz(fuzzSpecsAndEvents)
}

func fuzzSpecsAndEvents(t *testing.T, data []byte) {
	r := byteReader{data: data}
	types := []string{EventCount, ValueCount, Temporal, TemporalOrdered, ValueSum, ValueAvg, ValueMedian, ValuePercentile, "bogus"}
	kinds := []string{"gt", "gte", "lt", "lte", "eq", "neq", "xx"}
	vals := []float64{0, 1, 2, 3, -1, 0.5, 1e300, math.NaN(), math.Inf(1)}
	nspecs := 1 + r.n(3)
	specs := make([]Spec, nspecs)
	for i := range specs {
		s := &specs[i]
		s.Type = types[r.n(len(types))]
		s.Timespan = time.Duration(r.n(5)-1) * time.Duration(1+r.n(3)*int(time.Second)) // may be <= 0
		if r.n(8) == 0 {
			s.Timespan = math.MaxInt64
		}
		for range 1 + r.n(3) {
			ref := Ref{Base: r.n(4) - 1, Corr: -1}
			if r.n(3) == 0 {
				ref = Ref{Base: -1, Corr: r.n(nspecs+1) - 1}
			}
			s.Rules = append(s.Rules, ref)
		}
		for range r.n(3) {
			s.Condition.Ops = append(s.Condition.Ops, Op{kinds[r.n(len(kinds))], vals[r.n(len(vals))]})
		}
		for range r.n(3) {
			s.Condition.Fields = append(s.Condition.Fields, []string{"A", "B", ""}[r.n(3)])
		}
		for range r.n(3) {
			s.GroupBy = append(s.GroupBy, []string{"A", "B", "al", ""}[r.n(4)])
		}
		if r.n(2) == 0 {
			fs := make([]string, len(s.Rules)+r.n(2))
			for k := range fs {
				fs[k] = []string{"A", "B", ""}[r.n(3)]
			}
			s.AliasFields = map[string][]string{"al": fs}
		}
	}
	opts := Options{MaxGroups: r.n(4), MaxEvidence: r.n(4), MaxGroupEvents: r.n(6)}
	e, err := New(specs, opts)
	if err != nil {
		return
	}
	now := t0
	for !r.done() {
		switch r.n(8) {
		case 0:
			now = now.Add(time.Duration(r.n(20)) * time.Second)
			e.Advance(now, nil)
			continue
		case 1:
			e.Flush(nil)
			continue
		case 2:
			now = now.Add(-time.Duration(r.n(20)) * time.Second)
		default:
			now = now.Add(time.Duration(r.n(4)) * time.Second)
		}
		ev := &event.Event{ID: []string{"", "x", "y"}[r.n(3)], Time: now, Host: []string{"", "h"}[r.n(2)], Fields: map[string]any{}}
		if r.n(6) == 0 {
			ev.Time = time.Time{}
		}
		for _, name := range []string{"A", "B"} {
			switch r.n(6) {
			case 0:
			case 1:
				ev.Fields[name] = nil
			case 2:
				ev.Fields[name] = r.n(3)
			case 3:
				ev.Fields[name] = []any{"x", r.n(2)}
			default:
				ev.Fields[name] = []string{"1", "2", "z", "NaN"}[r.n(4)]
			}
		}
		e.Observe(r.n(4)-1, ev, func(f Firing) {
			if len(f.EventIDs) > max(opts.MaxEvidence, 0) && opts.MaxEvidence > 0 || len(f.EventIDs) > DefaultMaxEvidence {
				t.Fatalf("firing with %d ids", len(f.EventIDs))
			}
		})
		if s := e.Stats(); s.Groups > len(specs)*max(opts.MaxGroups, 1) && opts.MaxGroups > 0 {
			t.Fatalf("groups %d above the cap", s.Groups)
		}
	}
	e.Flush(nil)
	if s := e.Stats(); s.Groups != 0 {
		t.Fatalf("groups after Flush: %d", s.Groups)
	}
}

type byteReader struct {
	data []byte
	i    int
}

func (r *byteReader) done() bool { return r.i >= len(r.data) }

// n returns a number in [0, k).
func (r *byteReader) n(k int) int {
	if r.i >= len(r.data) {
		return 0
	}
	b := r.data[r.i]
	r.i++
	return int(b) % k
}
