package match

// A compact Aho-Corasick automaton, compiled to a DFA over byte equivalence classes. It reports
// every occurrence of every pattern, overlapping ones included (a pattern that is a suffix of
// another is found through dictionary-suffix links), and scanning allocates nothing: outputs
// go to a callback with the pattern's index.
//
// Written here rather than taken from a library: the Go libraries at hand either allocate per
// match (returning match slices or match structs), or report only non-overlapping or leftmost
// matches, and the prefilter must never miss an occurrence nor allocate per event.

type acAutomaton struct {
	classes [256]uint8
	nclass  int
	// States near the root (depth < denseDepth) have a full transition row (dense[s] is the
	// row's offset into delta); deeper states, most of a big trie, keep only their children
	// (sparse, sorted by class) and a failure link. Scanning mostly stays near the root, so this
	// keeps the speed of a DFA at a fraction of its memory.
	dense    []int32 // per state: row offset in delta, or -1
	delta    []int32
	kids     []int32 // per state: offset into kidClass/kidNext
	kidsEnd  []int32
	kidClass []uint8
	kidNext  []int32
	fail     []int32
	out      []int32 // per state: index into outs of its own patterns
	outEnd   []int32
	dict     []int32 // per state: next state on the suffix chain with own outputs, -1 none
	outs     []int32 // pattern ids
	patterns int
}

// denseDepth: states shallower than this get a full transition row.
const denseDepth = 3

type acBuildNode struct {
	next  map[byte]int32
	own   []int32
	depth int
}

func newAutomaton(patterns []string) *acAutomaton {
	a := &acAutomaton{patterns: len(patterns)}
	// Byte classes: each byte used by some pattern gets its own class; the rest share class 0.
	var used [256]bool
	for _, p := range patterns {
		for i := 0; i < len(p); i++ {
			used[p[i]] = true
		}
	}
	count := 0
	for b := 0; b < 256; b++ {
		if used[b] {
			count++
		}
	}
	if count == 256 {
		a.nclass = 256
		for b := 0; b < 256; b++ {
			a.classes[b] = uint8(b)
		}
	} else {
		a.nclass = 1
		for b := 0; b < 256; b++ {
			if used[b] {
				a.classes[b] = uint8(a.nclass)
				a.nclass++
			}
		}
	}
	nodes := []acBuildNode{{next: map[byte]int32{}}}
	for id, p := range patterns {
		s := int32(0)
		for i := 0; i < len(p); i++ {
			c := a.classes[p[i]]
			nx, ok := nodes[s].next[c]
			if !ok {
				nx = int32(len(nodes))
				nodes = append(nodes, acBuildNode{next: map[byte]int32{}, depth: nodes[s].depth + 1})
				nodes[s].next[c] = nx
			}
			s = nx
		}
		nodes[s].own = append(nodes[s].own, int32(id))
	}
	n := len(nodes)
	nc := a.nclass
	a.dense = make([]int32, n)
	a.kids = make([]int32, n)
	a.kidsEnd = make([]int32, n)
	a.fail = make([]int32, n)
	a.dict = make([]int32, n)
	a.out = make([]int32, n)
	a.outEnd = make([]int32, n)
	for i := range nodes {
		a.out[i] = int32(len(a.outs))
		a.outs = append(a.outs, nodes[i].own...)
		a.outEnd[i] = int32(len(a.outs))
		a.dict[i] = -1
		a.dense[i] = -1
		if nodes[i].depth < denseDepth {
			a.dense[i] = int32(len(a.delta))
			a.delta = append(a.delta, make([]int32, nc)...)
		}
		a.kids[i] = int32(len(a.kidClass))
		for c := 0; c < nc; c++ {
			if nx, ok := nodes[i].next[byte(c)]; ok {
				a.kidClass = append(a.kidClass, uint8(c))
				a.kidNext = append(a.kidNext, nx)
			}
		}
		a.kidsEnd[i] = int32(len(a.kidClass))
	}
	// BFS from the root: failure links, dictionary links, dense rows.
	queue := make([]int32, 0, n)
	for c := 0; c < nc; c++ {
		if nx, ok := nodes[0].next[byte(c)]; ok {
			a.delta[c] = nx
			a.fail[nx] = 0
			queue = append(queue, nx)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		f := a.fail[s]
		if len(nodes[f].own) > 0 {
			a.dict[s] = f
		} else {
			a.dict[s] = a.dict[f]
		}
		for k := a.kids[s]; k < a.kidsEnd[s]; k++ {
			nx := a.kidNext[k]
			a.fail[nx] = a.step(f, a.kidClass[k])
			queue = append(queue, nx)
		}
		if row := a.dense[s]; row >= 0 {
			for c := 0; c < nc; c++ {
				if nx, ok := nodes[s].next[byte(c)]; ok {
					a.delta[int(row)+c] = nx
				} else {
					a.delta[int(row)+c] = a.step(f, uint8(c))
				}
			}
		}
	}
	return a
}

// step is the automaton's transition from state s on byte class c.
func (a *acAutomaton) step(s int32, c uint8) int32 {
	for {
		if row := a.dense[s]; row >= 0 {
			return a.delta[row+int32(c)]
		}
		for k := a.kids[s]; k < a.kidsEnd[s]; k++ {
			if a.kidClass[k] == c {
				return a.kidNext[k]
			}
		}
		s = a.fail[s]
	}
}

// scan calls fn for every pattern occurrence in s (a pattern occurring several times is
// reported several times).
func (a *acAutomaton) scan(s string, fn func(pattern int32)) {
	st := int32(0)
	for i := 0; i < len(s); i++ {
		st = a.step(st, a.classes[s[i]])
		for o := st; o > 0; o = a.dict[o] {
			for k := a.out[o]; k < a.outEnd[o]; k++ {
				fn(a.outs[k])
			}
		}
	}
}

// memory is the automaton's approximate size in bytes.
func (a *acAutomaton) memory() int {
	return 4*(len(a.dense)+len(a.delta)+len(a.kids)+len(a.kidsEnd)+len(a.kidNext)+len(a.fail)+
		len(a.out)+len(a.outEnd)+len(a.dict)+len(a.outs)) + len(a.kidClass)
}
