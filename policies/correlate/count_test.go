package correlate

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/event"
)

type tcase struct {
	name  string
	spec  Spec
	opts  Options
	steps []step
	want  []string
}

func runCases(t *testing.T, cases []tcase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := run(t, []Spec{tc.spec}, tc.opts, tc.steps...)
			checkFirings(t, got, tc.want)
		})
	}
}

func countSpec(ts time.Duration, cond Condition, groupBy ...string) Spec {
	return Spec{Type: EventCount, Rules: bases(0), GroupBy: groupBy, Timespan: ts, Condition: cond}
}

func TestEventCount(t *testing.T) {
	gte3 := countSpec(10*mn, ops("gte", 3), "User")
	runCases(t, []tcase{
		{name: "fires at the threshold event", spec: gte3, steps: []step{
			obs(0, 0, "a", "User", "bob"), obs(0, 1*mn, "b", "User", "bob"), obs(0, 2*mn, "c", "User", "bob"),
		}, want: []string{"0@2m0s n=3 g=User:bob ids=a,b,c"}},
		{name: "below threshold", spec: gte3, steps: []step{
			obs(0, 0, "a", "User", "bob"), obs(0, 1*mn, "b", "User", "bob"), flush(),
		}},
		{name: "gt means strictly more", spec: countSpec(10*mn, ops("gt", 2)), steps: []step{
			obs(0, 0, "a"), obs(0, sec, "b"), obs(0, 2*sec, "c"),
		}, want: []string{"0@2s n=3 ids=a,b,c"}},
		{name: "fractional threshold rounds up", spec: countSpec(10*mn, Condition{Ops: []Op{{"gte", 1.5}}}), steps: []step{
			obs(0, 0, "a"), obs(0, sec, "b"),
		}, want: []string{"0@1s n=2 ids=a,b"}},
		// Events at 9:08, 9:09 and 9:11 straddle what a fixed 10-minute bucket (9:00-9:10,
		// 9:10-9:20) would split; the sliding window sees all three.
		{name: "sliding window across a fixed bucket boundary", spec: gte3, steps: []step{
			obs(0, 8*mn, "a", "User", "bob"), obs(0, 9*mn, "b", "User", "bob"), obs(0, 11*mn, "c", "User", "bob"),
		}, want: []string{"0@11m0s n=3 g=User:bob ids=a,b,c"}},
		{name: "window boundary is inclusive", spec: gte3, steps: []step{
			obs(0, 0, "a", "User", "bob"), obs(0, 5*mn, "b", "User", "bob"), obs(0, 10*mn, "c", "User", "bob"),
		}, want: []string{"0@10m0s n=3 g=User:bob ids=a,b,c"}},
		{name: "one nanosecond past the boundary is out", spec: gte3, steps: []step{
			obs(0, 0, "a", "User", "bob"), obs(0, 5*mn, "b", "User", "bob"), obs(0, 10*mn+1, "c", "User", "bob"),
			obs(0, 10*mn+2, "d", "User", "bob"),
		}, want: []string{"0@10m0.000000002s n=3 g=User:bob ids=b,c,d"}},
		// After a firing the group is muted for one timespan: the rest of the burst (d..f) does
		// not fire again; the next firing needs three fresh events after the mute.
		{name: "re-firing is muted for a timespan", spec: gte3, steps: []step{
			obs(0, 0, "a", "User", "bob"), obs(0, sec, "b", "User", "bob"), obs(0, 2*sec, "c", "User", "bob"),
			obs(0, 3*sec, "d", "User", "bob"), obs(0, 4*sec, "e", "User", "bob"), obs(0, 5*sec, "f", "User", "bob"),
			obs(0, 10*mn+1*sec, "g", "User", "bob"), obs(0, 10*mn+2*sec, "h", "User", "bob"),
			obs(0, 10*mn+3*sec, "i", "User", "bob"), obs(0, 10*mn+4*sec, "j", "User", "bob"),
		}, want: []string{"0@2s n=3 g=User:bob ids=a,b,c", "0@10m4s n=3 g=User:bob ids=h,i,j"}},
		{name: "mute ends exactly one timespan after the firing", spec: countSpec(mn, ops("gte", 1)), steps: []step{
			obs(0, 0, "a"), obs(0, mn-1, "b"), obs(0, mn, "c"),
		}, want: []string{"0@0s n=1 ids=a", "0@1m0s n=1 ids=c"}},
		{name: "groups are separate and case-sensitive", spec: gte3, steps: []step{
			obs(0, 0, "a", "User", "bob"), obs(0, sec, "b", "User", "Bob"), obs(0, 2*sec, "c", "User", "bob"),
			obs(0, 3*sec, "d", "User", "alice"), obs(0, 4*sec, "e", "User", "bob"),
		}, want: []string{"0@4s n=3 g=User:bob ids=a,c,e"}},
		{name: "events lacking the group-by field are skipped", spec: gte3, steps: []step{
			obs(0, 0, "a", "User", "bob"), obs(0, sec, "b"), obs(0, 2*sec, "c", "User", nil),
			obs(0, 3*sec, "d", "User", "bob"), obs(0, 4*sec, "e", "User", "bob"),
		}, want: []string{"0@4s n=3 g=User:bob ids=a,d,e"}},
		{name: "empty string is a value", spec: gte3, steps: []step{
			obs(0, 0, "a", "User", ""), obs(0, sec, "b", "User", ""), obs(0, 2*sec, "c", "User", ""),
		}, want: []string{"0@2s n=3 g=User: ids=a,b,c"}},
		{name: "numbers group by their plain decimal form", spec: countSpec(mn, ops("gte", 4), "EventID"), steps: []step{
			obs(0, 0, "a", "EventID", 4625), obs(0, sec, "b", "EventID", "4625"),
			obs(0, 2*sec, "c", "EventID", json.Number("4625")), obs(0, 3*sec, "d", "EventID", 4625.0),
		}, want: []string{"0@3s n=4 g=EventID:4625 ids=a,b,c,d"}},
		{name: "several group-by fields form a tuple", spec: countSpec(mn, ops("gte", 2), "A", "B"), steps: []step{
			obs(0, 0, "a", "A", "x", "B", "yz"), obs(0, sec, "b", "A", "xy", "B", "z"),
			obs(0, 2*sec, "c", "A", "x", "B", "yz"), obs(0, 3*sec, "d", "A", "x"),
		}, want: []string{"0@2s n=2 g=A:x,B:yz ids=a,c"}},
		{name: "no group-by is one global group", spec: countSpec(mn, ops("gte", 2)), steps: []step{
			obs(0, 0, "a", "User", "x"), obs(0, sec, "b", "User", "y"),
		}, want: []string{"0@1s n=2 ids=a,b"}},
		{name: "dotted group-by reads nested maps", spec: countSpec(mn, ops("gte", 2), "dns.question.name"), steps: []step{
			obs(0, 0, "a", "dns", map[string]any{"question": map[string]any{"name": "x.example"}}),
			obs(0, sec, "b", "dns.question.name", "x.example"),
			obs(0, 2*sec, "c", "dns", map[string]any{"question.name": "y.example"}),
		}, want: []string{"0@1s n=2 g=dns.question.name:x.example ids=a,b"}},
		{name: "list values group by their JSON form", spec: countSpec(mn, ops("gte", 2), "Tags"), steps: []step{
			obs(0, 0, "a", "Tags", []any{"x", "y"}), obs(0, sec, "b", "Tags", []string{"x", "y"}),
		}, want: []string{`0@1s n=2 g=Tags:["x","y"] ids=a,b`}},
		{name: "one host is reported, mixed hosts are not", spec: countSpec(mn, ops("gte", 2), "User"), steps: []step{
			obs(0, 0, "a", "User", "u", "host", "h1"), obs(0, sec, "b", "User", "u", "host", "h1"),
			obs(0, 2*sec, "c", "User", "v", "host", "h1"), obs(0, 3*sec, "d", "User", "v", "host", "h2"),
		}, want: []string{"0@1s n=2 h=h1 g=User:u ids=a,b", "0@3s n=2 g=User:v ids=c,d"}},
		{name: "evidence keeps the newest MaxEvidence ids", spec: countSpec(mn, ops("gte", 5)), opts: Options{MaxEvidence: 3}, steps: []step{
			obs(0, 0, "a"), obs(0, sec, "b"), obs(0, 2*sec, "c"), obs(0, 3*sec, "d"), obs(0, 4*sec, "e"),
		}, want: []string{"0@4s n=5 ids=c,d,e"}},
		// A late event inside the window is inserted in order; one older than the window is
		// dropped.
		{name: "late event within the window counts", spec: countSpec(10*mn, ops("gte", 3)), steps: []step{
			obs(0, 5*mn, "a"), obs(0, 8*mn, "b"), obs(0, 6*mn, "late"),
		}, want: []string{"0@6m0s n=3 ids=a,late,b"}},
		{name: "late event older than the window is dropped", spec: countSpec(10*mn, ops("gte", 2)), steps: []step{
			obs(0, 20*mn, "a"), obs(0, 9*mn, "old"), flush(),
		}},
		{name: "zero time counts as the newest time seen", spec: countSpec(10*mn, ops("gte", 3)), steps: []step{
			obs(0, 5*mn, "a"), {kind: 'o', ev: evAt("z", time.Time{})}, obs(0, 5*mn, "b"),
		}, want: []string{"0@5m0s n=3 ids=a,z,b"}},
	})
}

func evAt(id string, tm time.Time) *event.Event {
	return &event.Event{ID: id, Time: tm, Fields: map[string]any{}}
}

func TestZeroTimeBeforeAnyEvent(t *testing.T) {
	e, err := New([]Spec{countSpec(10*mn, ops("gte", 2))}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []Firing
	e.Observe(0, evAt("z", time.Time{}), func(f Firing) { got = append(got, f) })
	e.Observe(0, evAt("y", time.Time{}), func(f Firing) { got = append(got, f) })
	if len(got) != 1 || got[0].Count != 2 || len(got[0].EventIDs) != 2 {
		t.Fatalf("firings %+v, want one with both events", got)
	}
	// A real time afterwards is far newer: the old state expires, nothing crashes.
	e.Observe(0, evAt("x", t0), func(f Firing) { got = append(got, f) })
	e.Advance(t0.Add(time.Hour), nil)
	if s := e.Stats(); s.Groups != 0 || len(got) != 1 {
		t.Errorf("after real times: %+v, %d firings", s, len(got))
	}
}
