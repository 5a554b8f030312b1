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
	full   []uint8  // per bucket-local rule: the bit mask of all its clauses
	fields []fieldAuto
	kw     *fieldAuto
	nums   []fieldNums
	mem    int
}

// fieldNums looks up a field's numeric values: number -> the clauses it satisfies.
type fieldNums struct {
	field   int
	clauses map[float64][]int32
}

type fieldAuto struct {
	field int
	ac    *acAutomaton
	// patClauses: pattern -> the clauses it satisfies, each local rule<<3 | clause.
	patClauses [][]int32
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
	b.full = make([]uint8, len(b.rules))
	type acc struct {
		pats    []string
		index   map[string]int32
		clauses [][]int32
	}
	byField := map[int]*acc{}
	var order []int
	nums := map[int]map[float64][]int32{}
	var numOrder []int
	for local, ri := range b.rules {
		need := ix.rules[ri].Need
		if !need.OK || len(need.Clauses) == 0 {
			b.always[local>>6] |= 1 << (local & 63)
			continue
		}
		b.full[local] = uint8(1<<len(need.Clauses) - 1)
		for ci, clause := range need.Clauses {
			posting := int32(local)<<3 | int32(ci)
			for _, a := range clause {
				if a.Numeric {
					m := nums[a.Field]
					if m == nil {
						m = map[float64][]int32{}
						nums[a.Field] = m
						numOrder = append(numOrder, a.Field)
					}
					if ps := m[a.Num]; len(ps) == 0 || ps[len(ps)-1] != posting {
						m[a.Num] = append(ps, posting)
					}
					continue
				}
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
					f.clauses = append(f.clauses, nil)
				}
				if ps := f.clauses[p]; len(ps) == 0 || ps[len(ps)-1] != posting {
					f.clauses[p] = append(ps, posting)
				}
			}
		}
	}
	for _, field := range numOrder {
		b.nums = append(b.nums, fieldNums{field: field, clauses: nums[field]})
		b.mem += 48 * len(nums[field])
	}
	for _, field := range order {
		f := byField[field]
		fa := fieldAuto{field: field, ac: newAutomaton(f.pats), patClauses: f.clauses}
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
	if cap(c.sat) < len(b.rules) {
		c.sat = make([]uint8, len(b.rules))
	}
	words, sat := c.cands[:n], c.sat[:len(b.rules)]
	copy(words, b.always)
	touched := c.touched[:0]
	// A rule is a candidate once every clause of its necessary condition has an atom present.
	mark := func(postings []int32) {
		for _, p := range postings {
			r := p >> 3
			if sat[r] == 0 {
				touched = append(touched, r)
			}
			sat[r] |= 1 << (p & 7)
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
			for _, p := range c.patternsIn(fa.ac, c.folded(v)) {
				mark(fa.patClauses[p])
			}
		}
	}
	for i := range b.nums {
		fn := &b.nums[i]
		e := c.field(fn.field)
		if !e.present {
			continue
		}
		for j := range e.vals {
			v := &e.vals[j]
			if v.kind != vNumber && v.kind != vString {
				continue
			}
			if f, ok := v.number(); ok {
				mark(fn.clauses[f])
			}
		}
	}
	if fa := b.kw; fa != nil {
		vals := c.keywordValues()
		for j := range vals {
			for _, p := range c.patternsIn(fa.ac, c.folded(&vals[j])) {
				mark(fa.patClauses[p])
			}
		}
	}
	for _, r := range touched {
		if sat[r] == b.full[r] {
			words[r>>6] |= 1 << (r & 63)
		}
		sat[r] = 0
	}
	c.touched = touched
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
