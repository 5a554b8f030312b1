package chart

import (
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
)

func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct {
		top  float64
		want string
	}{
		{0, "[0 1]"},
		{3, "[0 1 2 3]"},
		{7, "[0 2 4 6 8]"},
		{95, "[0 50 100]"},
		{120, "[0 50 100 150]"},
		{1234, "[0 500 1000 1500]"},
	} {
		if got := fmt.Sprint(NiceTicks(tc.top, 4)); got != tc.want {
			t.Errorf("NiceTicks(%v) = %s, want %s", tc.top, got, tc.want)
		}
	}
}

// wellFormed parses the SVG as XML.
func wellFormed(t *testing.T, s string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := d.Token()
		if err != nil {
			if err.Error() == "EOF" {
				return
			}
			t.Fatalf("SVG not well-formed: %v\n%s", err, s)
		}
	}
}

func TestStacked(t *testing.T) {
	c := Stacked{
		Title:  `Findings <by> level`,
		Labels: []string{"Nov 1", "Nov 2", "Nov 3"},
		Series: []Series{
			{Name: "high", Class: "lvl-high", Values: []float64{1, 0, 4}},
			{Name: "critical", Class: "lvl-critical", Values: []float64{2, 0, 1}},
		},
		Links: []string{"/findings?day=1&x=<", "", ""},
	}
	s := string(c.SVG())
	wellFormed(t, s)
	if n := strings.Count(s, "<rect "); n != 4 {
		t.Errorf("%d bars, want 4 (zero values draw nothing)", n)
	}
	for _, want := range []string{`aria-label="Findings &lt;by&gt; level"`, `<title>Nov 3: 4 high</title>`,
		`href="/findings?day=1&amp;x=&lt;"`, `class="lvl-critical"`} {
		if !strings.Contains(s, want) {
			t.Errorf("SVG lacks %s:\n%s", want, s)
		}
	}
	// the tallest stack (5) reaches the top tick's line: the chart is scaled to its data
	if !strings.Contains(s, ">6</text>") {
		t.Errorf("axis does not reach 6 for a top of 5: %s", s)
	}
	wellFormed(t, string(Stacked{Title: "empty"}.SVG()))
}

func TestSparkline(t *testing.T) {
	s := string(Sparkline([]float64{0, 3, 1, 5}, "lvl-high", 0, 0))
	wellFormed(t, s)
	if !strings.Contains(s, "<polyline") || !strings.Contains(s, `width="96"`) {
		t.Errorf("sparkline: %s", s)
	}
	wellFormed(t, string(Sparkline(nil, "", 10, 10)))
}
