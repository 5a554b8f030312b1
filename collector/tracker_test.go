package collector

import (
	"strings"
	"testing"
)

func TestTracker(t *testing.T) {
	tr := NewTracker(func(s *string) string { return strings.ToLower(*s) })
	var log []string
	add := func(s *string) { log = append(log, "+"+*s) }
	del := func(s *string) { log = append(log, "-"+*s) }
	tr.Update([]string{"b", "a"}, add, del)
	tr.Update([]string{"A", "c"}, add, del) // A is a (same key): not new
	tr.Update([]string{"c"}, add, nil)      // a goes, unreported
	tr.Update(nil, add, del)
	if got := strings.Join(log, " "); got != "+b +a +c -b -c" {
		t.Errorf("log %q", got)
	}
	if tr.Len() != 0 || tr.Known("c") {
		t.Error("tracker must be empty")
	}
}
