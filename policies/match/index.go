package match

import (
	"math/bits"
	"sync"

	"github.com/vigilhq/vigil/policies/sigma"
)

// IndexRule is what the index needs to know about one rule.
type IndexRule struct {
	Logsource sigma.Logsource
	Need      Need
}

// Index is the prefilter: per event logsource, the rules that apply, and per field an
// Aho-Corasick automaton over the rules' necessary literals. Candidates reports the rules worth
// evaluating for an event. It is safe for concurrent use (buckets are built once per distinct
// logsource and cached).
type Index struct {
	rules   []IndexRule
	mu      sync.RWMutex
	buckets map[lsKey]*bucket
}

type lsKey struct{ cat, prod, svc string }

// maxBuckets bounds the cache of per-logsource buckets (events with ever-new logsources get an
// uncached bucket instead of growing memory without bound).
const maxBuckets = 1024

type bucket struct {
	rules  []int    // rule indexes, ascending; bit i of a candidate set is rules[i]
	always []uint64 // unconstrained rules
	fields []fieldAuto
	kw     *fieldAuto
	mem    int
}

type fieldAuto struct {
	field    int
	ac       *acAutomaton
	patRules [][]int32 // pattern -> bucket-local rule positions
}

// NewIndex indexes rules; their position in the slice is the id Candidates reports.
func NewIndex(rules []IndexRule) *Index {
	return &Index{rules: rules, buckets: map[lsKey]*bucket{}}
}

// parentCategories maps an event category to the broader Sigma category that also covers it:
// registry_event is Sysmon events 12-14 together, which event sources report as registry_add,
// registry_delete, registry_set and registry_rename.
var parentCategories = map[string]string{
	"registry_add":    "registry_event",
	"registry_delete": "registry_event",
	"registry_set":    "registry_event",
	"registry_rename": "registry_event",
}

// Applies reports whether a rule logsource applies to an event logsource: every attribute the
// rule specifies equals the event's (a rule category registry_event also covers the events of
// registry_add, registry_delete, registry_set and registry_rename).
func Applies(rule sigma.Logsource, cat, prod, svc string) bool {
	return (rule.Category == "" || rule.Category == cat || rule.Category == parentCategories[cat] && cat != "") &&
		(rule.Product == "" || rule.Product == prod) &&
		(rule.Service == "" || rule.Service == svc)
}

func (ix *Index) bucket(cat, prod, svc string) *bucket {
	k := lsKey{cat, prod, svc}
	ix.mu.RLock()
	b := ix.buckets[k]
	ix.mu.RUnlock()
	if b != nil {
		return b
	}
	b = ix.build(cat, prod, svc)
	ix.mu.Lock()
	if old := ix.buckets[k]; old != nil {
		b = old
	} else if len(ix.buckets) < maxBuckets {
		ix.buckets[k] = b
	}
	ix.mu.Unlock()
	return b
}

func (ix *Index) build(cat, prod, svc string) *bucket {
	b := &bucket{}
	for i, r := range ix.rules {
		if Applies(r.Logsource, cat, prod, svc) {
			b.rules = append(b.rules, i)
		}
	}
	b.always = make([]uint64, (len(b.rules)+63)/64)
	type acc struct {
		pats  []string
		index map[string]int32
		rules [][]int32
	}
	byField := map[int]*acc{}
	var order []int
	for local, ri := range b.rules {
		need := ix.rules[ri].Need
		if !need.OK || len(need.Atoms) == 0 {
			b.always[local>>6] |= 1 << (local & 63)
			continue
		}
		for _, a := range need.Atoms {
			f := byField[a.Field]
			if f == nil {
				f = &acc{index: map[string]int32{}}
				byField[a.Field] = f
				order = append(order, a.Field)
			}
			p, ok := f.index[a.Lit]
			if !ok {
				p = int32(len(f.pats))
				f.index[a.Lit] = p
				f.pats = append(f.pats, a.Lit)
				f.rules = append(f.rules, nil)
			}
			if rs := f.rules[p]; len(rs) == 0 || rs[len(rs)-1] != int32(local) {
				f.rules[p] = append(rs, int32(local))
			}
		}
	}
	for _, field := range order {
		f := byField[field]
		fa := fieldAuto{field: field, ac: newAutomaton(f.pats), patRules: f.rules}
		b.mem += fa.ac.memory()
		if field < 0 {
			b.kw = &fa
		} else {
			b.fields = append(b.fields, fa)
		}
	}
	return b
}

// Candidates calls fn, in ascending order, with every rule that applies to the event's logsource
// and whose necessary condition holds (or that has none). c must have been Reset to the event.
func (ix *Index) Candidates(c *Ctx, fn func(rule int)) {
	ev := c.ev
	var b *bucket
	for i := range c.recent {
		r := &c.recent[i]
		if r.ix == ix && r.key.cat == ev.Category && r.key.prod == ev.Product && r.key.svc == ev.Service {
			b = r.b
			break
		}
	}
	if b == nil {
		b = ix.bucket(ev.Category, ev.Product, ev.Service)
		c.recent[c.nextRec] = recentBucket{ix: ix, key: lsKey{ev.Category, ev.Product, ev.Service}, b: b}
		c.nextRec = (c.nextRec + 1) % len(c.recent)
	}
	n := len(b.always)
	if cap(c.cands) < n {
		c.cands = make([]uint64, n)
	}
	words := c.cands[:n]
	copy(words, b.always)
	mark := func(rules []int32) {
		for _, r := range rules {
			words[r>>6] |= 1 << (r & 63)
		}
	}
	for i := range b.fields {
		fa := &b.fields[i]
		e := c.field(fa.field)
		if !e.present {
			continue
		}
		for j := range e.vals {
			v := &e.vals[j]
			if v.kind == vNull || v.kind == vOther {
				continue
			}
			fa.ac.scan(c.folded(v), func(p int32) { mark(fa.patRules[p]) })
		}
	}
	if fa := b.kw; fa != nil {
		vals := c.keywordValues()
		for j := range vals {
			fa.ac.scan(c.folded(&vals[j]), func(p int32) { mark(fa.patRules[p]) })
		}
	}
	for w, word := range words {
		for word != 0 {
			t := bits.TrailingZeros64(word)
			fn(b.rules[w*64+t])
			word &= word - 1
		}
	}
}

// BucketStats describes the bucket for one logsource (for benchmarks and diagnostics).
type BucketStats struct {
	Rules, Unconstrained, Fields, Patterns, MemoryBytes int
}

// Stats returns statistics of the bucket for an event logsource.
func (ix *Index) Stats(cat, prod, svc string) BucketStats {
	b := ix.bucket(cat, prod, svc)
	s := BucketStats{Rules: len(b.rules), Fields: len(b.fields), MemoryBytes: b.mem}
	for _, w := range b.always {
		s.Unconstrained += bits.OnesCount64(w)
	}
	for _, f := range b.fields {
		s.Patterns += f.ac.patterns
	}
	if b.kw != nil {
		s.Patterns += b.kw.ac.patterns
	}
	return s
}
