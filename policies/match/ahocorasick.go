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
	classes  [256]uint8
	nclass   int
	delta    []int32 // state*nclass + class -> state
	out      []int32 // per state: index into outs of its own patterns, -1 none
	outEnd   []int32
	dict     []int32 // per state: next state on the suffix chain with own outputs, -1 none
	outs     []int32 // pattern ids
	patterns int
}

type acBuildNode struct {
	next map[byte]int32
	own  []int32
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
				nodes = append(nodes, acBuildNode{next: map[byte]int32{}})
				nodes[s].next[c] = nx
			}
			s = nx
		}
		nodes[s].own = append(nodes[s].own, int32(id))
	}
	n := len(nodes)
	nc := a.nclass
	a.delta = make([]int32, n*nc)
	fail := make([]int32, n)
	a.dict = make([]int32, n)
	a.out = make([]int32, n)
	a.outEnd = make([]int32, n)
	for i := range nodes {
		a.out[i] = int32(len(a.outs))
		a.outs = append(a.outs, nodes[i].own...)
		a.outEnd[i] = int32(len(a.outs))
		a.dict[i] = -1
	}
	// BFS from the root.
	queue := make([]int32, 0, n)
	for c := 0; c < nc; c++ {
		if nx, ok := nodes[0].next[byte(c)]; ok {
			a.delta[c] = nx
			fail[nx] = 0
			queue = append(queue, nx)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		f := fail[s]
		if len(nodes[f].own) > 0 {
			a.dict[s] = f
		} else {
			a.dict[s] = a.dict[f]
		}
		row := int(s) * nc
		frow := int(f) * nc
		for c := 0; c < nc; c++ {
			if nx, ok := nodes[s].next[byte(c)]; ok {
				a.delta[row+c] = nx
				fail[nx] = a.delta[frow+c]
				queue = append(queue, nx)
			} else {
				a.delta[row+c] = a.delta[frow+c]
			}
		}
	}
	return a
}

// scan calls fn for every pattern occurrence in s (a pattern occurring several times is
// reported several times).
func (a *acAutomaton) scan(s string, fn func(pattern int32)) {
	st := int32(0)
	nc := int32(a.nclass)
	for i := 0; i < len(s); i++ {
		st = a.delta[st*nc+int32(a.classes[s[i]])]
		for o := st; o >= 0; o = a.dict[o] {
			for k := a.out[o]; k < a.outEnd[o]; k++ {
				fn(a.outs[k])
			}
			if o == 0 {
				break
			}
		}
	}
}

// memory is the automaton's approximate size in bytes.
func (a *acAutomaton) memory() int {
	return 4 * (len(a.delta) + len(a.out) + len(a.outEnd) + len(a.dict) + len(a.outs))
}
