package correlate

import (
	"fmt"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/event"
)

// BenchmarkObserve feeds events spread over many groups (users) to one spec of each type, the
// way the agent's engine sees them: mostly existing groups, times increasing, a window long
// enough that state accumulates. Run: go test ./policies/correlate -run '^$' -bench Observe -benchmem
func BenchmarkObserve(b *testing.B) {
	specs := []struct {
		name string
		spec Spec
	}{
		{"event_count", Spec{Type: EventCount, Rules: bases(0), GroupBy: []string{"User"}, Timespan: hr, Condition: ops("gte", 1000)}},
		{"event_count_lt", Spec{Type: EventCount, Rules: bases(0), GroupBy: []string{"User"}, Timespan: hr, Condition: ops("lt", 3)}},
		{"value_count", Spec{Type: ValueCount, Rules: bases(0), GroupBy: []string{"User"}, Timespan: hr,
			Condition: Condition{Ops: []Op{{"gte", 1000}}, Fields: []string{"Image"}}}},
		{"temporal", Spec{Type: Temporal, Rules: bases(0, 1, 2), GroupBy: []string{"User", "Computer"}, Timespan: hr}},
		{"temporal_ordered", Spec{Type: TemporalOrdered, Rules: bases(0, 1, 2), GroupBy: []string{"User"}, Timespan: hr}},
		{"value_sum", Spec{Type: ValueSum, Rules: bases(0), GroupBy: []string{"User"}, Timespan: hr,
			Condition: Condition{Ops: []Op{{"gt", 1e12}}, Fields: []string{"Bytes"}}}},
	}
	for _, groups := range []int{100, 10000} {
		for _, s := range specs {
			b.Run(fmt.Sprintf("%s/groups=%d", s.name, groups), func(b *testing.B) {
				e, err := New([]Spec{s.spec}, Options{MaxGroups: 2 * groups})
				if err != nil {
					b.Fatal(err)
				}
				pool := max(4096, 2*groups)
				evs := make([]*event.Event, pool)
				for i := range evs {
					evs[i] = &event.Event{ID: event.NewID(), Host: "laptop-42", Fields: map[string]any{
						"User":     fmt.Sprintf("user%05d", (i*7919)%groups),
						"Computer": "laptop-42",
						"Image":    fmt.Sprintf("/usr/bin/tool%d", i%50),
						"Bytes":    i * 13 % 5000,
					}}
				}
				start := t0
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					ev := evs[i%pool]
					ev.Time = start.Add(time.Duration(i) * time.Millisecond)
					e.Observe(i%3, ev, nil)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
				b.ReportMetric(float64(e.Stats().Groups), "groups")
			})
		}
	}
}
