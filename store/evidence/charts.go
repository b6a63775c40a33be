package evidence

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// Charts are drawn here as inline SVG, so report.html needs no script and
// no external asset. Every label is escaped.

var palette = []string{"#2f6db5", "#e08a1e", "#3a9a5b", "#b5392f", "#7b4fb0", "#8a7a33", "#2a9aa8", "#a14a7f"}

// series is one named row of values, one per x label.
type series struct {
	name   string
	values []float64
}

const (
	chartW   = 720
	chartH   = 240
	padLeft  = 48
	padRight = 12
	padTop   = 16
	padBot   = 56
)

// stackedBars draws one stacked bar per x label with a legend.
func stackedBars(title string, xs []string, ss []series) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg width="%d" height="%d" role="img" aria-label="%s">`,
		chartW, chartH+20*((len(ss)+3)/4), esc(title))
	top := 0.0
	for i := range xs {
		sum := 0.0
		for _, s := range ss {
			sum += s.values[i]
		}
		top = math.Max(top, sum)
	}
	scale, ticks := axis(top)
	plotW, plotH := float64(chartW-padLeft-padRight), float64(chartH-padTop-padBot)
	drawAxis(&b, scale, ticks, plotH)
	if len(xs) > 0 {
		slot := plotW / float64(len(xs))
		bar := math.Max(slot*0.7, 1)
		every := int(math.Ceil(float64(len(xs)) / 14))
		for i, x := range xs {
			y := float64(padTop) + plotH
			for k, s := range ss {
				h := s.values[i] / scale * plotH
				if h <= 0 {
					continue
				}
				y -= h
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %g</title></rect>`,
					float64(padLeft)+slot*float64(i)+(slot-bar)/2, y, bar, h, palette[k%len(palette)], esc(s.name), esc(x), s.values[i])
			}
			if i%every == 0 {
				cx := float64(padLeft) + slot*(float64(i)+0.5)
				fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10" text-anchor="end" transform="rotate(-40 %.1f %d)">%s</text>`,
					cx, chartH-padBot+14, cx, chartH-padBot+14, esc(x))
			}
		}
	}
	for k, s := range ss {
		lx, ly := padLeft+(k%4)*170, chartH+(k/4)*20
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d" font-size="12">%s</text>`,
			lx, ly-2, palette[k%len(palette)], lx+18, ly+8, esc(s.name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built from escaped parts only
}

// hBars draws one horizontal bar per label.
func hBars(title string, labels []string, values []float64, unit string, colors []string) template.HTML {
	const rowH, labelW = 22, 230
	h := padTop + rowH*len(labels) + 8
	var b strings.Builder
	fmt.Fprintf(&b, `<svg width="%d" height="%d" role="img" aria-label="%s">`, chartW, h, esc(title))
	top := 0.0
	for _, v := range values {
		top = math.Max(top, v)
	}
	if top == 0 {
		top = 1
	}
	plotW := float64(chartW - labelW - 90)
	for i, l := range labels {
		y := padTop + i*rowH
		w := values[i] / top * plotW
		color := palette[0]
		if i < len(colors) && colors[i] != "" {
			color = colors[i]
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" text-anchor="end">%s</text>`, labelW-6, y+14, esc(l))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="16" fill="%s"/>`, labelW, y+2, math.Max(w, 1), color)
		u := unit
		if values[i] == 1 {
			u = strings.TrimSuffix(unit, "s") // "1 change"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="12">%s%s</text>`, float64(labelW)+w+6, y+14, trimFloat(values[i]), esc(u))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built from escaped parts only
}

// axis picks a rounded top value and tick step for values up to top.
func axis(top float64) (scale float64, ticks []float64) {
	if top <= 0 {
		top = 1
	}
	step := math.Pow(10, math.Floor(math.Log10(top)))
	for top/step > 5 {
		step *= 2
	}
	for top/step < 2 && step >= 2 {
		step /= 2
	}
	scale = math.Ceil(top/step) * step
	for v := 0.0; v <= scale+step/2; v += step {
		ticks = append(ticks, v)
	}
	return scale, ticks
}

func drawAxis(b *strings.Builder, scale float64, ticks []float64, plotH float64) {
	for _, t := range ticks {
		y := float64(padTop) + plotH - t/scale*plotH
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" font-size="10" text-anchor="end">%s</text>`,
			padLeft, y, chartW-padRight, y, padLeft-4, y+3, trimFloat(t))
	}
}

func trimFloat(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func esc(s string) string { return template.HTMLEscapeString(s) }
