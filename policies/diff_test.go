package policies

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/policies/match"
	"github.com/vigilhq/vigil/policies/sigma"
)

// synthValue makes a string that a Sigma value (with its modifiers) plausibly matches: wildcards
// filled in, contains/startswith/endswith padded.
func synthValue(rng *rand.Rand, it *sigma.Item, v sigma.Value) any {
	if v.Kind == sigma.Int && len(it.Modifiers) == 0 {
		if rng.IntN(2) == 0 {
			var n int
			if _, err := fmt.Sscan(v.Text, &n); err == nil {
				return n
			}
		}
		return v.Text
	}
	var b strings.Builder
	s := v.Text
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s) && strings.IndexByte(`*?\`, s[i+1]) >= 0:
			b.WriteByte(s[i+1])
			i++
		case c == '*':
			b.WriteString([]string{"", "x", "Some Thing ", `\dir\`}[rng.IntN(4)])
		case c == '?':
			b.WriteByte('q')
		default:
			b.WriteByte(c)
		}
	}
	out := b.String()
	if rng.IntN(3) == 0 {
		out = strings.ToUpper(out)
	}
	switch {
	case it.Has("contains"):
		out = "pre " + out + " post"
	case it.Has("startswith"):
		out += " tail"
	case it.Has("endswith"):
		out = `C:\head\` + out
	}
	return out
}

// synthEvents builds, per rule, events from its detection's values, so that many events match
// some rule (a random stream alone rarely does).
func synthEvents(rs *Ruleset, perRule int, seed uint64) []*event.Event {
	rng := rand.New(rand.NewPCG(seed, 7))
	var out []*event.Event
	for ri, r := range rs.rules {
		for k := 0; k < perRule; k++ {
			ls := r.ast.Logsource
			ev := &event.Event{ID: fmt.Sprintf("syn-%d-%d", ri, k), Category: ls.Category, Product: ls.Product, Service: ls.Service, Fields: map[string]any{}}
			for _, name := range r.ast.Detection.Order {
				s := r.ast.Detection.Searches[name]
				if rng.IntN(4) == 0 {
					continue // leave some identifiers unmatched (filters, negations)
				}
				alt := s.Any[rng.IntN(len(s.Any))]
				for _, it := range alt {
					if len(it.Values) == 0 {
						continue
					}
					v := it.Values[rng.IntN(len(it.Values))]
					if v.Kind == sigma.Null {
						continue
					}
					val := synthValue(rng, it, v)
					if it.Keyword {
						ev.Fields["Message"] = fmt.Sprintf("start %v end", val)
						continue
					}
					if old, ok := ev.Fields[it.Field]; ok && rng.IntN(2) == 0 {
						ev.Fields[it.Field] = []any{old, val} // a list field
						continue
					}
					ev.Fields[it.Field] = val
				}
			}
			out = append(out, ev)
		}
	}
	return out
}

// bruteForce evaluates every rule whose logsource applies, without the prefilter.
func bruteForce(rs *Ruleset, ctx *match.Ctx, ev *event.Event) []int {
	var out []int
	for i, r := range rs.rules {
		if match.Applies(r.ast.Logsource, ev.Category, ev.Product, ev.Service) && r.m.Match(ctx) {
			out = append(out, i)
		}
	}
	return out
}

func indexed(rs *Ruleset, ctx *match.Ctx) []int {
	var out []int
	rs.buildIndex().Candidates(ctx, func(i int) {
		if rs.rules[i].m.Match(ctx) {
			out = append(out, i)
		}
	})
	return out
}

// TestPrefilterDifferential proves the prefilter never loses a match: over the mixed stream and
// events synthesized from every rule, the indexed engine and a brute-force evaluation of every
// rule give identical results.
func TestPrefilterDifferential(t *testing.T) {
	rs := loadCorpus(t, true)
	prefilterDifferential(t, rs, append(streamEvents(4000, 2), synthEvents(rs, 3, 3)...))
}

// TestPrefilterDifferentialWholeCorpus is the same over all of sigmahq-full plus LOLRMM.
func TestPrefilterDifferentialWholeCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("brute force over 4,400 rules")
	}
	paths, opts := wholeCorpus(t)
	rs, _, err := LoadPaths(paths, opts)
	if err != nil {
		t.Fatal(err)
	}
	prefilterDifferential(t, rs, append(streamEvents(2000, 4), synthEvents(rs, 2, 5)...))
}

func prefilterDifferential(t *testing.T, rs *Ruleset, events []*event.Event) {
	ctx := match.NewCtx(rs.fields)
	matched, evaluated := 0, 0
	for _, ev := range events {
		ctx.Reset(ev)
		want := bruteForce(rs, ctx, ev)
		ctx.Reset(ev)
		got := indexed(rs, ctx)
		if !slices.Equal(got, want) {
			t.Fatalf("event %s (%s/%s/%s %v): indexed %v, brute force %v", ev.ID, ev.Category, ev.Product, ev.Service, ev.Fields, keys(rs, got), keys(rs, want))
		}
		if len(want) > 0 {
			matched++
		}
		evaluated++
	}
	t.Logf("%d events, %d matched at least one rule", evaluated, matched)
	if matched < len(rs.rules) {
		t.Errorf("only %d of %d events matched a rule: the synthesized events no longer exercise the rules", matched, evaluated)
	}
}

func keys(rs *Ruleset, idx []int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, rs.rules[i].key)
	}
	return out
}
