package correlate

import "testing"

// Conditions with lt, lte, eq or neq are judged when the window closes: it opens at the group's
// first event and closes when stream time passes first+timespan (Observe of a later event of any
// group, Advance, or Flush). The firing's Time is the window end.
func TestClosingWindows(t *testing.T) {
	lt3 := countSpec(10*mn, ops("lt", 3), "User")
	runCases(t, []tcase{
		{name: "lt judged by Advance past the window end", spec: lt3, steps: []step{
			obs(0, 0, "a", "User", "bob"), obs(0, mn, "b", "User", "bob"),
			adv(10 * mn), // the end itself is still inside the window: nothing yet
			adv(10*mn + 1),
		}, want: []string{"0@10m0s n=2 g=User:bob ids=a,b"}},
		{name: "an event exactly at the window end still counts", spec: lt3, steps: []step{
			obs(0, 0, "a", "User", "bob"), obs(0, mn, "b", "User", "bob"), obs(0, 10*mn, "c", "User", "bob"),
			adv(hr),
		}},
		{name: "lt judged by Flush", spec: lt3, steps: []step{
			obs(0, 0, "a", "User", "bob"), flush(),
		}, want: []string{"0@10m0s n=1 g=User:bob ids=a"}},
		{name: "lt judged by a later event of another group", spec: lt3, steps: []step{
			obs(0, 0, "a", "User", "bob"), obs(0, 11*mn, "b", "User", "eve"),
		}, want: []string{"0@10m0s n=1 g=User:bob ids=a"}},
		{name: "a later event of the same group closes the window and opens the next", spec: lt3, steps: []step{
			obs(0, 0, "a", "User", "bob"), obs(0, 11*mn, "b", "User", "bob"), obs(0, 12*mn, "c", "User", "bob"),
			obs(0, 13*mn, "d", "User", "bob"), flush(),
		}, want: []string{"0@10m0s n=1 g=User:bob ids=a"}},
		{name: "lte", spec: countSpec(10*mn, ops("lte", 2)), steps: []step{
			obs(0, 0, "a"), obs(0, mn, "b"), adv(hr),
			obs(0, 2*hr, "c"), obs(0, 2*hr+mn, "d"), obs(0, 2*hr+2*mn, "e"), adv(3 * hr),
		}, want: []string{"0@10m0s n=2 ids=a,b"}},
		{name: "eq", spec: countSpec(10*mn, ops("eq", 2)), steps: []step{
			obs(0, 0, "a"), obs(0, mn, "b"), adv(hr),
			obs(0, 2*hr, "c"), adv(3 * hr),
		}, want: []string{"0@10m0s n=2 ids=a,b"}},
		{name: "neq", spec: countSpec(10*mn, ops("neq", 2)), steps: []step{
			obs(0, 0, "a"), obs(0, mn, "b"), adv(hr),
			obs(0, 2*hr, "c"), adv(3 * hr),
		}, want: []string{"0@2h10m0s n=1 ids=c"}},
		// {gt: 1, lte: 3} is a range (AND): it can only be judged at the window end.
		{name: "range judged at the window end", spec: countSpec(10*mn, ops("gt", 1, "lte", 3)), steps: []step{
			obs(0, 0, "a"), obs(0, mn, "b"), adv(hr),
			obs(0, 2*hr, "c"), obs(0, 2*hr+1, "d"), obs(0, 2*hr+2, "e"), obs(0, 2*hr+3, "f"), adv(3 * hr),
			obs(0, 4*hr, "g"), flush(),
		}, want: []string{"0@10m0s n=2 ids=a,b"}},
		{name: "closing evidence keeps the newest MaxEvidence ids and the shared host", spec: countSpec(10*mn, ops("lt", 10)),
			opts: Options{MaxEvidence: 2}, steps: []step{
				obs(0, 0, "a", "host", "h"), obs(0, 1, "b", "host", "h"), obs(0, 2, "c", "host", "h"), flush(),
			}, want: []string{"0@10m0s n=3 h=h ids=b,c"}},
		{name: "closing mixed hosts", spec: countSpec(10*mn, ops("lt", 10)), opts: Options{MaxEvidence: 1}, steps: []step{
			obs(0, 0, "a", "host", "h1"), obs(0, 1, "b", "host", "h2"), obs(0, 2, "c", "host", "h2"), flush(),
		}, want: []string{"0@10m0s n=3 ids=c"}},
		{name: "late event before the window start is dropped", spec: countSpec(10*mn, ops("lt", 10)), steps: []step{
			obs(0, 5*mn, "a"), obs(0, 4*mn, "late"), flush(),
		}, want: []string{"0@15m0s n=1 ids=a"}},
		{name: "late event inside the window counts", spec: countSpec(10*mn, ops("eq", 3)), steps: []step{
			obs(0, 0, "a"), obs(0, 5*mn, "b"), obs(0, 2*mn, "late"), flush(),
		}, want: []string{"0@10m0s n=3 ids=a,late,b"}},
	})
}
