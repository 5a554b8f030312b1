package correlate

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The spec's final example (block 12): multiple failed logins (event_count) followed by a
// successful login of the same user (temporal_ordered over the event_count and a base rule).
func TestChainingSpecExample(t *testing.T) {
	const failed, success = 0, 1
	specs := []Spec{
		{Type: TemporalOrdered, Rules: []Ref{CorrRef(1), BaseRef(success)}, GroupBy: []string{"User"}, Timespan: 10 * mn},
		{Type: EventCount, Rules: bases(failed), GroupBy: []string{"User"}, Timespan: 10 * mn, Condition: ops("gte", 10)},
	}
	login := func(base int, d time.Duration, id, user string) step {
		return obs(base, d, id, "User", user, "EventID", 4625-base, "host", "dc1")
	}
	var burst, innerIDs []string
	var steps []step
	for i := range 10 {
		id := fmt.Sprintf("f%d", i)
		steps = append(steps, login(failed, time.Duration(i)*10*sec, id, "bob"))
		burst = append(burst, id)
	}
	innerIDs = burst
	steps = append(steps,
		login(failed, 95*sec, "f-alice", "alice"),
		login(success, 3*mn, "ok-alice", "alice"), // alice had one failure only
		login(success, 4*mn, "ok-bob", "bob"),
		login(success, 5*mn, "ok-bob2", "bob"), // muted: the group fired at 4m
	)
	got, _ := run(t, specs, Options{}, steps...)
	checkFirings(t, got, []string{
		"1@1m30s n=10 h=dc1 g=User:bob ids=" + strings.Join(innerIDs, ","),
		"0@4m0s n=2 h=dc1 g=User:bob ids=" + strings.Join(burst, ",") + ",ok-bob",
	})

	// Success before the failures: the order is wrong.
	steps = []step{login(success, 0, "ok", "bob")}
	for i := range 10 {
		steps = append(steps, login(failed, sec*time.Duration(i+1), fmt.Sprintf("f%d", i), "bob"))
	}
	got, _ = run(t, specs, Options{}, append(steps, flush())...)
	if len(got) != 1 || !strings.HasPrefix(got[0], "1@") {
		t.Errorf("success before failures: firings %q, want only the inner event_count", got)
	}
}

// An inner correlation judged at window close feeds the outer at the window end.
func TestChainingClosingInner(t *testing.T) {
	specs := []Spec{
		{Type: EventCount, Rules: bases(0), GroupBy: []string{"User"}, Timespan: 10 * mn, Condition: ops("lt", 2)},
		{Type: EventCount, Rules: []Ref{CorrRef(0)}, Timespan: hr, Condition: ops("gte", 2)},
	}
	got, _ := run(t, specs, Options{},
		obs(0, 0, "a", "User", "u1", "host", "h1"), obs(0, mn, "b", "User", "u2", "host", "h2"),
		obs(0, 2*mn, "c", "User", "u3", "host", "h3"), obs(0, 3*mn, "d", "User", "u3", "host", "h3"),
		adv(hr),
	)
	checkFirings(t, got, []string{
		"0@10m0s n=1 h=h1 g=User:u1 ids=a",
		"0@11m0s n=1 h=h2 g=User:u2 ids=b",
		"1@11m0s n=2 ids=a,b",
	})
	// Flush judges the inner windows, and the outer sees them, in window-end order.
	got, _ = run(t, specs, Options{},
		obs(0, 0, "a", "User", "u1"), obs(0, mn, "b", "User", "u2"), flush(),
	)
	checkFirings(t, got, []string{"0@10m0s n=1 g=User:u1 ids=a", "0@11m0s n=1 g=User:u2 ids=b", "1@11m0s n=2 ids=a,b"})
}

// A chain thousands of correlations deep is handled with a queue, not recursion.
func TestDeepChain(t *testing.T) {
	const depth = 5000
	specs := make([]Spec, depth)
	for i := range specs {
		ref := BaseRef(0)
		if i > 0 {
			ref = CorrRef(i - 1)
		}
		specs[i] = Spec{Type: EventCount, Rules: []Ref{ref}, GroupBy: []string{"User"}, Timespan: mn, Condition: ops("gte", 1)}
	}
	e, err := New(specs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	e.Observe(0, evAt("x", t0), func(f Firing) {
		if f.Spec != n || f.Group["User"] != "" || len(f.EventIDs) != 1 || f.EventIDs[0] != "x" {
			t.Fatalf("firing %d: %+v", n, f)
		}
		n++
	})
	if n != 0 {
		t.Fatalf("event without User fired %d times", n)
	}
	ev := evAt("y", t0)
	ev.Fields["User"] = "u"
	e.Observe(0, ev, func(f Firing) {
		if f.Spec != n || f.Group["User"] != "u" || len(f.EventIDs) != 1 || f.EventIDs[0] != "y" {
			t.Fatalf("firing %d: %+v", n, f)
		}
		n++
	})
	if n != depth {
		t.Errorf("%d firings, want %d", n, depth)
	}
}

func TestEvictionAndCap(t *testing.T) {
	t.Run("groups are evicted after their window passes", func(t *testing.T) {
		e, err := New([]Spec{countSpec(10*mn, ops("gte", 100), "User")}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 1000 {
			ev := evAt(fmt.Sprint(i), t0.Add(time.Duration(i)*time.Millisecond))
			ev.Fields["User"] = fmt.Sprint("u", i)
			e.Observe(0, ev, nil)
		}
		if s := e.Stats(); s.Groups != 1000 {
			t.Fatalf("groups %d, want 1000", s.Groups)
		}
		e.Advance(t0.Add(10*mn+500*time.Millisecond), nil) // first ~half expired
		if s := e.Stats(); s.Groups != 500 || s.Evicted != 500 {
			t.Fatalf("after half the window: %+v", s)
		}
		// A later event evicts too (no Advance needed).
		ev := evAt("late", t0.Add(time.Hour))
		ev.Fields["User"] = "new"
		e.Observe(0, ev, nil)
		if s := e.Stats(); s.Groups != 1 || s.Evicted != 1000 {
			t.Fatalf("after an event past the window: %+v", s)
		}
	})
	t.Run("cap drops the least recently updated group", func(t *testing.T) {
		got, e := run(t, []Spec{countSpec(10*mn, ops("gte", 2), "User")}, Options{MaxGroups: 2},
			obs(0, 0, "a1", "User", "a"), obs(0, sec, "b1", "User", "b"), obs(0, 2*sec, "b2", "User", "b"),
			obs(0, 3*sec, "c1", "User", "c"), // drops a (least recently updated)
			obs(0, 4*sec, "a2", "User", "a"), // a starts over; drops b
			obs(0, 5*sec, "a3", "User", "a"),
		)
		checkFirings(t, got, []string{"0@2s n=2 g=User:b ids=b1,b2", "0@5s n=2 g=User:a ids=a2,a3"})
		if s := e.Stats(); s.CapEvictions != 2 || s.Groups != 2 {
			t.Errorf("stats %+v", s)
		}
	})
	t.Run("a capped closing window is dropped unjudged", func(t *testing.T) {
		got, e := run(t, []Spec{countSpec(10*mn, ops("lt", 5), "User")}, Options{MaxGroups: 1},
			obs(0, 0, "a1", "User", "a"), obs(0, sec, "b1", "User", "b"), flush())
		checkFirings(t, got, []string{"0@10m1s n=1 g=User:b ids=b1"})
		if s := e.Stats(); s.CapEvictions != 1 || s.Groups != 0 {
			t.Errorf("stats %+v", s)
		}
	})
	t.Run("per-group entries are bounded", func(t *testing.T) {
		got, e := run(t, []Spec{valueSpec(ValueSum, ops("gt", 1000000000), []string{"n"})}, Options{MaxGroupEvents: 3},
			obs(0, 0, "a", "n", 1), obs(0, 1, "b", "n", 1), obs(0, 2, "c", "n", 1), obs(0, 3, "d", "n", 1), flush())
		checkFirings(t, got, nil)
		if s := e.Stats(); s.Truncated != 1 {
			t.Errorf("stats %+v", s)
		}
	})
	t.Run("counters", func(t *testing.T) {
		_, e := run(t, []Spec{countSpec(mn, ops("gte", 1), "User")}, Options{},
			obs(0, hr, "a", "User", "u"), obs(0, hr+sec, "muted", "User", "u"), obs(0, hr+2*sec, "skip"),
			obs(0, 0, "late", "User", "u"))
		s := e.Stats()
		if s.Muted != 1 || s.Skipped != 1 || s.Late != 1 || s.Groups != 1 {
			t.Errorf("stats %+v", s)
		}
	})
}

func TestNewValidation(t *testing.T) {
	ok := Spec{Type: EventCount, Rules: bases(0), Timespan: mn, Condition: ops("gte", 1)}
	with := func(f func(*Spec)) []Spec { s := ok; f(&s); return []Spec{s} }
	cases := []struct {
		name  string
		specs []Spec
		want  string
	}{
		{"unknown type", with(func(s *Spec) { s.Type = "event_sum" }), `unknown correlation type "event_sum"`},
		{"zero timespan", with(func(s *Spec) { s.Timespan = 0 }), "timespan 0s: must be positive"},
		{"no rules", with(func(s *Spec) { s.Rules = nil }), "rules: empty"},
		{"ref with neither", with(func(s *Spec) { s.Rules = []Ref{{-1, -1}} }), "rules[0]: exactly one of Base and Corr"},
		{"ref with both", with(func(s *Spec) { s.Rules = []Ref{{0, 0}} }), "rules[0]: exactly one of Base and Corr"},
		{"base index too large", with(func(s *Spec) { s.Rules = []Ref{BaseRef(1 << 40)} }), "rules[0]: base rule index 1099511627776 above the limit"},
		{"corr out of range", with(func(s *Spec) { s.Rules = []Ref{CorrRef(3)} }), "rules[0]: correlation 3 out of range (1 specs)"},
		{"self reference", with(func(s *Spec) { s.Rules = []Ref{CorrRef(0)} }), "rules[0]: references itself"},
		{"unknown operator", with(func(s *Spec) { s.Condition = Condition{Ops: []Op{{"ge", 1}}} }), `unknown operator "ge"`},
		{"NaN", with(func(s *Spec) { s.Condition = Condition{Ops: []Op{{"gt", nan()}}} }), "not a finite number"},
		{"no condition", with(func(s *Spec) { s.Condition = Condition{} }), "event_count: condition: at least one of"},
		{"value type without field", with(func(s *Spec) { s.Type = ValueCount }), "value_count: condition field is required"},
		{"sum with two fields", with(func(s *Spec) {
			s.Type = ValueSum
			s.Condition.Fields = []string{"a", "b"}
		}), "value_sum: condition needs exactly one field (got 2)"},
		{"empty field name", with(func(s *Spec) { s.Type = ValueAvg; s.Condition.Fields = []string{""} }), "condition field: empty name"},
		{"alias length", with(func(s *Spec) { s.AliasFields = map[string][]string{"ip": {"a", "b"}} }), `alias "ip": 2 fields for 1 rules`},
		{"empty group-by", with(func(s *Spec) { s.GroupBy = []string{""} }), "group-by: empty field name"},
		{"duplicate group-by", with(func(s *Spec) { s.GroupBy = []string{"U", "U"} }), `group-by: "U" listed twice`},
		{"temporal needing more rules than listed", []Spec{{Type: Temporal, Rules: bases(0, 1), Timespan: mn, Condition: ops("gte", 3)}},
			"temporal: condition needs 3 rules but only 2 are referenced"},
		{"count above the per-group bound", with(func(s *Spec) { s.Condition = ops("gte", 20000) }), "above the per-group bound"},
		{"cycle", []Spec{
			{Type: EventCount, Rules: []Ref{CorrRef(1)}, Timespan: mn, Condition: ops("gte", 1)},
			{Type: EventCount, Rules: []Ref{CorrRef(0)}, Timespan: mn, Condition: ops("gte", 1)},
		}, "reference cycle"},
		{"chained group-by not carried by the inner firing", []Spec{
			{Type: EventCount, Rules: []Ref{CorrRef(1)}, GroupBy: []string{"Computer"}, Timespan: mn, Condition: ops("gte", 1)},
			{Type: EventCount, Rules: bases(0), GroupBy: []string{"User"}, Timespan: mn, Condition: ops("gte", 1)},
		}, `field "Computer" is not one of them`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.specs, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			var se *SpecError
			if !errors.As(err, &se) || errors.Unwrap(err) == nil || se.Spec < 0 || se.Spec >= len(tc.specs) {
				t.Errorf("error %T (%v) is not a *SpecError naming a spec", err, err)
			}
		})
	}
	// Accepted: fields on types that do not use them are ignored; temporal without a condition.
	if _, err := New([]Spec{
		{Type: EventCount, Rules: bases(0), Timespan: mn, Condition: Condition{Ops: []Op{{"gte", 1}}, Fields: []string{"x"}}},
		{Type: TemporalOrdered, Rules: []Ref{CorrRef(0), BaseRef(3)}, Timespan: mn},
	}, Options{}); err != nil {
		t.Errorf("valid specs refused: %v", err)
	}
}

func nan() float64 { var z float64; return z / z }

// Observe and Advance tolerate odd calls.
func TestOddInput(t *testing.T) {
	e, err := New([]Spec{countSpec(mn, ops("gte", 1))}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.Observe(0, nil, nil)
	e.Observe(-1, evAt("a", t0), nil)
	e.Observe(99, evAt("b", t0), nil)
	e.Advance(time.Time{}, nil)
	far := evAt("far", time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
	old := evAt("old", time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC))
	n := 0
	e.Observe(0, far, func(Firing) { n++ })
	e.Observe(0, old, func(Firing) { n++ })
	e.Flush(nil)
	if n != 1 {
		t.Errorf("%d firings, want 1 (the far-future event; the ancient one is late)", n)
	}
}

// An event carried by two inner firings is listed once in the outer firing's evidence.
func TestChainedEvidenceIsDistinct(t *testing.T) {
	specs := []Spec{
		{Type: EventCount, Rules: bases(0), GroupBy: []string{"User"}, Timespan: mn, Condition: ops("gte", 1)},
		{Type: EventCount, Rules: bases(1), GroupBy: []string{"User"}, Timespan: mn, Condition: ops("gte", 2)},
		{Type: Temporal, Rules: []Ref{CorrRef(0), CorrRef(1)}, GroupBy: []string{"User"}, Timespan: mn},
	}
	ab := obs(1, sec, "ab", "User", "u")
	got, _ := run(t, specs, Options{}, obs(1, 0, "b", "User", "u"), ab, again(0, ab))
	checkFirings(t, got, []string{
		"1@1s n=2 g=User:u ids=b,ab",
		"0@1s n=1 g=User:u ids=ab",
		"2@1s n=2 g=User:u ids=b,ab",
	})
}

// Value types over inner firings read the inner group-by values: distinct users brute-forced
// from one source, and a sum over a numeric group value.
func TestChainedValueTypes(t *testing.T) {
	specs := []Spec{
		{Type: EventCount, Rules: bases(0), GroupBy: []string{"User", "IpAddress"}, Timespan: 10 * mn, Condition: ops("gte", 2)},
		{Type: ValueCount, Rules: []Ref{CorrRef(0)}, GroupBy: []string{"IpAddress"}, Timespan: hr,
			Condition: Condition{Ops: []Op{{"gte", 2}}, Fields: []string{"User"}}},
		{Type: EventCount, Rules: bases(1), GroupBy: []string{"Port"}, Timespan: mn, Condition: ops("gte", 1)},
		{Type: ValueSum, Rules: []Ref{CorrRef(2)}, Timespan: mn, Condition: Condition{Ops: []Op{{"gt", 1000}}, Fields: []string{"Port"}}},
	}
	ip := "IpAddress"
	got, _ := run(t, specs, Options{},
		obs(0, 0, "a1", "User", "a", ip, "x"), obs(0, sec, "a2", "User", "a", ip, "x"),
		obs(0, 2*sec, "b1", "User", "b", ip, "x"), obs(0, 3*sec, "b2", "User", "b", ip, "x"),
		obs(1, 4*sec, "p1", "Port", 443), obs(1, 5*sec, "p2", "Port", "8080"),
	)
	checkFirings(t, got, []string{
		"0@1s n=2 g=IpAddress:x,User:a ids=a1,a2",
		"0@3s n=2 g=IpAddress:x,User:b ids=b1,b2",
		"1@3s n=2 g=IpAddress:x ids=a1,a2,b1,b2",
		"2@4s n=1 g=Port:443 ids=p1",
		"2@5s n=1 g=Port:8080 ids=p2",
		"3@5s n=2 v=8523 ids=p1,p2",
	})
}
