package correlate

import (
	"fmt"
	"testing"
)

func valueSpec(typ string, cond Condition, fields []string, groupBy ...string) Spec {
	cond.Fields = fields
	return Spec{Type: typ, Rules: bases(0), GroupBy: groupBy, Timespan: 10 * mn, Condition: cond}
}

func TestValueCount(t *testing.T) {
	users3 := valueSpec(ValueCount, ops("gte", 3), []string{"User"}, "Computer")
	runCases(t, []tcase{
		{name: "distinct values reach the threshold", spec: users3, steps: []step{
			obs(0, 0, "a", "Computer", "c1", "User", "u1"), obs(0, sec, "b", "Computer", "c1", "User", "u2"),
			obs(0, 2*sec, "c", "Computer", "c1", "User", "u1"), obs(0, 3*sec, "d", "Computer", "c2", "User", "u3"),
			obs(0, 4*sec, "e", "Computer", "c1", "User", "u3"),
		}, // evidence: the newest event of each distinct value
			want: []string{"0@4s n=3 g=Computer:c1 ids=b,c,e"}},
		{name: "repeats of one value do not count", spec: users3, steps: []step{
			obs(0, 0, "a", "Computer", "c1", "User", "u1"), obs(0, sec, "b", "Computer", "c1", "User", "u1"),
			obs(0, 2*sec, "c", "Computer", "c1", "User", "u1"), flush(),
		}},
		{name: "values are case-sensitive", spec: users3, steps: []step{
			obs(0, 0, "a", "Computer", "c1", "User", "u1"), obs(0, sec, "b", "Computer", "c1", "User", "U1"),
			obs(0, 2*sec, "c", "Computer", "c1", "User", "u1 "),
		}, want: []string{"0@2s n=3 g=Computer:c1 ids=a,b,c"}},
		{name: "events lacking the field are skipped", spec: users3, steps: []step{
			obs(0, 0, "a", "Computer", "c1", "User", "u1"), obs(0, sec, "b", "Computer", "c1"),
			obs(0, 2*sec, "c", "Computer", "c1", "User", nil), obs(0, 3*sec, "d", "Computer", "c1", "User", "u2"),
			flush(),
		}},
		{name: "sliding: values leave the window", spec: users3, steps: []step{
			obs(0, 0, "a", "Computer", "c1", "User", "u1"), obs(0, 5*mn, "b", "Computer", "c1", "User", "u2"),
			obs(0, 11*mn, "c", "Computer", "c1", "User", "u3"), // u1 left the window
			obs(0, 12*mn, "d", "Computer", "c1", "User", "u4"),
		}, want: []string{"0@12m0s n=3 g=Computer:c1 ids=b,c,d"}},
		{name: "a repeat keeps a value in the window", spec: users3, steps: []step{
			obs(0, 0, "a", "Computer", "c1", "User", "u1"), obs(0, 5*mn, "b", "Computer", "c1", "User", "u2"),
			obs(0, 9*mn, "c", "Computer", "c1", "User", "u1"), obs(0, 11*mn, "d", "Computer", "c1", "User", "u3"),
		}, want: []string{"0@11m0s n=3 g=Computer:c1 ids=b,c,d"}},
		// Several fields: distinct tuples. (u1, d1) and (u1, d2) are two values.
		{name: "several fields count distinct tuples", spec: valueSpec(ValueCount, ops("gte", 3), []string{"User", "Domain"}), steps: []step{
			obs(0, 0, "a", "User", "u1", "Domain", "d1"), obs(0, sec, "b", "User", "u1", "Domain", "d2"),
			obs(0, 2*sec, "c", "User", "u1", "Domain", "d1"), obs(0, 3*sec, "d", "User", "u1"),
			obs(0, 4*sec, "e", "User", "u2", "Domain", "d1"),
		}, want: []string{"0@4s n=3 ids=b,c,e"}},
		{name: "lt judged at window close", spec: valueSpec(ValueCount, ops("lt", 2), []string{"User"}), steps: []step{
			obs(0, 0, "a", "User", "u1"), obs(0, sec, "b", "User", "u1"), adv(hr),
			obs(0, 2*hr, "c", "User", "u1"), obs(0, 2*hr+sec, "d", "User", "u2"), flush(),
		}, want: []string{"0@10m0s n=1 ids=b"}},
	})
}

func TestTemporal(t *testing.T) {
	recon := Spec{Type: Temporal, Rules: bases(0, 1, 2), GroupBy: []string{"ComputerName", "User"}, Timespan: 5 * mn}
	host := func(base int, d, id string) step {
		return obs(base, mustDur(d), id, "ComputerName", "pc", "User", "u")
	}
	runCases(t, []tcase{
		{name: "all rules in any order", spec: recon, steps: []step{
			host(2, "0s", "c"), host(0, "1m", "a"), host(0, "2m", "a2"), host(1, "3m", "b"),
		}, want: []string{"0@3m0s n=3 g=ComputerName:pc,User:u ids=c,a2,b"}},
		{name: "a rule outside the window", spec: recon, steps: []step{
			host(0, "0s", "a"), host(1, "3m", "b"), host(2, "5m1s", "c"), flush(),
		}},
		{name: "boundary inclusive", spec: recon, steps: []step{
			host(0, "0s", "a"), host(1, "3m", "b"), host(2, "5m", "c"),
		}, want: []string{"0@5m0s n=3 g=ComputerName:pc,User:u ids=a,b,c"}},
		{name: "a rule repeated is not enough", spec: recon, steps: []step{
			host(0, "0s", "a"), host(0, "1s", "b"), host(1, "2s", "c"), host(1, "3s", "d"), flush(),
		}},
		{name: "group-by tuple must match", spec: recon, steps: []step{
			host(0, "0s", "a"), host(1, "1s", "b"), obs(2, 2*sec, "c", "ComputerName", "pc", "User", "other"), flush(),
		}},
		{name: "condition on the number of rules", spec: func() Spec { s := recon; s.Condition = ops("gte", 2); return s }(), steps: []step{
			host(0, "0s", "a"), host(0, "1s", "b"), host(2, "2s", "c"),
		}, want: []string{"0@2s n=2 g=ComputerName:pc,User:u ids=b,c"}},
		{name: "lt: fewer than all rules, at window close", spec: func() Spec { s := recon; s.Condition = ops("lt", 3); return s }(), steps: []step{
			host(0, "0s", "a"), host(2, "2s", "c"), adv(hr),
			host(0, "2h", "a"), host(1, "2h1s", "b"), host(2, "2h2s", "c"), adv(3 * hr),
		}, want: []string{"0@5m0s n=2 g=ComputerName:pc,User:u ids=a,c"}},
		// One event matched by two of the rules satisfies both (temporal counts rules matched); it is
		// listed once in the evidence.
		{name: "one event matching two rules counts for both", spec: recon, steps: []step{
			host(0, "0s", "a"), again(1, host(1, "1s", "bc")), again(2, host(1, "1s", "bc")),
		}, want: []string{"0@1s n=3 g=ComputerName:pc,User:u ids=a,bc"}},
	})
}

// The spec's alias example (block 11): the same pair of IPs is read from different fields in
// each rule; ECS fields arrive nested.
func TestTemporalAliases(t *testing.T) {
	spec := Spec{Type: Temporal, Rules: bases(0, 1), GroupBy: []string{"internal_ip", "remote_ip"}, Timespan: 10 * sec,
		AliasFields: map[string][]string{
			"internal_ip": {"destination.ip", "source.ip"},
			"remote_ip":   {"source.ip", "destination.ip"},
		}}
	ecs := func(base int, d string, id, src, dst string) step {
		return obs(base, mustDur(d), id, "source", map[string]any{"ip": src}, "destination", map[string]any{"ip": dst})
	}
	runCases(t, []tcase{
		{name: "aliases line up swapped fields", spec: spec, steps: []step{
			ecs(0, "0s", "err", "203.0.113.9", "10.0.0.5"),  // internal_error: dst is internal
			ecs(1, "3s", "conn", "10.0.0.5", "203.0.113.9"), // new_network_connection: src is internal
		}, want: []string{"0@3s n=2 g=internal_ip:10.0.0.5,remote_ip:203.0.113.9 ids=err,conn"}},
		{name: "unswapped fields are another group", spec: spec, steps: []step{
			ecs(0, "0s", "err", "203.0.113.9", "10.0.0.5"), ecs(1, "3s", "conn", "203.0.113.9", "10.0.0.5"), flush(),
		}},
		// An alias not given for a rule reads the field named like the alias.
		{name: "alias missing for a rule falls back to the alias name", spec: Spec{Type: Temporal, Rules: bases(0, 1),
			GroupBy: []string{"user"}, Timespan: mn, AliasFields: map[string][]string{"user": {"SubjectUserName", ""}}},
			steps: []step{obs(0, 0, "a", "SubjectUserName", "bob"), obs(1, sec, "b", "user", "bob")},
			want:  []string{"0@1s n=2 g=user:bob ids=a,b"}},
	})
}

func TestTemporalOrdered(t *testing.T) {
	abc := Spec{Type: TemporalOrdered, Rules: bases(0, 1, 2), GroupBy: []string{"User"}, Timespan: 10 * mn}
	u := func(base int, d, id string) step { return obs(base, mustDur(d), id, "User", "u") }
	ab := Spec{Type: TemporalOrdered, Rules: bases(0, 1), Timespan: 10 * mn}
	runCases(t, []tcase{
		{name: "in order", spec: abc, steps: []step{u(0, "0s", "a"), u(1, "1m", "b"), u(2, "2m", "c")},
			want: []string{"0@2m0s n=3 g=User:u ids=a,b,c"}},
		{name: "out of order does not fire", spec: abc, steps: []step{u(1, "0s", "b"), u(0, "1m", "a"), u(2, "2m", "c"), flush()}},
		{name: "a later step can follow after the wrong order", spec: abc, steps: []step{
			u(1, "0s", "b0"), u(0, "1m", "a"), u(2, "2m", "c0"), u(1, "3m", "b"), u(2, "4m", "c"),
		}, want: []string{"0@4m0s n=3 g=User:u ids=a,b,c"}},
		// Of several possible starts, the latest that still completes within the timespan is
		// used.
		{name: "latest start is used", spec: abc, steps: []step{
			u(0, "0s", "a1"), u(0, "2m", "a2"), u(1, "3m", "b"), u(0, "4m", "a3"), u(2, "11m", "c"),
		}, want: []string{"0@11m0s n=3 g=User:u ids=a2,b,c"}},
		{name: "sequence longer than the timespan", spec: abc, steps: []step{
			u(0, "0s", "a"), u(1, "5m", "b"), u(2, "10m1s", "c"), flush(),
		}},
		{name: "sequence exactly the timespan", spec: abc, steps: []step{
			u(0, "0s", "a"), u(1, "5m", "b"), u(2, "10m", "c"),
		}, want: []string{"0@10m0s n=3 g=User:u ids=a,b,c"}},
		// Equal timestamps: the order of observation decides.
		{name: "tie observed in order fires", spec: ab, steps: []step{obs(0, sec, "a"), obs(1, sec, "b")},
			want: []string{"0@1s n=2 ids=a,b"}},
		{name: "tie observed in reverse does not", spec: ab, steps: []step{obs(1, sec, "b"), obs(0, sec, "a"), flush()}},
		// One event satisfies at most one step: an event matching both rules is not a sequence
		// by itself, whatever order the rules are reported in...
		{name: "one event matching both rules alone", spec: ab, steps: []step{
			obs(0, sec, "ab"), again(1, obs(0, sec, "ab")), flush(),
		}},
		{name: "one event matching both rules alone, reverse report order", spec: ab, steps: []step{
			obs(1, sec, "ab"), again(0, obs(1, sec, "ab")), flush(),
		}},
		// ...but it completes a sequence an earlier event started, in either report order.
		{name: "earlier start plus an event matching both", spec: ab, steps: []step{
			obs(0, 0, "a"), obs(0, sec, "ab"), again(1, obs(0, sec, "ab")),
		}, want: []string{"0@1s n=2 ids=a,ab"}},
		{name: "earlier start plus an event matching both, reverse report order", spec: ab, steps: []step{
			obs(0, 0, "a"), obs(1, sec, "ab"), again(0, obs(1, sec, "ab")),
		}, want: []string{"0@1s n=2 ids=a,ab"}},
		{name: "a rule listed twice needs two events", spec: Spec{Type: TemporalOrdered, Rules: bases(0, 0), Timespan: mn}, steps: []step{
			obs(0, 0, "a1"), obs(0, sec, "a2"),
		}, want: []string{"0@1s n=2 ids=a1,a2"}},
		{name: "a rule listed twice, one event", spec: Spec{Type: TemporalOrdered, Rules: bases(0, 0), Timespan: mn}, steps: []step{
			obs(0, 0, "a1"), flush(),
		}},
		// A late event is placed in time order and the sequences recomputed.
		{name: "late middle step completes the sequence", spec: abc, steps: []step{
			u(0, "1m", "a"), u(2, "3m", "c"), u(1, "2m", "b-late"),
		}, want: []string{"0@2m0s n=3 g=User:u ids=a,b-late,c"}},
		{name: "late step out of order does not", spec: abc, steps: []step{
			u(0, "1m", "a"), u(2, "3m", "c"), u(1, "4m", "b"), u(1, "30s", "b-late"), flush(),
		}},
		{name: "re-firing needs a fresh sequence after the mute", spec: ab, steps: []step{
			obs(0, 0, "a1"), obs(1, sec, "b1"), obs(1, 2*sec, "b2"), obs(0, 10*mn, "a-muted"),
			obs(0, 10*mn+sec, "a2"), obs(1, 10*mn+2*sec, "b3"),
		}, want: []string{"0@1s n=2 ids=a1,b1", "0@10m2s n=2 ids=a2,b3"}},
		{name: "condition on completed steps", spec: func() Spec { s := abc; s.Condition = ops("gte", 2); return s }(), steps: []step{
			u(1, "0s", "b0"), u(0, "1m", "a"), u(2, "2m", "c"), u(1, "3m", "b"),
		}, want: []string{"0@3m0s n=2 g=User:u ids=a,b"}},
		{name: "lt: a sequence that did not complete, at window close", spec: func() Spec { s := abc; s.Condition = ops("lt", 3); return s }(), steps: []step{
			u(0, "0s", "a"), u(1, "1m", "b"), flush(),
		}, want: []string{"0@10m0s n=2 g=User:u ids=a,b"}},
	})
}

func TestValueSumAvgMedian(t *testing.T) {
	sum := valueSpec(ValueSum, ops("gt", 1000), []string{"bytes_sent"}, "User")
	avg := valueSpec(ValueAvg, ops("gt", 500), []string{"BytesOut"})
	med := valueSpec(ValueMedian, ops("gte", 10), []string{"n"})
	runCases(t, []tcase{
		{name: "sum over the threshold", spec: sum, steps: []step{
			obs(0, 0, "a", "User", "u", "bytes_sent", 400), obs(0, sec, "b", "User", "u", "bytes_sent", "300"),
			obs(0, 2*sec, "c", "User", "u", "bytes_sent", 300.5),
		}, want: []string{"0@2s n=3 v=1000 g=User:u ids=a,b,c"}},
		{name: "non-numeric and absent values are skipped", spec: sum, steps: []step{
			obs(0, 0, "a", "User", "u", "bytes_sent", 600), obs(0, sec, "b", "User", "u", "bytes_sent", "lots"),
			obs(0, 2*sec, "c", "User", "u"), obs(0, 3*sec, "d", "User", "u", "bytes_sent", true),
			obs(0, 4*sec, "e", "User", "u", "bytes_sent", "NaN"), obs(0, 5*sec, "f", "User", "u", "bytes_sent", " 0x1F5 "),
		}, want: []string{"0@5s n=2 v=1101 g=User:u ids=a,f"}},
		{name: "sum slides", spec: sum, steps: []step{
			obs(0, 0, "a", "User", "u", "bytes_sent", 900), obs(0, 10*mn+1, "b", "User", "u", "bytes_sent", 900),
			obs(0, 11*mn, "c", "User", "u", "bytes_sent", 101),
		}, want: []string{"0@11m0s n=2 v=1001 g=User:u ids=b,c"}},
		{name: "sum lt at window close", spec: valueSpec(ValueSum, ops("lt", 100), []string{"x"}), steps: []step{
			obs(0, 0, "a", "x", 40), obs(0, sec, "b", "x", 50), flush(),
		}, want: []string{"0@10m0s n=2 v=90 ids=a,b"}},
		// value_avg fires as soon as the sliding average passes; the mute stops a storm while
		// the average stays high.
		{name: "avg fires once per timespan", spec: avg, steps: []step{
			obs(0, 0, "a", "BytesOut", 100), obs(0, sec, "b", "BytesOut", 1000), obs(0, 2*sec, "c", "BytesOut", 900),
			obs(0, 3*sec, "d", "BytesOut", 900),
		}, want: []string{"0@1s n=2 v=550 ids=a,b"}},
		{name: "avg lte at window close", spec: valueSpec(ValueAvg, ops("lte", 10), []string{"x"}), steps: []step{
			obs(0, 0, "a", "x", 5), obs(0, sec, "b", "x", 15), adv(hr), obs(0, 2*hr, "c", "x", 11), flush(),
		}, want: []string{"0@10m0s n=2 v=10 ids=a,b"}},
		{name: "median", spec: med, steps: []step{
			obs(0, 0, "a", "n", 1), obs(0, sec, "b", "n", 100), obs(0, 2*sec, "c", "n", 12),
		}, // medians: 1, 50.5 (fires)
			want: []string{"0@1s n=2 v=50.5 ids=a,b"}},
		{name: "median of odd count", spec: med, steps: []step{
			obs(0, 0, "a", "n", 1), obs(0, sec, "b", "n", 2), obs(0, 2*sec, "c", "n", 100), obs(0, 3*sec, "d", "n", 12),
			obs(0, 4*sec, "e", "n", 50),
		}, // medians: 1, 1.5, 2, 7, 12 (fires)
			want: []string{"0@4s n=5 v=12 ids=a,b,c,d,e"}},
		{name: "median eq at window close", spec: valueSpec(ValueMedian, ops("eq", 3), []string{"n"}), steps: []step{
			obs(0, 0, "a", "n", 1), obs(0, sec, "b", "n", 3), obs(0, 2*sec, "c", "n", 7), flush(),
		}, want: []string{"0@10m0s n=3 v=3 ids=a,b,c"}},
	})
}

// value_percentile: the share, in percent, of the group's events in the window whose value
// equals the arriving event's value (the event included), judged as each event arrives. The
// spec's example "lte: 1" on Image thus means "an image making up at most 1% of this computer's
// process starts in the last 24h": a rare process.
func TestValuePercentile(t *testing.T) {
	spec := Spec{Type: ValuePercentile, Rules: bases(0), GroupBy: []string{"ComputerName"}, Timespan: 24 * hr,
		Condition: Condition{Ops: []Op{{"lte", 1}}, Fields: []string{"Image"}}}
	var steps []step
	for i := range 150 {
		img := "/usr/bin/bash"
		if i%2 == 1 {
			img = "/usr/bin/ls"
		}
		steps = append(steps, obs(0, sec*mustDurN(i), fmt.Sprintf("e%d", i), "ComputerName", "pc", "Image", img))
	}
	steps = append(steps,
		obs(0, 200*sec, "rare1", "ComputerName", "pc", "Image", "/tmp/x"),  // 1/151: fires
		obs(0, 201*sec, "rare2", "ComputerName", "pc", "Image", "/tmp/x"),  // 2/152 > 1%
		obs(0, 202*sec, "other", "ComputerName", "pc2", "Image", "/tmp/x"), // own group: 100%
		obs(0, 203*sec, "rare3", "ComputerName", "pc", "Image", "/tmp/y"),  // 1/153: fires
	)
	want := []string{
		"0@3m20s n=151 v=0.6623 g=ComputerName:pc ids=rare1",
		"0@3m23s n=153 v=0.6536 g=ComputerName:pc ids=rare3",
	}
	got, _ := run(t, []Spec{spec}, Options{}, steps...)
	checkFirings(t, got, want)

	// The same rare value is muted for a timespan after it fired, per value.
	muted := append(steps[:len(steps):len(steps)],
		obs(0, 10*hr, "rare4", "ComputerName", "pc", "Image", "/tmp/y"), // 2/154 > 1% anyway
	)
	got, _ = run(t, []Spec{spec}, Options{}, muted...)
	checkFirings(t, got, want)

	gt := Spec{Type: ValuePercentile, Rules: bases(0), Timespan: hr,
		Condition: Condition{Ops: []Op{{"gt", 60}}, Fields: []string{"Image", "User"}}}
	got, _ = run(t, []Spec{gt}, Options{},
		obs(0, 0, "a", "Image", "x", "User", "u"), // 100%: fires
		obs(0, sec, "b", "Image", "x", "User", "v"),
		obs(0, 2*sec, "c", "Image", "x", "User", "u"), // 2/3 but muted (fired within the hour)
		obs(0, 3*sec, "d", "Image", "x", "User", "w"),
		obs(0, 4*sec, "e", "Image", "x"), // skipped: lacks User
	)
	checkFirings(t, got, []string{"0@0s n=1 v=100 ids=a"})
}
