package correlate

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestValueStringForms(t *testing.T) {
	cases := []struct {
		v    any
		want string
		ok   bool
	}{
		{"Abc", "Abc", true}, {"", "", true}, {nil, "", false},
		{int8(-8), "-8", true}, {int16(16), "16", true}, {int32(32), "32", true}, {int64(-64), "-64", true}, {7, "7", true},
		{uint(1), "1", true}, {uint8(8), "8", true}, {uint16(16), "16", true}, {uint32(32), "32", true},
		{uint64(math.MaxUint64), "18446744073709551615", true},
		{float32(2.5), "2.5", true}, {1e6, "1000000", true}, {4625.0, "4625", true}, {0.1, "0.1", true},
		{1e21, "1e+21", true}, {math.Inf(1), "+Inf", true},
		{json.Number("4625"), "4625", true}, {json.Number("4625.0"), "4625", true}, {json.Number("1e400"), "1e400", true},
		{true, "true", true},
		{[]any{"a", 1}, `["a",1]`, true}, {map[string]any{"b": 1, "a": 2}, `{"a":2,"b":1}`, true},
		{make(chan int), "", true}, // not JSON: fmt's form (an address), only checked for ok
	}
	for _, tc := range cases {
		got, ok := appendValue(nil, tc.v)
		if ok != tc.ok || (tc.want != "" || !ok) && string(got) != tc.want {
			t.Errorf("appendValue(%T %v) = %q, %v; want %q, %v", tc.v, tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNumbers(t *testing.T) {
	cases := []struct {
		v    any
		want float64
		ok   bool
	}{
		{3, 3, true}, {int8(-3), -3, true}, {int16(3), 3, true}, {int32(3), 3, true}, {int64(3), 3, true},
		{uint(3), 3, true}, {uint8(3), 3, true}, {uint16(3), 3, true}, {uint32(3), 3, true}, {uint64(3), 3, true},
		{float32(1.5), 1.5, true}, {2.5, 2.5, true}, {math.NaN(), 0, false}, {math.Inf(-1), 0, false},
		{json.Number("12.5"), 12.5, true}, {"42", 42, true}, {" 42 ", 42, true}, {"-1e3", -1000, true},
		{"0x378", 888, true}, {"0o17", 15, true}, {"0b101", 5, true}, {"18446744073709551615", 18446744073709551615, true},
		{"1_000", 0, false}, {"0x1p4", 0, false}, {"Inf", 0, false}, {"nan", 0, false}, {"1e400", 0, false},
		{"12 MB", 0, false}, {"", 0, false}, {true, 0, false}, {nil, 0, false}, {[]any{1}, 0, false},
	}
	for _, tc := range cases {
		got, ok := toFloat(tc.v)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("toFloat(%T %v) = %v, %v; want %v, %v", tc.v, tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

func TestLookup(t *testing.T) {
	fields := map[string]any{
		"a.b":  "flat",
		"x":    map[string]any{"y": map[string]any{"z": "nested"}, "y.w": "mixed"},
		"n":    nil,
		"list": []any{"l"},
	}
	cases := []struct {
		name string
		want any
		ok   bool
	}{
		{"a.b", "flat", true}, {"x.y.z", "nested", true}, {"x.y.w", "mixed", true},
		{"n", nil, false}, {"x.q", nil, false}, {"list.0", nil, false}, {"missing", nil, false}, {"a.b.c", nil, false},
	}
	for _, tc := range cases {
		got, ok := lookup(fields, tc.name)
		if ok != tc.ok || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("lookup(%q) = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// Long sliding runs: the running sum, the sorted values of the median and the entry deque stay
// exact while thousands of entries come and go (compaction, periodic re-summing, removals).
func TestSlidingAggregatesStayExact(t *testing.T) {
	for _, typ := range []string{ValueSum, ValueAvg, ValueMedian} {
		t.Run(typ, func(t *testing.T) {
			spec := Spec{Type: typ, Rules: bases(0), Timespan: 10 * sec,
				Condition: Condition{Ops: []Op{{"gt", 1e300}}, Fields: []string{"n"}}}
			e, err := New([]Spec{spec}, Options{MaxGroupEvents: 100000})
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(3, 4))
			type tv struct {
				t time.Duration
				v float64
			}
			var all []tv
			now := time.Duration(0)
			for i := range 40000 {
				now += time.Duration(r.IntN(3)) * time.Millisecond
				v := float64(r.IntN(1000)) / 8
				all = append(all, tv{now, v})
				ev := evAt(fmt.Sprint(i), at(now))
				ev.Fields["n"] = v
				e.Observe(0, ev, func(f Firing) { t.Fatalf("unexpected firing %+v", f) })
				if i%997 != 0 {
					continue
				}
				var win []float64
				for _, x := range all {
					if x.t >= now-10*sec {
						win = append(win, x.v)
					}
				}
				g := e.specs[0].groups[""]
				n, got, _ := g.st.measure(nil)
				want := 0.0
				for _, x := range win {
					want += x
				}
				switch typ {
				case ValueAvg:
					want /= float64(len(win))
				case ValueMedian:
					slices.Sort(win)
					if len(win)%2 == 1 {
						want = win[len(win)/2]
					} else {
						want = (win[len(win)/2-1] + win[len(win)/2]) / 2
					}
				}
				if n != len(win) || math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
					t.Fatalf("event %d: measure %d, %v; brute force %d, %v", i, n, got, len(win), want)
				}
			}
		})
	}
}

// value_percentile's baseline slides: events older than the window no longer count.
func TestValuePercentileBaselineSlides(t *testing.T) {
	spec := Spec{Type: ValuePercentile, Rules: bases(0), Timespan: 24 * hr,
		Condition: Condition{Ops: []Op{{"lte", 1}}, Fields: []string{"Image"}}}
	var base []step
	for i := range 200 {
		base = append(base, obs(0, time.Duration(i)*sec, fmt.Sprint("e", i), "Image", "common"))
	}
	got, _ := run(t, []Spec{spec}, Options{}, append(base, obs(0, 23*hr, "rare", "Image", "odd"))...)
	checkFirings(t, got, []string{"0@23h0m0s n=201 v=0.4975 ids=rare"})
	// 150 "mid" events keep the group alive; a day after the first burst, only they and the new
	// event make the baseline (151 events, not 351).
	for i := range 150 {
		base = append(base, obs(0, 10*hr+time.Duration(i)*sec, fmt.Sprint("m", i), "Image", "mid"))
	}
	got, _ = run(t, []Spec{spec}, Options{}, append(base, obs(0, 24*hr+200*sec, "rare", "Image", "odd"))...)
	checkFirings(t, got, []string{
		"0@10h0m0s n=201 v=0.4975 ids=m0", // the first "mid" was rare itself; the rest are muted
		"0@24h3m20s n=151 v=0.6623 ids=rare",
	})
}
