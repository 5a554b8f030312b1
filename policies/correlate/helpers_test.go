package correlate

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/event"
)

// t0 is an arbitrary origin; steps give times as offsets from it.
var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// step is one call on the engine: an Observe (base >= 0), an Advance or a Flush.
type step struct {
	kind byte // 'o' observe, 'a' advance, 'f' flush
	base int
	at   time.Duration
	ev   *event.Event
}

// obs observes base rule base matching a new event id at offset d with fields kv (name, value
// pairs; a "host" pair sets the event host).
func obs(base int, d time.Duration, id string, kv ...any) step {
	ev := &event.Event{ID: id, Time: at(d), Fields: map[string]any{}}
	for i := 0; i+1 < len(kv); i += 2 {
		name := kv[i].(string)
		if name == "host" {
			ev.Host = kv[i+1].(string)
			continue
		}
		ev.Fields[name] = kv[i+1]
	}
	return step{kind: 'o', base: base, at: d, ev: ev}
}

// again observes the event of a previous step matching another base rule (same occurrence).
func again(base int, prev step) step {
	prev.base = base
	return prev
}

func adv(d time.Duration) step { return step{kind: 'a', at: d} }

func flush() step { return step{kind: 'f'} }

// run feeds steps to a new engine over specs and returns the firings in the fmtFiring form.
func run(t *testing.T, specs []Spec, opts Options, steps ...step) ([]string, *Engine) {
	t.Helper()
	e, err := New(specs, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var got []string
	emit := func(f Firing) { got = append(got, fmtFiring(f)) }
	for _, s := range steps {
		switch s.kind {
		case 'o':
			e.Observe(s.base, s.ev, emit)
		case 'a':
			e.Advance(at(s.at), emit)
		case 'f':
			e.Flush(emit)
		}
	}
	return got, e
}

// fmtFiring renders a firing compactly: spec@offset n=count [v=value] [h=host] [g=k:v,...] ids=...
func fmtFiring(f Firing) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d@%v n=%d", f.Spec, f.Time.Sub(t0), f.Count)
	if f.Value != 0 {
		fmt.Fprintf(&b, " v=%.4g", f.Value)
	}
	if f.Host != "" {
		fmt.Fprintf(&b, " h=%s", f.Host)
	}
	if len(f.Group) > 0 {
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(f.Group)) {
			kv = append(kv, k+":"+f.Group[k])
		}
		fmt.Fprintf(&b, " g=%s", strings.Join(kv, ","))
	}
	fmt.Fprintf(&b, " ids=%s", strings.Join(f.EventIDs, ","))
	return b.String()
}

func ops(kv ...any) Condition {
	var c Condition
	for i := 0; i+1 < len(kv); i += 2 {
		c.Ops = append(c.Ops, Op{Kind: kv[i].(string), Value: float64(kv[i+1].(int))})
	}
	return c
}

func bases(ix ...int) []Ref {
	var r []Ref
	for _, i := range ix {
		r = append(r, BaseRef(i))
	}
	return r
}

func checkFirings(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("firings:\n got  %q\n want %q", got, want)
	}
}

const (
	sec = time.Second
	mn  = time.Minute
	hr  = time.Hour
)

func mustDur(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return d
}

func mustDurN(i int) time.Duration { return time.Duration(i) }
