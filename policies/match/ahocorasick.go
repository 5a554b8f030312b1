package match

import "slices"

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
	// States near the root (depth < denseDepth) have a full transition row in delta; deeper
	// states, most of a big trie, keep only their children (sparse, sorted by class) and a
	// failure link. Scanning mostly stays near the root, so this keeps the speed of a DFA at a
	// fraction of its memory (full rows for every state measured no faster on the SigmaHQ
	// corpus: scanning is bound by cache misses). The fields scanning reads for every byte sit
	// together in 16 bytes; what only reporting needs lives apart.
	states  []acState
	outputs []acOutput // per state
	// delta holds the full rows, as codes: a transition's target encoded so that scanning
	// among dense states never reads the states array (a cache miss per byte on a big
	// automaton). A code is row<<2 for a dense state, id<<2|2 for a sparse one, |1 when the
	// state reports patterns.
	delta    []int32
	code     []int32 // per state
	rowState []int32 // dense row number -> state
	start    int32   // the root's code
	kidClass []uint8
	kidNext  []int32 // a state's children are kidClass/kidNext[states[s].kids:states[s+1].kids]
	outs     []int32 // pattern ids
	patterns int
}

type acState struct {
	row  int32 // offset of the full transition row in delta, or -1
	kids int32
	fail int32
	// report is the first state on this state's suffix chain (itself included) with patterns
	// of its own, or -1.
	report int32
}

type acOutput struct {
	next        int32 // the next state with patterns on the suffix chain, or -1
	out, outEnd int32 // its own patterns: outs[out:outEnd]
}

// denseDepth: states shallower than this get a full transition row.
const denseDepth = 3

type acBuildNode struct {
	kids  []acKid // unsorted while building
	own   []int32
	depth int
}

type acKid struct {
	class uint8
	next  int32
}

func (n *acBuildNode) child(c uint8) (int32, bool) {
	for _, k := range n.kids {
		if k.class == c {
			return k.next, true
		}
	}
	return 0, false
}

func newAutomaton(patterns []string) *acAutomaton {
	a := &acAutomaton{patterns: len(patterns)}
	// Byte classes: each byte used by some pattern gets its own class; the rest share class 0.
	var used [256]bool
	total := 1
	for _, p := range patterns {
		total += len(p)
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
	// The trie. The root's children are found through a direct table, the rest by a short
	// linear search (deep nodes have one or two children).
	nodes := make([]acBuildNode, 1, total)
	var rootKids [256]int32
	for id, p := range patterns {
		s := int32(0)
		for i := 0; i < len(p); i++ {
			c := a.classes[p[i]]
			var nx int32
			var ok bool
			if s == 0 {
				nx = rootKids[c]
				ok = nx != 0
			} else {
				nx, ok = nodes[s].child(c)
			}
			if !ok {
				nx = int32(len(nodes))
				nodes = append(nodes, acBuildNode{depth: nodes[s].depth + 1})
				nodes[s].kids = append(nodes[s].kids, acKid{c, nx})
				if s == 0 {
					rootKids[c] = nx
				}
			}
			s = nx
		}
		nodes[s].own = append(nodes[s].own, int32(id))
	}
	n := len(nodes)
	nc := a.nclass
	a.states = make([]acState, n+1) // a sentinel closes the last state's children
	a.outputs = make([]acOutput, n)
	ndense := 0
	for i := range nodes {
		if nodes[i].depth < denseDepth {
			ndense++
		}
	}
	a.delta = make([]int32, 0, ndense*nc)
	a.kidClass = make([]uint8, 0, n-1)
	a.kidNext = make([]int32, 0, n-1)
	a.outs = make([]int32, 0, len(patterns))
	for i := range nodes {
		nd, st, o := &nodes[i], &a.states[i], &a.outputs[i]
		o.out = int32(len(a.outs))
		a.outs = append(a.outs, nd.own...)
		o.outEnd = int32(len(a.outs))
		st.report, o.next, st.row = -1, -1, -1
		if nd.depth < denseDepth {
			st.row = int32(len(a.delta))
			a.delta = a.delta[:len(a.delta)+nc]
		}
		slices.SortFunc(nd.kids, func(x, y acKid) int { return int(x.class) - int(y.class) })
		st.kids = int32(len(a.kidClass))
		for _, k := range nd.kids {
			a.kidClass = append(a.kidClass, k.class)
			a.kidNext = append(a.kidNext, k.next)
		}
	}
	a.states[n].kids = int32(len(a.kidClass))
	// BFS from the root: failure links, report chains, dense rows.
	queue := make([]int32, 0, n)
	for _, k := range nodes[0].kids {
		a.delta[k.class] = k.next
		queue = append(queue, k.next)
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		st := &a.states[s]
		f := st.fail
		// The failure state is shallower, so its report is final.
		chain := a.states[f].report
		if len(nodes[s].own) > 0 {
			st.report, a.outputs[s].next = s, chain
		} else {
			st.report = chain
		}
		for k := st.kids; k < a.states[s+1].kids; k++ {
			nx := a.kidNext[k]
			a.states[nx].fail = a.step(f, a.kidClass[k])
			queue = append(queue, nx)
		}
		if row := st.row; row >= 0 {
			// Rows are filled in BFS order, so the failure state's row is complete.
			for c := 0; c < nc; c++ {
				a.delta[int(row)+c] = a.step(f, uint8(c))
			}
			for k := st.kids; k < a.states[s+1].kids; k++ {
				a.delta[int(row)+int(a.kidClass[k])] = a.kidNext[k]
			}
		}
	}
	// Codes: rows were filled with state ids; scanning wants codes.
	a.code = make([]int32, n)
	a.rowState = make([]int32, ndense)
	for i := range a.states[:n] {
		st := &a.states[i]
		if st.row >= 0 {
			a.code[i] = st.row << 2
			a.rowState[int(st.row)/nc] = int32(i)
		} else {
			a.code[i] = int32(i)<<2 | 2
		}
		if st.report >= 0 {
			a.code[i] |= 1
		}
	}
	for i, t := range a.delta {
		a.delta[i] = a.code[t]
	}
	a.start = a.code[0]
	return a
}

// follow takes the transition from state s on byte class c: through a full row (the entry, a
// state id while building and a code after, with fromRow set), or to a child (its state id).
func (a *acAutomaton) follow(s int32, c uint8) (target int32, fromRow bool) {
	for {
		st := &a.states[s]
		if st.row >= 0 {
			return a.delta[st.row+int32(c)], true
		}
		for k, end := st.kids, a.states[s+1].kids; k < end; k++ {
			if a.kidClass[k] == c {
				return a.kidNext[k], false
			}
		}
		s = st.fail
	}
}

// step is the transition while building, when rows hold state ids.
func (a *acAutomaton) step(s int32, c uint8) int32 {
	t, _ := a.follow(s, c)
	return t
}

// scan calls fn for every pattern occurrence in s (a pattern occurring several times is
// reported several times).
func (a *acAutomaton) scan(s string, fn func(pattern int32)) {
	a.scanUntil(s, func(p int32, _ int) bool { fn(p); return false })
}

// scanUntil calls fn for the pattern occurrences in s, with the offset of each one's last
// byte, until fn returns true; it reports whether one did.
func (a *acAutomaton) scanUntil(s string, fn func(pattern int32, end int) bool) bool {
	v := a.start
	for i := 0; i < len(s); i++ {
		c := a.classes[s[i]]
		if v&2 == 0 {
			v = a.delta[v>>2+int32(c)]
		} else {
			v = a.sparseStep(v>>2, c)
		}
		if v&1 == 0 {
			continue
		}
		st := v >> 2
		if v&2 == 0 {
			st = a.rowState[int(st)/a.nclass]
		}
		for o := a.states[st].report; o > 0; o = a.outputs[o].next {
			x := &a.outputs[o]
			for k := x.out; k < x.outEnd; k++ {
				if fn(a.outs[k], i) {
					return true
				}
			}
		}
	}
	return false
}

// sparseStep is the transition from sparse state s on class c, as a code.
func (a *acAutomaton) sparseStep(s int32, c uint8) int32 {
	t, fromRow := a.follow(s, c)
	if fromRow {
		return t
	}
	return a.code[t]
}

// memory is the automaton's approximate size in bytes.
func (a *acAutomaton) memory() int {
	return 16*len(a.states) + 12*len(a.outputs) + 4*(len(a.delta)+len(a.code)+len(a.rowState)+len(a.kidNext)+len(a.outs)) + len(a.kidClass)
}
