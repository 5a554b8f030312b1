package correlate

import (
	"slices"
	"sort"
)

// entry is one input as a group stores it.
type entry struct {
	t    int64
	seq  uint64 // arrival order: breaks ties between equal times
	occ  uint64 // occurrence: the same event matched by several rules shares it
	pos  int    // Rules position
	host string
	id   string   // base event id
	ids  []string // non-nil for an inner firing: its evidence
	num  float64  // value_sum / value_avg / value_median
	key  string   // value_percentile: the value tuple
}

// before orders entries by time, then arrival.
func before(a, b *entry) bool { return a.t < b.t || a.t == b.t && a.seq < b.seq }

// state is the per-group aggregate of one correlation type.
type state interface {
	// add inserts an entry; it may be older than entries already held (late input). vkey is the
	// encoded value tuple for value_count and value_percentile.
	add(x *entry, vkey []byte)
	// measure returns the count and value to judge; last is the entry just added (nil when a
	// window closes). ok is false when there is nothing to judge.
	measure(last *entry) (count int, value float64, ok bool)
	// evidence appends the entries behind the measure, oldest first.
	evidence(dst []*entry, last *entry) []*entry
}

// expirer is implemented by the states of sliding windows (gt/gte conditions, and
// value_percentile).
type expirer interface {
	// expire drops what lies before cutoff.
	expire(cutoff int64)
}

// resetter is implemented by the states of sliding windows except value_percentile (whose
// window is the baseline the shares are taken against, kept across firings).
type resetter interface {
	// reset forgets everything, after a firing.
	reset()
}

// hoster is implemented by states that do not keep every entry, to report the shared host.
type hoster interface{ host() string }

type limits struct {
	maxEntries  int
	maxEvidence int
	truncated   *uint64
}

func newState(sp *spec, e *Engine) state {
	lim := limits{maxEntries: e.opts.MaxGroupEvents, maxEvidence: e.opts.MaxEvidence, truncated: &e.stats.Truncated}
	n := len(sp.src.Rules)
	switch sp.kind {
	case kValueCount:
		return &distinctAgg{lim: lim, m: map[string]*vrec{}}
	case kTemporal:
		return &temporalAgg{latest: make([]entry, n), has: make([]bool, n)}
	case kTemporalOrdered:
		o := &orderedAgg{lim: lim, ts: sp.ts, cur: make([]chain, n), bak: make([]chain, n), cutoff: minNanos, sliding: !sp.closing}
		for k := range n {
			o.cur[k].steps = make([]entry, 0, k+1)
			o.bak[k].steps = make([]entry, 0, k+1)
		}
		return o
	case kValuePercentile:
		return &shareAgg{lim: lim, m: map[string]*prec{}}
	}
	if sp.closing && sp.kind != kValueMedian {
		return &runningAgg{lim: lim, kind: sp.kind}
	}
	return &windowAgg{lim: lim, kind: sp.kind}
}

// deque holds entries sorted by (t, seq), oldest at the front.
type deque struct {
	buf  []entry
	head int
}

func (d *deque) len() int        { return len(d.buf) - d.head }
func (d *deque) at(i int) *entry { return &d.buf[d.head+i] }
func (d *deque) front() *entry   { return &d.buf[d.head] }
func (d *deque) items() []entry  { return d.buf[d.head:] }
func (d *deque) appendTo(dst []*entry) []*entry {
	for i := d.head; i < len(d.buf); i++ {
		dst = append(dst, &d.buf[i])
	}
	return dst
}

// insert adds x in order and reports whether it went before the newest entry (late).
func (d *deque) insert(x entry) bool {
	n := len(d.buf)
	if n == d.head || !before(&x, &d.buf[n-1]) {
		d.buf = append(d.buf, x)
		return false
	}
	live := d.buf[d.head:]
	i := sort.Search(len(live), func(i int) bool { return before(&x, &live[i]) })
	d.buf = slices.Insert(d.buf, d.head+i, x)
	return true
}

func (d *deque) popFront() entry {
	x := d.buf[d.head]
	d.buf[d.head] = entry{}
	d.head++
	switch {
	case d.head == len(d.buf):
		d.buf, d.head = d.buf[:0], 0
	case d.head >= 32 && 2*d.head >= len(d.buf):
		n := copy(d.buf, d.buf[d.head:])
		clear(d.buf[n:])
		d.buf, d.head = d.buf[:n], 0
	}
	return x
}

func (d *deque) clear() {
	if cap(d.buf) > 256 {
		d.buf = nil
	} else {
		clear(d.buf)
		d.buf = d.buf[:0]
	}
	d.head = 0
}

// windowAgg keeps every entry of the window: event_count, value_sum, value_avg and value_median
// with sliding windows, and value_median with closing windows.
type windowAgg struct {
	lim    limits
	kind   kind
	dq     deque
	sum    float64
	pops   int
	sorted []float64 // value_median
}

func (w *windowAgg) add(x *entry, _ []byte) {
	w.dq.insert(*x)
	w.sum += x.num
	if w.kind == kValueMedian {
		i, _ := slices.BinarySearch(w.sorted, x.num)
		w.sorted = slices.Insert(w.sorted, i, x.num)
	}
	if w.dq.len() > w.lim.maxEntries {
		w.pop()
		*w.lim.truncated++
	}
}

func (w *windowAgg) pop() {
	x := w.dq.popFront()
	w.sum -= x.num
	if w.kind == kValueMedian {
		i, _ := slices.BinarySearch(w.sorted, x.num)
		w.sorted = slices.Delete(w.sorted, i, i+1)
	}
	// Re-add from scratch now and then so rounding errors of the running sum cannot build up.
	if w.pops++; w.pops >= 1024 || w.dq.len() == 0 {
		w.pops, w.sum = 0, 0
		for i := range w.dq.items() {
			w.sum += w.dq.at(i).num
		}
	}
}

func (w *windowAgg) expire(cutoff int64) {
	for w.dq.len() > 0 && w.dq.front().t < cutoff {
		w.pop()
	}
}

func (w *windowAgg) measure(*entry) (int, float64, bool) {
	n := w.dq.len()
	if n == 0 {
		return 0, 0, false
	}
	switch w.kind {
	case kValueSum:
		return n, w.sum, true
	case kValueAvg:
		return n, w.sum / float64(n), true
	case kValueMedian:
		if n%2 == 1 {
			return n, w.sorted[n/2], true
		}
		return n, (w.sorted[n/2-1] + w.sorted[n/2]) / 2, true
	}
	return n, 0, true
}

func (w *windowAgg) evidence(dst []*entry, _ *entry) []*entry { return w.dq.appendTo(dst) }

func (w *windowAgg) reset() {
	w.dq.clear()
	w.sum, w.pops = 0, 0
	w.sorted = w.sorted[:0]
}

// runningAgg keeps a count and a sum, plus the newest MaxEvidence entries: event_count,
// value_sum and value_avg with closing windows (which are judged once, then dropped).
type runningAgg struct {
	lim   limits
	kind  kind
	n     int
	sum   float64
	ring  deque
	h     string
	mixed bool
}

func (r *runningAgg) add(x *entry, _ []byte) {
	if r.n == 0 {
		r.h = x.host
	} else if x.host != r.h {
		r.mixed = true
	}
	r.n++
	r.sum += x.num
	r.ring.insert(*x)
	if r.ring.len() > r.lim.maxEvidence {
		r.ring.popFront()
	}
}

func (r *runningAgg) measure(*entry) (int, float64, bool) {
	switch {
	case r.n == 0:
		return 0, 0, false
	case r.kind == kValueSum:
		return r.n, r.sum, true
	case r.kind == kValueAvg:
		return r.n, r.sum / float64(r.n), true
	}
	return r.n, 0, true
}

func (r *runningAgg) evidence(dst []*entry, _ *entry) []*entry { return r.ring.appendTo(dst) }

func (r *runningAgg) host() string {
	if r.mixed {
		return ""
	}
	return r.h
}

// distinctAgg keeps, per distinct value, its newest occurrence, in a list ordered by time:
// value_count.
type distinctAgg struct {
	lim        limits
	m          map[string]*vrec
	head, tail *vrec // oldest first
}

type vrec struct {
	e          entry
	key        string
	prev, next *vrec
}

func (d *distinctAgg) add(x *entry, vkey []byte) {
	r := d.m[string(vkey)]
	if r != nil {
		if !before(&r.e, x) {
			return // an older sighting of a value already held
		}
		d.unlink(r)
	} else {
		r = &vrec{key: string(vkey)}
		d.m[r.key] = r
	}
	r.e = *x
	// Insert in time order, searching from the newest end.
	at := d.tail
	for at != nil && before(&r.e, &at.e) {
		at = at.prev
	}
	r.prev = at
	if at == nil {
		r.next = d.head
		d.head = r
	} else {
		r.next = at.next
		at.next = r
	}
	if r.next != nil {
		r.next.prev = r
	} else {
		d.tail = r
	}
	if len(d.m) > d.lim.maxEntries {
		d.drop(d.head)
		*d.lim.truncated++
	}
}

func (d *distinctAgg) unlink(r *vrec) {
	if r.prev != nil {
		r.prev.next = r.next
	} else {
		d.head = r.next
	}
	if r.next != nil {
		r.next.prev = r.prev
	} else {
		d.tail = r.prev
	}
	r.prev, r.next = nil, nil
}

func (d *distinctAgg) drop(r *vrec) {
	d.unlink(r)
	delete(d.m, r.key)
}

func (d *distinctAgg) expire(cutoff int64) {
	for d.head != nil && d.head.e.t < cutoff {
		d.drop(d.head)
	}
}

func (d *distinctAgg) measure(*entry) (int, float64, bool) { return len(d.m), 0, len(d.m) > 0 }

func (d *distinctAgg) evidence(dst []*entry, _ *entry) []*entry {
	for r := d.head; r != nil; r = r.next {
		dst = append(dst, &r.e)
	}
	return dst
}

func (d *distinctAgg) reset() {
	clear(d.m)
	d.head, d.tail = nil, nil
}

// shareAgg keeps the window's entries and a count per value: value_percentile. It is never
// reset: the window is the baseline the shares are taken against.
type shareAgg struct {
	lim limits
	dq  deque
	m   map[string]*prec
}

type prec struct {
	n          int
	mutedUntil int64
	key        string
}

func (s *shareAgg) add(x *entry, vkey []byte) {
	r := s.m[string(vkey)]
	if r == nil {
		r = &prec{key: string(vkey), mutedUntil: minNanos}
		s.m[r.key] = r
	}
	x.key = r.key
	r.n++
	s.dq.insert(*x)
	if s.dq.len() > s.lim.maxEntries {
		s.pop()
		*s.lim.truncated++
	}
}

func (s *shareAgg) pop() {
	x := s.dq.popFront()
	if r := s.m[x.key]; r != nil {
		if r.n--; r.n <= 0 {
			delete(s.m, x.key)
		}
	}
}

func (s *shareAgg) expire(cutoff int64) {
	for s.dq.len() > 0 && s.dq.front().t < cutoff {
		s.pop()
	}
}

func (s *shareAgg) rec(last *entry) *prec { return s.m[last.key] }

func (s *shareAgg) measure(last *entry) (int, float64, bool) {
	n := s.dq.len()
	r := s.m[last.key]
	if n == 0 || r == nil {
		return 0, 0, false // the event itself fell out (truncated)
	}
	return n, 100 * float64(r.n) / float64(n), true
}

func (s *shareAgg) evidence(dst []*entry, last *entry) []*entry {
	for i := range s.dq.len() {
		if x := s.dq.at(i); x.key == last.key {
			dst = append(dst, x)
		}
	}
	return dst
}

// temporalAgg keeps the newest match of each rule position: temporal.
type temporalAgg struct {
	latest []entry
	has    []bool
}

func (t *temporalAgg) add(x *entry, _ []byte) {
	if !t.has[x.pos] || before(&t.latest[x.pos], x) {
		t.latest[x.pos] = *x
		t.has[x.pos] = true
	}
}

func (t *temporalAgg) expire(cutoff int64) {
	for i := range t.latest {
		if t.has[i] && t.latest[i].t < cutoff {
			t.has[i] = false
			t.latest[i] = entry{}
		}
	}
}

func (t *temporalAgg) measure(*entry) (int, float64, bool) {
	n := 0
	for _, h := range t.has {
		if h {
			n++
		}
	}
	return n, 0, n > 0
}

func (t *temporalAgg) evidence(dst []*entry, _ *entry) []*entry {
	start := len(dst)
	for i := range t.latest {
		if t.has[i] {
			dst = append(dst, &t.latest[i])
		}
	}
	part := dst[start:]
	sort.Slice(part, func(i, j int) bool { return before(part[i], part[j]) })
	return dst
}

func (t *temporalAgg) reset() {
	clear(t.latest)
	clear(t.has)
}

// orderedAgg finds rule matches in the listed order: temporal_ordered. cur[k] is the chain
// completing steps 0..k with the latest start (the one most likely to finish within the
// timespan); bak[k] is the best chain at step k that does not end with the occurrence cur[k] ends
// with, so an event matched by several rules can still extend a chain it is not part of. The
// window's entries are kept so that a late entry can be placed and the chains rebuilt.
type orderedAgg struct {
	lim      limits
	ts       int64
	dq       deque
	cur, bak []chain
	cutoff   int64 // sliding: chains starting before it are out of the window
	sliding  bool
}

type chain struct {
	ok    bool
	start int64
	steps []entry
}

func (c *chain) last() *entry { return &c.steps[len(c.steps)-1] }

func (o *orderedAgg) add(x *entry, _ []byte) {
	late := o.dq.insert(*x)
	if o.dq.len() > o.lim.maxEntries {
		o.dq.popFront()
		*o.lim.truncated++
	}
	if !late {
		o.step(x)
		return
	}
	for k := range o.cur {
		o.cur[k].ok, o.bak[k].ok = false, false
	}
	for i := range o.dq.len() {
		o.step(o.dq.at(i))
	}
}

// step lets x (at Rules position x.pos) extend the best chain of the step before.
func (o *orderedAgg) step(x *entry) {
	k := x.pos
	start := x.t
	var src *chain
	if k > 0 {
		src = &o.cur[k-1]
		if !src.ok || src.last().occ == x.occ {
			src = &o.bak[k-1]
			if !src.ok || src.last().occ == x.occ {
				return
			}
		}
		if x.t-src.start > o.ts || before(x, src.last()) {
			return
		}
		start = src.start
	}
	c := &o.cur[k]
	if c.ok && start < c.start {
		return
	}
	if c.ok && c.last().occ != x.occ {
		o.cur[k], o.bak[k] = o.bak[k], o.cur[k]
		c = &o.cur[k]
	}
	c.steps = c.steps[:0]
	if src != nil {
		c.steps = append(c.steps, src.steps...)
	}
	c.steps = append(c.steps, *x)
	c.ok, c.start = true, start
}

func (o *orderedAgg) expire(cutoff int64) {
	o.cutoff = cutoff
	for o.dq.len() > 0 && o.dq.front().t < cutoff {
		o.dq.popFront()
	}
}

// best returns the highest step whose chain lies in the window, or -1.
func (o *orderedAgg) best() int {
	for k := len(o.cur) - 1; k >= 0; k-- {
		if o.cur[k].ok && (!o.sliding || o.cur[k].start >= o.cutoff) {
			return k
		}
	}
	return -1
}

func (o *orderedAgg) measure(*entry) (int, float64, bool) {
	k := o.best()
	return k + 1, 0, k >= 0
}

func (o *orderedAgg) evidence(dst []*entry, _ *entry) []*entry {
	if k := o.best(); k >= 0 {
		for i := range o.cur[k].steps {
			dst = append(dst, &o.cur[k].steps[i])
		}
	}
	return dst
}

func (o *orderedAgg) reset() {
	o.dq.clear()
	for k := range o.cur {
		o.cur[k].ok, o.bak[k].ok = false, false
	}
}
