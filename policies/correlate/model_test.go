package correlate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/event"
)

// A brute-force model of the documented semantics: it keeps every input of every group and
// recomputes each measure from scratch. Random streams (ties, late inputs, events matching
// several rules, missing fields, mutes, closing windows) must give the engine's firings.

type ment struct {
	t        int64
	seq, occ int
	pos      int
	id       string
	val      string
	num      float64
}

type mgroup struct {
	ents  []ment
	muted int64
	start int64 // closing
	gseq  int
}

type model struct {
	sp      Spec
	eng     *spec // for holds() and flags
	ts      int64
	now     int64
	seq     int
	gseq    int
	groups  map[string]*mgroup
	firings []string
}

func newModel(t *testing.T, sp Spec) *model {
	e, err := New([]Spec{sp}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &model{sp: sp, eng: e.specs[0], ts: int64(sp.Timespan), now: minNanos, groups: map[string]*mgroup{}}
}

func (m *model) positions(base int) []int {
	var ps []int
	for pos := len(m.sp.Rules) - 1; pos >= 0; pos-- {
		if m.sp.Rules[pos].Base == base {
			ps = append(ps, pos)
		}
	}
	if !m.eng.temporalKind() && len(ps) > 0 {
		ps = ps[len(ps)-1:] // first position only
	}
	return ps
}

func (m *model) measure(ents []ment, cutoff int64) (int, float64, bool) {
	var win []ment
	for _, x := range ents {
		if x.t >= cutoff {
			win = append(win, x)
		}
	}
	sort.Slice(win, func(i, j int) bool { return win[i].t < win[j].t || win[i].t == win[j].t && win[i].seq < win[j].seq })
	switch m.eng.kind {
	case kEventCount:
		return len(win), 0, len(win) > 0
	case kValueCount:
		set := map[string]bool{}
		for _, x := range win {
			set[x.val] = true
		}
		return len(set), 0, len(set) > 0
	case kTemporal:
		set := map[int]bool{}
		for _, x := range win {
			set[x.pos] = true
		}
		return len(set), 0, len(set) > 0
	case kTemporalOrdered:
		best := 0
		var ext func(i, k int, start int64, occ int)
		ext = func(i, k int, start int64, occ int) {
			best = max(best, k+1)
			for j := i + 1; j < len(win); j++ {
				if win[j].pos == k+1 && win[j].occ != occ && win[j].t-start <= m.ts {
					ext(j, k+1, start, win[j].occ)
				}
			}
		}
		for i, x := range win {
			if x.pos == 0 {
				ext(i, 0, x.t, x.occ)
			}
		}
		return best, 0, best > 0
	case kValueSum, kValueAvg:
		sum := 0.0
		for _, x := range win {
			sum += x.num
		}
		if m.eng.kind == kValueAvg && len(win) > 0 {
			sum /= float64(len(win))
		}
		return len(win), sum, len(win) > 0
	}
	panic("type not modelled")
}

func (m *model) judge(g *mgroup, key string, t int64, cutoff int64) bool {
	n, v, ok := m.measure(g.ents, cutoff)
	x := v
	if m.eng.countKind() {
		x = float64(n)
	}
	if !ok || !m.eng.holds(x) {
		return false
	}
	m.firings = append(m.firings, fmt.Sprintf("@%d g=%s n=%d v=%.6g", t, key, n, v))
	return true
}

func (m *model) advance(t int64) {
	if t <= m.now {
		return
	}
	if m.eng.closing {
		m.closeBefore(t)
	}
	m.now = t
}

func (m *model) closeBefore(t int64) {
	type due struct {
		key string
		g   *mgroup
	}
	var ds []due
	for k, g := range m.groups {
		if end := satAdd(g.start, m.ts); end < t {
			ds = append(ds, due{k, g})
		}
	}
	sort.Slice(ds, func(i, j int) bool {
		ei, ej := ds[i].g.start, ds[j].g.start
		return ei < ej || ei == ej && ds[i].g.gseq < ds[j].g.gseq
	})
	for _, d := range ds {
		m.judge(d.g, d.key, satAdd(d.g.start, m.ts), minNanos)
		delete(m.groups, d.key)
	}
}

func (m *model) observe(base int, ev *event.Event, occ int) {
	t := toNanos(ev.Time)
	m.advance(t)
	ps := m.positions(base)
	if len(ps) == 0 || t < satSub(m.now, m.ts) {
		return
	}
	for _, pos := range ps {
		key, ok := ev.Fields["G"].(string)
		if !ok {
			continue
		}
		x := ment{t: t, occ: occ, pos: pos, id: ev.ID}
		if m.eng.kind == kValueCount {
			if x.val, ok = ev.Fields["V"].(string); !ok {
				continue
			}
		}
		if n, ok := ev.Fields["N"].(int); ok {
			x.num = float64(n)
		} else if m.eng.kind == kValueSum || m.eng.kind == kValueAvg {
			continue
		}
		g := m.groups[key]
		if g == nil {
			m.gseq++
			g = &mgroup{muted: minNanos, start: t, gseq: m.gseq}
			m.groups[key] = g
		}
		if m.eng.closing && t < g.start || !m.eng.closing && t < g.muted {
			continue
		}
		m.seq++
		x.seq = m.seq
		g.ents = append(g.ents, x)
		if !m.eng.closing && m.judge(g, key, t, satSub(m.now, m.ts)) {
			g.ents = nil
			g.muted = satAdd(t, m.ts)
		}
	}
}

func (m *model) flush() {
	if m.eng.closing {
		m.closeBefore(maxNanos)
	}
	m.groups = map[string]*mgroup{}
}

// randomStream builds a spec and a stream from r.
func randomStream(r *rand.Rand) (Spec, []step) {
	types := []string{EventCount, ValueCount, Temporal, TemporalOrdered, ValueSum, ValueAvg}
	sp := Spec{Type: types[r.IntN(len(types))], GroupBy: []string{"G"}, Timespan: time.Duration(1+r.IntN(20)) * sec}
	nrules := 1 + r.IntN(3)
	for range nrules {
		sp.Rules = append(sp.Rules, BaseRef(r.IntN(3)))
	}
	closing := r.IntN(3) == 0
	thr := 1 + r.IntN(4)
	switch sp.Type {
	case Temporal, TemporalOrdered:
		thr = 1 + r.IntN(nrules)
		if r.IntN(2) == 0 && !closing {
			thr = 0 // default: all rules
		}
	case ValueSum:
		thr = 5 + r.IntN(20)
	case ValueAvg:
		thr = 2 + r.IntN(6)
	}
	if thr > 0 {
		kinds := []string{"gt", "gte"}
		if closing {
			kinds = []string{"lt", "lte", "eq", "neq"}
		}
		sp.Condition.Ops = []Op{{kinds[r.IntN(len(kinds))], float64(thr)}}
		if sp.Condition.Ops[0].Kind == "gt" && (sp.Type == Temporal || sp.Type == TemporalOrdered) {
			sp.Condition.Ops[0].Value-- // gt n-1: still reachable
		}
		if closing && r.IntN(3) == 0 {
			sp.Condition.Ops = append(sp.Condition.Ops, Op{"gte", float64(r.IntN(2))})
		}
	}
	switch sp.Type {
	case ValueCount:
		sp.Condition.Fields = []string{"V"}
	case ValueSum, ValueAvg:
		sp.Condition.Fields = []string{"N"}
	}
	var steps []step
	now := time.Duration(0)
	n := 10 + r.IntN(60)
	for i := range n {
		switch r.IntN(10) {
		case 0, 1, 2: // tie
		case 3:
			now -= time.Duration(r.IntN(25)) * sec / 2 // late (sometimes older than the window)
		default:
			now += time.Duration(r.IntN(8)) * sec / 2
		}
		if r.IntN(20) == 0 {
			steps = append(steps, adv(now+time.Duration(r.IntN(30))*sec))
			continue
		}
		kv := []any{}
		if r.IntN(12) != 0 {
			kv = append(kv, "G", []string{"g1", "g2"}[r.IntN(2)])
		}
		if r.IntN(12) != 0 {
			kv = append(kv, "V", []string{"a", "b", "c", "d"}[r.IntN(4)])
		}
		if r.IntN(12) != 0 {
			kv = append(kv, "N", r.IntN(10))
		}
		s := obs(r.IntN(3), now, fmt.Sprint("e", i), kv...)
		steps = append(steps, s)
		if r.IntN(4) == 0 { // the same event matches another rule too
			steps = append(steps, again((s.base+1+r.IntN(2))%3, s))
		}
	}
	if r.IntN(2) == 0 {
		steps = append(steps, flush())
	}
	return sp, steps
}

func compareWithModel(t *testing.T, sp Spec, steps []step) {
	t.Helper()
	e, err := New([]Spec{sp}, Options{})
	if err != nil {
		t.Fatalf("New(%+v): %v", sp, err)
	}
	m := newModel(t, sp)
	var got []string
	emit := func(f Firing) {
		key := f.Group["G"]
		got = append(got, fmt.Sprintf("@%d g=%s n=%d v=%.6g", f.Time.UnixNano(), key, f.Count, f.Value))
		if f.Count > 0 && len(f.EventIDs) == 0 {
			t.Errorf("firing without evidence: %+v", f)
		}
	}
	occ := 0
	var last *event.Event
	for _, s := range steps {
		switch s.kind {
		case 'o':
			if s.ev != last {
				occ++
				last = s.ev
			}
			e.Observe(s.base, s.ev, emit)
			m.observe(s.base, s.ev, occ)
		case 'a':
			e.Advance(at(s.at), emit)
			m.advance(toNanos(at(s.at)))
		case 'f':
			e.Flush(emit)
			m.flush()
		}
	}
	want := m.firings
	if !e.specs[0].closing {
		// Sliding firings happen in input order; closing ones only need the same set.
	} else {
		slices.Sort(got)
		slices.Sort(want)
	}
	if !slices.Equal(got, want) {
		var b strings.Builder
		for _, s := range steps {
			switch s.kind {
			case 'o':
				fmt.Fprintf(&b, "  obs base=%d t=%v id=%s %v\n", s.base, s.at, s.ev.ID, s.ev.Fields)
			case 'a':
				fmt.Fprintf(&b, "  advance %v\n", s.at)
			case 'f':
				fmt.Fprintf(&b, "  flush\n")
			}
		}
		t.Fatalf("spec %+v\nstream:\n%s got  %q\n want %q", sp, b.String(), got, want)
	}
}

func TestEngineMatchesModel(t *testing.T) {
	for seed := range uint64(3000) {
		r := rand.New(rand.NewPCG(seed, 7))
		sp, steps := randomStream(r)
		t.Run(fmt.Sprint(seed), func(t *testing.T) { compareWithModel(t, sp, steps) })
		if t.Failed() {
			return
		}
	}
}

func FuzzEngineMatchesModel(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(42), uint64(0))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		sp, steps := randomStream(rand.New(rand.NewPCG(a, b)))
		compareWithModel(t, sp, steps)
	})
}
