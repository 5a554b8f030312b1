// Package chart draws the web UI's charts as SVG on the server, so pages need no JavaScript
// chart library: a stacked bar chart over time (findings by severity per day) and a sparkline.
// Colours come from CSS classes the page's stylesheet defines (so dark mode recolours them);
// every bar carries a <title> that browsers show as a tooltip and screen readers read.
package chart

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// Series is one stacked layer: a name, the CSS class that colours it, a value per bucket.
type Series struct {
	Name   string
	Class  string
	Values []float64
}

// Stacked describes a stacked bar chart.
type Stacked struct {
	Title  string   // the accessible name of the chart
	Labels []string // one per bucket, shown under the bars (thinned out when crowded)
	Series []Series // bottom layer first
	Width  int      // viewBox width (default 720)
	Height int      // viewBox height (default 220)
	// Links, when set, makes each bucket's bars a link (one URL per bucket).
	Links []string
}

const (
	padLeft   = 36
	padRight  = 8
	padTop    = 10
	padBottom = 26
)

// SVG renders the chart. It scales to its container's width (viewBox, no fixed size).
func (c Stacked) SVG() template.HTML {
	w, h := c.Width, c.Height
	if w <= 0 {
		w = 720
	}
	if h <= 0 {
		h = 220
	}
	n := len(c.Labels)
	for _, s := range c.Series {
		n = max(n, len(s.Values))
	}
	totals := make([]float64, n)
	for _, s := range c.Series {
		for i, v := range s.Values {
			totals[i] += v
		}
	}
	top := 0.0
	for _, t := range totals {
		top = math.Max(top, t)
	}
	ticks := NiceTicks(top, 4)
	ymax := ticks[len(ticks)-1]
	plotW := float64(w - padLeft - padRight)
	plotH := float64(h - padTop - padBottom)
	y := func(v float64) float64 { return float64(padTop) + plotH - v/ymax*plotH }

	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" preserveAspectRatio="xMidYMid meet">`,
		w, h, template.HTMLEscapeString(c.Title))
	fmt.Fprintf(&sb, `<title>%s</title>`, template.HTMLEscapeString(c.Title))
	for _, t := range ticks {
		yy := y(t)
		fmt.Fprintf(&sb, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, padLeft, w-padRight, yy, yy)
		fmt.Fprintf(&sb, `<text class="axis" x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`,
			padLeft-6, yy, formatTick(t))
	}
	if n == 0 {
		sb.WriteString(`</svg>`)
		return template.HTML(sb.String())
	}
	slot := plotW / float64(n)
	barW := math.Max(1, math.Min(slot*0.72, 48))
	every := int(math.Ceil(float64(n) / (plotW / 56))) // at most one label per ~56 units
	for i := 0; i < n; i++ {
		x := float64(padLeft) + slot*float64(i) + (slot-barW)/2
		link := i < len(c.Links) && c.Links[i] != ""
		if link {
			fmt.Fprintf(&sb, `<a href="%s">`, template.HTMLEscapeString(c.Links[i]))
		}
		base := 0.0
		label := ""
		if i < len(c.Labels) {
			label = c.Labels[i]
		}
		for _, s := range c.Series {
			if i >= len(s.Values) || s.Values[i] <= 0 {
				continue
			}
			v := s.Values[i]
			y0, y1 := y(base), y(base+v)
			fmt.Fprintf(&sb, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="1.5"><title>%s: %s %s</title></rect>`,
				template.HTMLEscapeString(s.Class), x, y1, barW, math.Max(y0-y1, 0.5),
				template.HTMLEscapeString(label), formatTick(v), template.HTMLEscapeString(s.Name))
			base += v
		}
		if link {
			sb.WriteString(`</a>`)
		}
		if label != "" && i%every == 0 {
			fmt.Fprintf(&sb, `<text class="axis" x="%.1f" y="%d" text-anchor="middle">%s</text>`,
				x+barW/2, h-8, template.HTMLEscapeString(label))
		}
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}

// NiceTicks returns about n+1 round tick values from 0 covering top (1, 2 or 5 times a power
// of ten apart); top <= 0 gives 0 and 1.
func NiceTicks(top float64, n int) []float64 {
	if top <= 0 || n <= 0 {
		return []float64{0, 1}
	}
	raw := top / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	if step < 1 {
		step = 1 // counts: no fractional ticks
	}
	var out []float64
	for v := 0.0; ; v += step {
		out = append(out, v)
		if v >= top {
			break
		}
	}
	return out
}

func formatTick(v float64) string {
	switch {
	case v >= 1e6:
		return trimZero(fmt.Sprintf("%.1f", v/1e6)) + "M"
	case v >= 1e4:
		return trimZero(fmt.Sprintf("%.1f", v/1e3)) + "k"
	}
	return trimZero(fmt.Sprintf("%.1f", v))
}

func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }

// Sparkline renders values as a small line with its area filled, for a table cell.
func Sparkline(values []float64, class string, w, h int) template.HTML {
	if w <= 0 {
		w = 96
	}
	if h <= 0 {
		h = 24
	}
	top := 0.0
	for _, v := range values {
		top = math.Max(top, v)
	}
	if top == 0 {
		top = 1
	}
	var pts []string
	for i, v := range values {
		x := 0.0
		if len(values) > 1 {
			x = float64(i) / float64(len(values)-1) * float64(w)
		}
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, float64(h)-1-v/top*float64(h-2)))
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="spark %s" viewBox="0 0 %d %d" width="%d" height="%d" aria-hidden="true">`,
		template.HTMLEscapeString(class), w, h, w, h)
	if len(pts) > 1 {
		fmt.Fprintf(&sb, `<polygon class="area" points="0,%d %s %d,%d"/>`, h, strings.Join(pts, " "), w, h)
		fmt.Fprintf(&sb, `<polyline class="line" points="%s"/>`, strings.Join(pts, " "))
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}
