package match

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/vigilhq/vigil/internal/event"
)

// FieldTable interns the field names rules refer to, so per-event state is a slice indexed by
// field id rather than a map. It is safe for concurrent use.
type FieldTable struct {
	mu    sync.RWMutex
	ids   map[string]int
	names []string
}

// NewFieldTable returns an empty table.
func NewFieldTable() *FieldTable { return &FieldTable{ids: map[string]int{}} }

// ID returns the id of name, adding it when new.
func (ft *FieldTable) ID(name string) int {
	ft.mu.RLock()
	id, ok := ft.ids[name]
	ft.mu.RUnlock()
	if ok {
		return id
	}
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if id, ok := ft.ids[name]; ok {
		return id
	}
	id = len(ft.names)
	ft.ids[name] = id
	ft.names = append(ft.names, name)
	return id
}

// Len is the number of interned names.
func (ft *FieldTable) Len() int {
	ft.mu.RLock()
	defer ft.mu.RUnlock()
	return len(ft.names)
}

// Name returns the name of id.
func (ft *FieldTable) Name(id int) string {
	ft.mu.RLock()
	defer ft.mu.RUnlock()
	return ft.names[id]
}

type valKind uint8

const (
	vString valKind = iota
	vNumber
	vBool
	vNull
	vOther // a nested map or an unsupported type: no string comparison matches it
)

// scalar is one event value (a field's value, or one element of a list), with its text and lazily
// computed folded text and number.
type scalar struct {
	kind   valKind
	raw    string // string value, or the formatted number/bool
	fold   string
	folded bool
	numSt  int8 // 0 unknown, 1 numeric, -1 not numeric
	num    float64
	b      bool
}

// fieldEntry is a field's resolved value in the current event.
type fieldEntry struct {
	gen     uint32
	present bool
	list    bool
	vals    []scalar
}

// Ctx is the per-event evaluation state: the event, the fields resolved so far, and scratch
// memory reused from event to event. A Ctx is used by one goroutine at a time.
type Ctx struct {
	ev     *event.Event
	ft     *FieldTable
	gen    uint32
	fields []fieldEntry
	arena  []byte
	kwGen  uint32
	kwVals []scalar
	cands  []uint64
	// sat holds, per bucket-local rule, the prefilter clauses satisfied by the current event;
	// touched lists the rules with a bit set (reset after each event).
	sat     []uint8
	touched []int32
	// scans remembers, per automaton, the patterns found in recent field values: telemetry
	// repeats values (image paths, companies, users, hashes of the same binary) far more than it
	// varies them, and a map lookup costs less than a scan.
	scans     map[*acAutomaton]*scanCache
	scanBytes int
	scratch   []int32
	// names is a snapshot of ft's names, refreshed when an id is beyond it.
	names   []string
	recent  [8]recentBucket
	nextRec int
}

// recentBucket caches an index bucket per event logsource in the Ctx, so most events skip the
// index's shared, locked map.
type recentBucket struct {
	ix  *Index
	key lsKey
	b   *bucket
}

// NewCtx returns a context for events matched against rules compiled with ft.
func NewCtx(ft *FieldTable) *Ctx { return &Ctx{ft: ft} }

// Reset starts a new event.
func (c *Ctx) Reset(ev *event.Event) {
	c.ev = ev
	c.gen++
	if c.gen == 0 { // wrapped: clear stamps
		for i := range c.fields {
			c.fields[i].gen = 0
		}
		c.kwGen = 0
		c.gen = 1
	}
	c.arena = c.arena[:0]
}

// Event is the current event.
func (c *Ctx) Event() *event.Event { return c.ev }

// bytesString views b as a string without copying. The arena the bytes live in is only reused
// after Reset, when no view from the previous event is alive any more (views never escape a
// match), and it is never written in place while views exist: growing allocates a new chunk.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// reserve makes sure the arena has n spare bytes. A full arena is replaced, never reused in
// place, so strings viewing it stay valid until Reset.
func (c *Ctx) reserve(n int) {
	if cap(c.arena)-len(c.arena) < n {
		c.arena = make([]byte, 0, max(4096, 2*cap(c.arena), 2*n))
	}
}

// tail is an empty slice at the arena's end, for strconv.Append* and appendFold.
func (c *Ctx) tail() []byte { return c.arena[len(c.arena):len(c.arena)] }

// keep makes b, appended at the arena's end, part of the arena (adopting b's array when the
// append reallocated) and returns a string view of it.
func (c *Ctx) keep(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(c.arena) > len(c.arena) && &b[0] == &c.arena[:len(c.arena)+1][len(c.arena)] {
		c.arena = c.arena[:len(c.arena)+len(b)]
	} else {
		c.arena = b
	}
	return bytesString(b)
}

func (c *Ctx) foldString(s string) string {
	if !needsFold(s) {
		return s
	}
	// Simple folding grows a string by at most half (a 2-byte rune folding to a 3-byte one).
	c.reserve(2*len(s) + 4)
	return c.keep(appendFold(c.tail(), s))
}

func (c *Ctx) folded(v *scalar) string {
	if !v.folded {
		v.fold = c.foldString(v.raw)
		v.folded = true
	}
	return v.fold
}

func (c *Ctx) formatInt(i int64) string {
	c.reserve(24)
	return c.keep(strconv.AppendInt(c.tail(), i, 10))
}

func (c *Ctx) formatUint(u uint64) string {
	c.reserve(24)
	return c.keep(strconv.AppendUint(c.tail(), u, 10))
}

func (c *Ctx) formatFloat(f float64) string {
	c.reserve(32)
	return c.keep(strconv.AppendFloat(c.tail(), f, 'f', -1, 64))
}

const maxDepth = 16

// field resolves field id in the current event.
func (c *Ctx) field(id int) *fieldEntry {
	if id >= len(c.fields) {
		n := c.ft.Len()
		if n <= id {
			n = id + 1
		}
		nf := make([]fieldEntry, n)
		copy(nf, c.fields)
		c.fields = nf
	}
	e := &c.fields[id]
	if e.gen == c.gen {
		return e
	}
	e.gen = c.gen
	e.vals = e.vals[:0]
	e.list = false
	if id >= len(c.names) {
		c.ft.mu.RLock()
		c.names = append([]string(nil), c.ft.names...)
		c.ft.mu.RUnlock()
	}
	v, ok := lookupField(c.ev.Fields, c.names[id])
	e.present = ok
	if !ok {
		return e
	}
	switch v.(type) {
	case []any, []string, []int, []int64, []float64, []bool:
		e.list = true
	}
	e.vals = c.appendScalars(e.vals, v, 0)
	return e
}

// lookupField finds name as a flat key, then as a nested path of maps ("a.b.c").
func lookupField(fields map[string]any, name string) (any, bool) {
	if v, ok := fields[name]; ok {
		return v, true
	}
	if !strings.Contains(name, ".") {
		return nil, false
	}
	var cur any = fields
	for rest := name; ; {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		part, tail, more := strings.Cut(rest, ".")
		cur, ok = m[part]
		if !ok {
			return nil, false
		}
		if !more {
			return cur, true
		}
		rest = tail
	}
}

func (c *Ctx) appendScalars(dst []scalar, v any, depth int) []scalar {
	switch t := v.(type) {
	case string:
		return append(dst, scalar{kind: vString, raw: t})
	case nil:
		return append(dst, scalar{kind: vNull})
	case bool:
		s := "false"
		if t {
			s = "true"
		}
		return append(dst, scalar{kind: vBool, raw: s, b: t, fold: s, folded: true})
	case int:
		return append(dst, c.intScalar(int64(t)))
	case int8:
		return append(dst, c.intScalar(int64(t)))
	case int16:
		return append(dst, c.intScalar(int64(t)))
	case int32:
		return append(dst, c.intScalar(int64(t)))
	case int64:
		return append(dst, c.intScalar(t))
	case uint:
		return append(dst, c.uintScalar(uint64(t)))
	case uint8:
		return append(dst, c.uintScalar(uint64(t)))
	case uint16:
		return append(dst, c.uintScalar(uint64(t)))
	case uint32:
		return append(dst, c.uintScalar(uint64(t)))
	case uint64:
		return append(dst, c.uintScalar(t))
	case float32:
		return append(dst, c.floatScalar(float64(t)))
	case float64:
		return append(dst, c.floatScalar(t))
	case json.Number:
		s := scalar{kind: vNumber, raw: string(t), fold: Fold(string(t)), folded: true}
		if f, ok := parseNumber(string(t)); ok {
			s.num, s.numSt = f, 1
		} else {
			s.numSt = -1
		}
		return append(dst, s)
	case []string:
		for _, x := range t {
			dst = append(dst, scalar{kind: vString, raw: x})
		}
		return dst
	case []any:
		if depth >= maxDepth {
			return dst
		}
		for _, x := range t {
			switch x.(type) {
			case map[string]any:
				dst = append(dst, scalar{kind: vOther})
			default:
				dst = c.appendScalars(dst, x, depth+1)
			}
		}
		return dst
	case []int:
		for _, x := range t {
			dst = append(dst, c.intScalar(int64(x)))
		}
		return dst
	case []int64:
		for _, x := range t {
			dst = append(dst, c.intScalar(x))
		}
		return dst
	case []float64:
		for _, x := range t {
			dst = append(dst, c.floatScalar(x))
		}
		return dst
	case []bool:
		for _, x := range t {
			dst = c.appendScalars(dst, x, depth+1)
		}
		return dst
	case time.Time:
		s := t.UTC().Format(time.RFC3339Nano)
		return append(dst, scalar{kind: vString, raw: s})
	}
	return append(dst, scalar{kind: vOther})
}

func (c *Ctx) intScalar(i int64) scalar {
	s := c.formatInt(i)
	return scalar{kind: vNumber, raw: s, fold: s, folded: true, num: float64(i), numSt: 1}
}

func (c *Ctx) uintScalar(u uint64) scalar {
	s := c.formatUint(u)
	return scalar{kind: vNumber, raw: s, fold: s, folded: true, num: float64(u), numSt: 1}
}

func (c *Ctx) floatScalar(f float64) scalar {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		return scalar{kind: vNumber, raw: s, fold: Fold(s), folded: true, numSt: -1}
	}
	s := c.formatFloat(f)
	return scalar{kind: vNumber, raw: s, fold: s, folded: true, num: f, numSt: 1}
}

// number returns the value as a number: numbers, and strings holding a decimal or 0x-hex number.
func (v *scalar) number() (float64, bool) {
	if v.numSt == 0 {
		v.numSt = -1
		if v.kind == vString {
			if f, ok := parseNumber(v.raw); ok {
				v.num, v.numSt = f, 1
			}
		}
	}
	return v.num, v.numSt == 1
}

// parseNumber parses decimal integers and floats ("4624", "-1.5", "1e3") and hexadecimal
// integers with a 0x prefix ("0x378", as EVTX renders some ids). Infinities, NaN, underscores
// and surrounding whitespace are not numbers: a value is a string, and " 1 " is not the number 1.
func parseNumber(s string) (float64, bool) {
	if s == "" || len(s) > 64 {
		return 0, false
	}
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		u, err := strconv.ParseUint(s[2:], 16, 64)
		if err != nil || strings.ContainsAny(s[2:], "_+-") {
			return 0, false
		}
		return float64(u), true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// keywordValues returns every scalar value of the event: all fields, list elements and nested
// map values, recursively.
func (c *Ctx) keywordValues() []scalar {
	if c.kwGen == c.gen {
		return c.kwVals
	}
	c.kwGen = c.gen
	c.kwVals = c.kwVals[:0]
	c.kwVals = c.collect(c.kwVals, c.ev.Fields, 0)
	return c.kwVals
}

func (c *Ctx) collect(dst []scalar, v any, depth int) []scalar {
	if depth > maxDepth {
		return dst
	}
	switch t := v.(type) {
	case map[string]any:
		for _, x := range t {
			dst = c.collect(dst, x, depth+1)
		}
		return dst
	case []any:
		for _, x := range t {
			dst = c.collect(dst, x, depth+1)
		}
		return dst
	case nil:
		return dst
	}
	n := len(dst)
	dst = c.appendScalars(dst, v, depth)
	// Drop values no string comparison can match.
	out := dst[:n]
	for _, s := range dst[n:] {
		if s.kind != vOther && s.kind != vNull {
			out = append(out, s)
		}
	}
	return out
}

// scanCache maps field values to the patterns an automaton finds in them.
type scanCache struct {
	found map[string][]int32
}

// Bounds of the scan caches of one Ctx: values longer than maxCachedValue are always scanned;
// the caches are all cleared when they hold maxCachedBytes bytes of values and results.
const (
	maxCachedValue = 512
	maxCachedBytes = 2 << 20
)

// patternsIn returns the distinct patterns of a found in s, from the cache or by scanning. The
// result is valid until the next call.
func (c *Ctx) patternsIn(a *acAutomaton, s string) []int32 {
	if len(s) > maxCachedValue {
		c.scratch = c.scratch[:0]
		a.scan(s, func(p int32) { c.scratch = append(c.scratch, p) })
		return c.scratch
	}
	if c.scans == nil {
		c.scans = map[*acAutomaton]*scanCache{}
	}
	sc := c.scans[a]
	if sc == nil {
		sc = &scanCache{found: map[string][]int32{}}
		c.scans[a] = sc
	}
	if found, ok := sc.found[s]; ok {
		return found
	}
	var found []int32
	a.scan(s, func(p int32) {
		if !slices.Contains(found, p) {
			found = append(found, p)
		}
	})
	if c.scanBytes >= maxCachedBytes {
		for _, x := range c.scans {
			clear(x.found)
		}
		c.scanBytes = 0
	}
	sc.found[strings.Clone(s)] = found
	c.scanBytes += len(s) + 4*len(found) + 48
	return found
}
