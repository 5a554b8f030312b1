package correlate

import (
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/event"
)

// `host` stands for the event's host when the event has no field of that name.
func TestHostPseudoField(t *testing.T) {
	runCases(t, []tcase{
		{name: "group by host", spec: countSpec(10*mn, ops("gte", 2), "host"), steps: []step{
			obs(0, 0, "a", "host", "laptop-1"), obs(0, 1*mn, "b", "host", "laptop-2"), obs(0, 2*mn, "c", "host", "laptop-1"),
		}, want: []string{"0@2m0s n=2 h=laptop-1 g=host:laptop-1 ids=a,c"}},
		{name: "distinct hosts behind one gateway", spec: Spec{Type: ValueCount, Rules: bases(0), GroupBy: []string{"DefaultGatewayMac"},
			Timespan: time.Hour, Condition: Condition{Ops: []Op{{Kind: "gte", Value: 3}}, Fields: []string{"host"}}}, steps: []step{
			obs(0, 0, "a", "host", "l1", "DefaultGatewayMac", "aa"), obs(0, mn, "b", "host", "l2", "DefaultGatewayMac", "aa"),
			obs(0, 2*mn, "c", "host", "l2", "DefaultGatewayMac", "aa"), obs(0, 3*mn, "d", "host", "l3", "DefaultGatewayMac", "aa"),
		}, want: []string{"0@3m0s n=3 g=DefaultGatewayMac:aa ids=a,c,d"}},
		{name: "events without a host are skipped", spec: countSpec(10*mn, ops("gte", 1), "host"), steps: []step{
			obs(0, 0, "a"), flush(),
		}, want: nil},
	})
	// A real field named host wins over the envelope.
	spec := countSpec(10*mn, ops("gte", 1), "host")
	ev := &event.Event{ID: "x", Time: at(0), Host: "envelope", Fields: map[string]any{"host": "field"}}
	got, _ := run(t, []Spec{spec}, Options{}, step{kind: 'o', base: 0, ev: ev})
	checkFirings(t, got, []string{"0@0s n=1 h=envelope g=host:field ids=x"})
}
