package match

import (
	"slices"
	"strings"
	"testing"
)

// naiveOccurrences counts every (overlapping) occurrence of each pattern.
func naiveOccurrences(patterns []string, s string) []int {
	out := make([]int, len(patterns))
	for i, p := range patterns {
		if p == "" {
			continue
		}
		for j := 0; j+len(p) <= len(s); j++ {
			if s[j:j+len(p)] == p {
				out[i]++
			}
		}
	}
	return out
}

func acOccurrences(a *acAutomaton, n int, s string) []int {
	out := make([]int, n)
	a.scan(s, func(p int32) { out[p]++ })
	return out
}

func TestAhoCorasickOverlapping(t *testing.T) {
	patterns := []string{"he", "she", "his", "hers", "e", "aaa", "aa", "a", "\\cmd.exe", "cmd", "md.e", "xyz"}
	a := newAutomaton(patterns)
	for _, s := range []string{"ushers", "aaaaa", `C:\Windows\cmd.exe /c cmd`, "", "hishershe", "zzz"} {
		if got, want := acOccurrences(a, len(patterns), s), naiveOccurrences(patterns, s); !slices.Equal(got, want) {
			t.Errorf("%q: got %v, want %v", s, got, want)
		}
	}
}

// FuzzAhoCorasick: the automaton reports exactly the occurrences a naive search finds.
func FuzzAhoCorasick(f *testing.F) {
	f.Add("he,she,his,hers", "ushers")
	f.Add("a,aa,aaa,b", "aaaabaaa")
	f.Add("abcd,bcd,cd,d,x", "abcdxabcd")
	f.Fuzz(func(t *testing.T, pats, s string) {
		patterns := strings.Split(pats, ",")
		if len(patterns) > 64 || len(s) > 4096 {
			return
		}
		var ps []string
		for _, p := range patterns {
			if p != "" {
				ps = append(ps, p)
			}
		}
		a := newAutomaton(ps)
		if got, want := acOccurrences(a, len(ps), s), naiveOccurrences(ps, s); !slices.Equal(got, want) {
			t.Fatalf("patterns %q on %q: got %v, want %v", ps, s, got, want)
		}
	})
}
