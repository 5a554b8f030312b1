package correlate

import (
	"encoding/binary"
	"math"
	"slices"
	"time"

	"github.com/vigilhq/vigil/internal/event"
)

type kind uint8

const (
	kEventCount kind = iota
	kValueCount
	kTemporal
	kTemporalOrdered
	kValueSum
	kValueAvg
	kValueMedian
	kValuePercentile
)

type opKind uint8

const (
	opGT opKind = iota
	opGTE
	opLT
	opLTE
	opEQ
	opNEQ
)

type cop struct {
	kind opKind
	v    float64
}

// spec is the runtime form of one Spec.
type spec struct {
	index   int
	kind    kind
	src     Spec
	ts      int64
	ops     []cop
	closing bool // judged when a window closes (lt, lte, eq, neq present), not as events arrive

	groupFields [][]string // per Rules position: the field read for each GroupBy name
	valueFields [][]string // per Rules position: the fields read for Condition.Fields

	groups           map[string]*group
	lruHead, lruTail *group // least recently updated first
}

func (sp *spec) temporalKind() bool { return sp.kind == kTemporal || sp.kind == kTemporalOrdered }

// countKind: the condition compares a count (Firing.Count) rather than a value.
func (sp *spec) countKind() bool { return sp.kind <= kTemporalOrdered }

// valueKind: the spec reads Condition.Fields.
func (sp *spec) valueKind() bool { return sp.kind == kValueCount || sp.kind >= kValueSum }

// need returns the smallest count satisfying every (gt/gte) operator.
func (sp *spec) need() int {
	n := 0.0
	for _, op := range sp.ops {
		switch op.kind {
		case opGT:
			n = max(n, math.Floor(op.v)+1)
		case opGTE:
			n = max(n, math.Ceil(op.v))
		}
	}
	return int(min(n, math.MaxInt32))
}

func (sp *spec) holds(x float64) bool {
	for _, op := range sp.ops {
		var ok bool
		switch op.kind {
		case opGT:
			ok = x > op.v
		case opGTE:
			ok = x >= op.v
		case opLT:
			ok = x < op.v
		case opLTE:
			ok = x <= op.v
		case opEQ:
			ok = x == op.v
		case opNEQ:
			ok = x != op.v
		}
		if !ok {
			return false
		}
	}
	return true
}

// group is the state of one group-by tuple of one spec.
type group struct {
	sp           *spec // nil once removed
	key          string
	gseq         uint64
	lprev, lnext *group
	hidx         int   // index in the engine's heap, -1 when not in it
	deadline     int64 // heap key: window end (closing) or the next expiry check (sliding)
	newest       int64 // newest entry time
	mutedUntil   int64 // sliding: inputs before this time are ignored (the group fired)
	start        int64 // closing: window start
	open         bool  // closing: a window is open
	st           state
}

// expiry is when a sliding group holds nothing of use any more: its entries are out of the
// window, and its mute can no longer apply to a late input (one within a timespan of stream
// time).
func (g *group) expiry() int64 { return max(satAdd(g.newest, g.sp.ts), satAdd(g.mutedUntil, g.sp.ts)) }

// input is one occurrence fed to a spec: a base event or an inner correlation's firing.
type input struct {
	t    int64
	occ  uint64
	host string
	id   string
	ids  []string
	ev   *event.Event      // base event
	grp  map[string]string // inner firing's group
}

// HostField is the group-by (and value) field name that stands for the event's host when the
// event has no field of that name, so `group-by: [host]` groups per endpoint and value_count over
// `host` counts distinct hosts.
const HostField = "host"

func (in *input) appendField(dst []byte, name string) ([]byte, bool) {
	if in.ev != nil {
		v, ok := lookup(in.ev.Fields, name)
		if !ok {
			if name == HostField && in.ev.Host != "" {
				if _, present := in.ev.Fields[name]; !present {
					return append(dst, in.ev.Host...), true
				}
			}
			return dst, false
		}
		return appendValue(dst, v)
	}
	v, ok := in.grp[name]
	return append(dst, v...), ok
}

func (in *input) number(name string) (float64, bool) {
	if in.ev != nil {
		v, ok := lookup(in.ev.Fields, name)
		if !ok {
			return 0, false
		}
		return toFloat(v)
	}
	v, ok := in.grp[name]
	if !ok {
		return 0, false
	}
	return toFloat(v)
}

// tuple encodes the values of fields as a length-prefixed tuple into dst.
func (e *Engine) tuple(dst []byte, fields []string, in *input) ([]byte, bool) {
	dst = dst[:0]
	for _, f := range fields {
		var ok bool
		e.scratch, ok = in.appendField(e.scratch[:0], f)
		if !ok {
			return dst, false
		}
		dst = binary.AppendUvarint(dst, uint64(len(e.scratch)))
		dst = append(dst, e.scratch...)
	}
	return dst, true
}

func decodeTuple(key string, n int) []string {
	out := make([]string, 0, n)
	for len(key) > 0 {
		l, w := binary.Uvarint([]byte(key[:min(len(key), binary.MaxVarintLen64)]))
		key = key[w:]
		out = append(out, key[:l])
		key = key[l:]
	}
	return out
}

// feed passes one input to one spec at the positions it occupies there.
func (e *Engine) feed(tg *target, in *input) {
	sp := tg.sp
	if in.t > e.now {
		e.now = in.t
	}
	if in.t < satSub(e.now, sp.ts) {
		e.stats.Late++
		return
	}
	for _, pos := range tg.positions {
		var ok bool
		if e.keyBuf, ok = e.tuple(e.keyBuf, sp.groupFields[pos], in); !ok {
			e.stats.Skipped++
			continue
		}
		var num float64
		switch sp.kind {
		case kValueCount, kValuePercentile:
			e.valBuf, ok = e.tuple(e.valBuf, sp.valueFields[pos], in)
		case kValueSum, kValueAvg, kValueMedian:
			num, ok = in.number(sp.valueFields[pos][0])
		}
		if !ok {
			e.stats.Skipped++
			continue
		}
		g := sp.groups[string(e.keyBuf)]
		if g != nil && sp.closing && g.open && in.t > satAdd(g.start, sp.ts) {
			// The window ended before this input (only when time jumped without Advance, as
			// in Flush): judge it first.
			e.close(g)
			g = nil
		}
		if g != nil {
			switch {
			case sp.closing && in.t < g.start:
				e.stats.Late++
				continue
			case !sp.closing && sp.kind != kValuePercentile && in.t < g.mutedUntil:
				e.stats.Muted++
				continue
			}
		} else {
			g = e.newGroup(sp)
		}
		e.seq++
		ent := entry{t: in.t, seq: e.seq, occ: in.occ, pos: pos, host: in.host, id: in.id, ids: in.ids, num: num}
		if sp.closing {
			if !g.open {
				g.open, g.start = true, in.t
				g.deadline = satAdd(in.t, sp.ts)
				e.heap.push(g)
			}
			g.st.add(&ent, e.valBuf)
			g.newest = max(g.newest, in.t)
			e.touch(g)
			continue
		}
		g.st.add(&ent, e.valBuf)
		g.newest = max(g.newest, in.t)
		// The window is the last timespan of stream time, [now-timespan, now]: for an input in
		// time order that is the timespan before it; a late input joins the current window.
		g.st.(expirer).expire(satSub(e.now, sp.ts))
		if g.hidx < 0 {
			g.deadline = g.expiry()
			e.heap.push(g)
		}
		e.touch(g)
		e.judge(g, &ent)
	}
}

// judge evaluates a sliding group after input last.
func (e *Engine) judge(g *group, last *entry) {
	sp := g.sp
	count, val, ok := g.st.measure(last)
	if !ok {
		return
	}
	x := val
	if sp.countKind() {
		x = float64(count)
	}
	if !sp.holds(x) {
		return
	}
	if sp.kind == kValuePercentile {
		r := g.st.(*shareAgg).rec(last)
		if last.t < r.mutedUntil {
			return
		}
		r.mutedUntil = satAdd(last.t, sp.ts)
		e.fire(g, last.t, count, val, g.st.evidence(e.evbuf[:0], last))
		return
	}
	e.fire(g, last.t, count, val, g.st.evidence(e.evbuf[:0], last))
	g.st.(resetter).reset()
	g.mutedUntil = satAdd(last.t, sp.ts)
}

// close judges a closing group's window (Time = window end) and drops the group.
func (e *Engine) close(g *group) {
	sp := g.sp
	if count, val, ok := g.st.measure(nil); ok {
		x := val
		if sp.countKind() {
			x = float64(count)
		}
		if sp.holds(x) {
			e.fire(g, satAdd(g.start, sp.ts), count, val, g.st.evidence(e.evbuf[:0], nil))
		}
	}
	e.remove(g)
	e.stats.Evicted++
}

// due handles a group whose heap deadline has passed.
func (e *Engine) due(g *group) {
	if g.sp.closing {
		e.close(g)
		return
	}
	if exp := g.expiry(); exp > g.deadline {
		g.deadline = exp
		e.heap.fix(g.hidx)
		return
	}
	e.remove(g)
	e.stats.Evicted++
}

// advance moves stream time to t, judging closed windows and evicting expired groups in
// deadline order; firings are drained (and chained) as they happen.
func (e *Engine) advance(t int64, emit func(Firing)) {
	if t <= e.now {
		return
	}
	for len(e.heap) > 0 && e.heap[0].deadline < t {
		g := e.heap[0]
		e.now = max(e.now, g.deadline)
		e.due(g)
		e.drain(emit)
	}
	e.now = t
}

// fire queues a firing of g's spec.
func (e *Engine) fire(g *group, t int64, count int, val float64, ents []*entry) {
	sp := g.sp
	f := Firing{Spec: sp.index, Time: time.Unix(0, t).UTC(), Count: count, Value: val}
	if h, ok := g.st.(hoster); ok {
		f.Host = h.host()
	} else if len(ents) > 0 {
		f.Host = ents[0].host
		for _, x := range ents[1:] {
			if x.host != f.Host {
				f.Host = ""
				break
			}
		}
	}
	if len(sp.src.GroupBy) > 0 {
		vals := decodeTuple(g.key, len(sp.src.GroupBy))
		f.Group = make(map[string]string, len(vals))
		for i, name := range sp.src.GroupBy {
			f.Group[name] = vals[i]
		}
	}
	f.EventIDs = e.evidenceIDs(ents)
	clear(ents)
	e.evbuf = ents[:0]
	e.queue = append(e.queue, pendingFiring{f: f, t: t})
}

// evidenceIDs returns the distinct ids of ents (time-ordered), the newest MaxEvidence of them,
// oldest first. An event matched by several rules, or carried by several inner firings, is
// listed once.
func (e *Engine) evidenceIDs(ents []*entry) []string {
	var ids []string
	seen := map[string]bool{}
	add := func(id string) bool {
		if id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
		return len(ids) < e.opts.MaxEvidence
	}
newest:
	for j := len(ents) - 1; j >= 0; j-- {
		x := ents[j]
		if x.ids == nil {
			if !add(x.id) {
				break
			}
			continue
		}
		for k := len(x.ids) - 1; k >= 0; k-- {
			if !add(x.ids[k]) {
				break newest
			}
		}
	}
	slices.Reverse(ids)
	return ids
}

// drain emits queued firings and feeds each to the specs referencing its spec.
func (e *Engine) drain(emit func(Firing)) {
	for e.qhead < len(e.queue) {
		pf := e.queue[e.qhead]
		e.queue[e.qhead] = pendingFiring{}
		e.qhead++
		if emit != nil {
			emit(pf.f)
		}
		if len(e.byCorr[pf.f.Spec]) == 0 {
			continue
		}
		e.occ++
		in := input{t: pf.t, occ: e.occ, host: pf.f.Host, ids: pf.f.EventIDs, grp: pf.f.Group}
		if in.ids == nil {
			in.ids = []string{}
		}
		for i := range e.byCorr[pf.f.Spec] {
			e.feed(&e.byCorr[pf.f.Spec][i], &in)
		}
	}
	e.queue = e.queue[:0]
	e.qhead = 0
}

func (e *Engine) newGroup(sp *spec) *group {
	if len(sp.groups) >= e.opts.MaxGroups {
		e.remove(sp.lruHead)
		e.stats.CapEvictions++
	}
	e.gseq++
	g := &group{sp: sp, key: string(e.keyBuf), gseq: e.gseq, hidx: -1, newest: minNanos, mutedUntil: minNanos}
	g.st = newState(sp, e)
	sp.groups[g.key] = g
	g.lprev = sp.lruTail
	if sp.lruTail != nil {
		sp.lruTail.lnext = g
	} else {
		sp.lruHead = g
	}
	sp.lruTail = g
	e.groups++
	return g
}

// touch marks g most recently updated.
func (e *Engine) touch(g *group) {
	sp := g.sp
	if sp.lruTail == g {
		return
	}
	e.unlink(g)
	g.lprev = sp.lruTail
	sp.lruTail.lnext = g
	sp.lruTail = g
}

func (e *Engine) unlink(g *group) {
	sp := g.sp
	if g.lprev != nil {
		g.lprev.lnext = g.lnext
	} else {
		sp.lruHead = g.lnext
	}
	if g.lnext != nil {
		g.lnext.lprev = g.lprev
	} else {
		sp.lruTail = g.lprev
	}
	g.lprev, g.lnext = nil, nil
}

func (e *Engine) remove(g *group) {
	delete(g.sp.groups, g.key)
	e.unlink(g)
	if g.hidx >= 0 {
		e.heap.remove(g.hidx)
	}
	g.sp, g.st = nil, nil
	e.groups--
}

// groupHeap is a min-heap of groups by (deadline, gseq), each group knowing its index.
type groupHeap []*group

func (h groupHeap) less(i, j int) bool {
	if h[i].deadline != h[j].deadline {
		return h[i].deadline < h[j].deadline
	}
	return h[i].gseq < h[j].gseq
}

func (h groupHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx = i
	h[j].hidx = j
}

func (h *groupHeap) push(g *group) {
	g.hidx = len(*h)
	*h = append(*h, g)
	h.up(g.hidx)
}

func (h *groupHeap) remove(i int) {
	old := *h
	n := len(old) - 1
	if i != n {
		old.swap(i, n)
	}
	old[n].hidx = -1
	old[n] = nil
	*h = old[:n]
	if i != n {
		h.fix(i)
	}
}

func (h groupHeap) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h groupHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h groupHeap) down(i int) bool {
	start := i
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			break
		}
		h.swap(i, m)
		i = m
	}
	return i > start
}

// Times are int64 nanoseconds since the Unix epoch, clamped to about ±146 years around 1970 so
// that adding any timespan saturates instead of overflowing.
const (
	maxNanos = int64(1) << 62
	minNanos = -maxNanos
)

var (
	maxTime = time.Unix(0, maxNanos)
	minTime = time.Unix(0, minNanos)
)

func toNanos(t time.Time) int64 {
	switch {
	case t.After(maxTime):
		return maxNanos
	case t.Before(minTime):
		return minNanos
	}
	return t.UnixNano()
}

func satAdd(t, d int64) int64 {
	if t > maxNanos-d {
		return maxNanos
	}
	return t + d
}

func satSub(t, d int64) int64 {
	if t < minNanos+d {
		return minNanos
	}
	return t - d
}
