package bench

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Figure size and resolution: a 7 x 4.5 in figure at 144 dpi is 1008 x 648
// pixels, legible in a README and on a laptop screen.
const (
	plotW   = 7 * vg.Inch
	plotH   = 4.5 * vg.Inch
	plotDPI = 144
)

// The figures WritePlots draws (file names without extension).
const (
	PlotFrontier   = "frontier"
	PlotLatencyCDF = "latency-cdf"
	PlotThroughput = "throughput"
	PlotTriggers   = "idp-calls-by-trigger"
)

// WritePlots draws the report's figures into dir, each as PNG and SVG:
// the trade-off frontier (IdP calls per 1 000 validations against the
// share of post-revocation requests accepted, one point per strategy and
// tiered configuration), the latency CDF per strategy (log x), throughput
// per strategy, and the tiered strategies' IdP calls by trigger. A figure
// with nothing to show is skipped. It returns the files written, relative
// to dir.
func (r *Report) WritePlots(dir string) (files []string, err error) {
	// gonum/plot panics on some degenerate inputs (e.g. a log axis over
	// non-positive values); a report must not take the process down.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("bench: plot: %v", p)
		}
	}()
	figs := []struct {
		name string
		draw func() (*plot.Plot, error)
	}{
		{PlotFrontier, r.frontierPlot},
		{PlotLatencyCDF, r.latencyPlot},
		{PlotThroughput, r.throughputPlot},
		{PlotTriggers, r.triggerPlot},
	}
	for _, f := range figs {
		p, err := f.draw()
		if err != nil {
			return files, fmt.Errorf("bench: plot %s: %w", f.name, err)
		}
		if p == nil {
			continue
		}
		for _, ext := range []string{"png", "svg"} {
			name := f.name + "." + ext
			if err := savePlot(p, filepath.Join(dir, name), ext); err != nil {
				return files, fmt.Errorf("bench: plot %s: %w", name, err)
			}
			files = append(files, name)
		}
	}
	return files, nil
}

func savePlot(p *plot.Plot, path, format string) (err error) {
	var wt io.WriterTo
	if format == "png" {
		c := vgimg.NewWith(vgimg.UseWH(plotW, plotH), vgimg.UseDPI(plotDPI))
		p.Draw(draw.New(c))
		wt = vgimg.PngCanvas{Canvas: c}
	} else {
		if wt, err = p.WriterTo(plotW, plotH, format); err != nil {
			return err
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := wt.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// sans is the figures' typeface (gonum/plot defaults to a serif).
func sans(size float64) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Size: vg.Points(size)}
}

// newPlot is a plot with the report's type and tick labels.
func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = sans(14)
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text, p.Y.Label.Text = x, y
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(12)
		a.Tick.Label.Font = sans(10)
		a.Tick.Marker = plainTicks{}
	}
	p.Legend.TextStyle.Font = sans(10)
	return p
}

// plainTicks are gonum's default ticks labelled without trailing zeros
// ("250", not "250.00").
type plainTicks struct{}

func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'f', -1, 64)
		}
	}
	return ts
}

// mainResults are the results plotted one by one: every strategy but the
// grid's configurations (which only the frontier shows), plus the
// verdict's choice.
func (r *Report) mainResults() []StrategyResult {
	var out []StrategyResult
	for _, res := range r.Results {
		if !res.Grid || (r.Verdict != nil && r.Verdict.Choice == res.Strategy) {
			out = append(out, res)
		}
	}
	return out
}

// latencyPlot is the latency CDF per strategy, log-scale microseconds.
func (r *Report) latencyPlot() (*plot.Plot, error) {
	p := newPlot("Validation latency (CDF, real time)", "latency per validation (µs, log scale)", "fraction of validations ≤ x")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = 0, 1
	p.Y.Tick.Marker = plot.ConstantTicks{{Value: 0, Label: "0"}, {Value: 0.25, Label: "0.25"}, {Value: 0.5, Label: "0.5"},
		{Value: 0.75, Label: "0.75"}, {Value: 0.9, Label: "0.9"}, {Value: 1, Label: "1"}}
	p.Add(plotter.NewGrid())
	lo, hi := math.Inf(1), 0.0
	n := 0
	for i, res := range r.mainResults() {
		if len(res.LatencyQuantiles) == 0 {
			continue
		}
		pts := make(plotter.XYs, 0, len(res.LatencyQuantiles))
		for _, q := range res.LatencyQuantiles {
			x := max(q.US, 0.1) // a log axis has no zero
			pts = append(pts, plotter.XY{X: x, Y: q.P})
			lo, hi = min(lo, x), max(hi, x)
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(2)
		l.Dashes = plotutil.Dashes(i / len(plotutil.DefaultColors))
		p.Add(l)
		p.Legend.Add(res.Strategy, l)
		n++
	}
	if n == 0 {
		return nil, nil
	}
	// Whole decades, so the log ticks are labelled at both ends.
	p.X.Min = math.Pow(10, math.Floor(math.Log10(lo)))
	p.X.Max = math.Pow(10, math.Ceil(math.Log10(max(hi, lo*10))))
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(12), vg.Points(6)
	return p, nil
}

// throughputPlot is validations per second per strategy.
func (r *Report) throughputPlot() (*plot.Plot, error) {
	res := r.mainResults()
	if len(res) == 0 {
		return nil, nil
	}
	vals := make(plotter.Values, len(res))
	names := make([]string, len(res))
	labels := plotter.XYLabels{}
	for i, x := range res {
		vals[i], names[i] = x.Throughput, x.Strategy
		labels.XYs = append(labels.XYs, plotter.XY{X: float64(i), Y: x.Throughput})
		labels.Labels = append(labels.Labels, fmtCount(x.Throughput))
	}
	p := newPlot("Throughput per strategy (real time, "+r.concurrencyLabel()+")", "", "validations per second")
	bars, err := plotter.NewBarChart(vals, barWidth(len(res)))
	if err != nil {
		return nil, err
	}
	bars.Color = plotutil.Color(0)
	bars.LineStyle.Width = 0
	p.Add(plotter.NewGrid(), bars)
	lb, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, err
	}
	for i := range lb.TextStyle {
		lb.TextStyle[i].XAlign = draw.XCenter
		lb.TextStyle[i].Font = sans(10)
	}
	lb.Offset = vg.Point{Y: vg.Points(3)}
	p.Add(lb)
	p.Y.Min = 0
	p.Y.Max = slices.Max(vals) * 1.12 // room for the value labels
	nominalX(p, names)
	return p, nil
}

func (r *Report) concurrencyLabel() string {
	if r.Issuer != nil || r.Concurrency <= 1 {
		return "one validation at a time"
	}
	return strconv.Itoa(r.Concurrency) + " in flight"
}

// triggerOrder is the order triggers fire in strategy.Tiered (the first one
// of a decision is the one its IdP call is counted under).
var triggerOrder = []string{"always", "sensitive_scope", "revocation_window", "restart_window", "token_age", "lightweight", "key_unavailable", "opaque", "sampled", "unattributed"}

// triggerPlot stacks, per introspecting strategy, its IdP calls by trigger.
func (r *Report) triggerPlot() (*plot.Plot, error) {
	var res []StrategyResult
	seen := map[string]bool{}
	for _, x := range r.mainResults() {
		if (x.Kind != StrategyTiered && x.Kind != StrategyIntrospection) || x.CallsByTrigger == nil {
			continue
		}
		res = append(res, x)
		for t, n := range x.CallsByTrigger {
			if n > 0 {
				seen[t] = true
			}
		}
	}
	if len(res) == 0 || len(seen) == 0 {
		return nil, nil
	}
	var triggers []string
	for _, t := range triggerOrder {
		if seen[t] {
			triggers = append(triggers, t)
			delete(seen, t)
		}
	}
	for t := range seen { // a trigger this harness does not know yet
		triggers = append(triggers, t)
	}
	slices.Sort(triggers[len(triggers)-len(seen):])
	p := newPlot("IdP calls by trigger (the first rule that fired for the request)", "", "introspection calls sent to the IdP")
	p.Add(plotter.NewGrid())
	names := make([]string, len(res))
	for i, x := range res {
		names[i] = x.Strategy
	}
	var below *plotter.BarChart
	top := 0.0
	for ti, t := range triggers {
		vals := make(plotter.Values, len(res))
		for i, x := range res {
			vals[i] = float64(x.CallsByTrigger[t])
		}
		b, err := plotter.NewBarChart(vals, barWidth(len(res)))
		if err != nil {
			return nil, err
		}
		b.Color = plotutil.Color(ti)
		b.LineStyle.Width = 0
		if below != nil {
			b.StackOn(below)
		}
		below = b
		p.Add(b)
		if t == "always" {
			t = "always (introspection strategy)"
		}
		p.Legend.Add(t, b)
	}
	for _, x := range res {
		sum := 0
		for _, n := range x.CallsByTrigger {
			sum += n
		}
		top = max(top, float64(sum))
	}
	// Headroom for the legend above the tallest bar.
	p.Y.Min, p.Y.Max = 0, top*(1.08+0.07*float64(len(triggers)))
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.XOffs = -vg.Points(8)
	nominalX(p, names)
	return p, nil
}

// frontierPlot is the trade-off: IdP calls per 1 000 validations against
// the share of post-revocation requests accepted, one labelled point per
// strategy and tiered configuration; the verdict's choice is ringed, and
// the constraints that translate to these axes are drawn as dashed lines.
func (r *Report) frontierPlot() (*plot.Plot, error) {
	if len(r.Results) == 0 || (r.Issuer != nil && !r.Issuer.RevocationMeasured) {
		return nil, nil
	}
	p := newPlot("Trade-off: IdP load against revocation exposure",
		"IdP calls per 1 000 validations", "post-revocation requests accepted (%)")
	p.Add(plotter.NewGrid())
	var base, tiered, chosen, all plotter.XYs
	var names []string
	maxX, maxY := 0.0, 0.0
	for _, res := range r.Results {
		xy := plotter.XY{X: res.IdP.Per1000, Y: 100 * res.Exposure.Share}
		switch {
		case r.Verdict != nil && r.Verdict.Choice == res.Strategy:
			chosen = append(chosen, xy)
			tiered = append(tiered, xy)
		case res.Kind == StrategyTiered:
			tiered = append(tiered, xy)
		default:
			base = append(base, xy)
		}
		all = append(all, xy)
		names = append(names, res.Strategy)
		maxX, maxY = max(maxX, xy.X), max(maxY, xy.Y)
	}
	add := func(xys plotter.XYs, label string, shape draw.GlyphDrawer, c color.Color, radius vg.Length) error {
		if len(xys) == 0 {
			return nil
		}
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return err
		}
		s.GlyphStyle = draw.GlyphStyle{Shape: shape, Color: c, Radius: radius}
		p.Add(s)
		p.Legend.Add(label, s)
		return nil
	}
	if err := add(base, "local / introspection", draw.BoxGlyph{}, plotutil.Color(1), vg.Points(4)); err != nil {
		return nil, err
	}
	if err := add(tiered, "tiered configurations", draw.CircleGlyph{}, plotutil.Color(0), vg.Points(4)); err != nil {
		return nil, err
	}
	if err := add(chosen, "verdict: "+r.Verdict.choice(), draw.RingGlyph{}, color.RGBA{R: 200, A: 255}, vg.Points(9)); err != nil {
		return nil, err
	}

	// Constraints drawn where they map onto the axes.
	c := r.Constraints
	if c.MaxIdPRPS != nil && r.Scenario.DeclaredRate > 0 {
		x := *c.MaxIdPRPS / r.Scenario.DeclaredRate * 1000
		if err := dashed(p, plotter.XYs{{X: x, Y: 0}, {X: x, Y: max(maxY, 1) * 1.12}},
			fmt.Sprintf("max-idp-rps %s/s (≈ %s per 1 000)", fmtRPS(*c.MaxIdPRPS), fmtRPS(x))); err != nil {
			return nil, err
		}
		maxX = max(maxX, x)
	}
	if c.MaxExposure != nil && c.MaxExposure.Kind == ExposureShare {
		y := 100 * c.MaxExposure.Value
		if err := dashed(p, plotter.XYs{{X: 0, Y: y}, {X: max(maxX, 1) * 1.2, Y: y}}, "max-exposure "+c.MaxExposure.String()); err != nil {
			return nil, err
		}
		maxY = max(maxY, y)
	}
	p.X.Min, p.Y.Min = 0, 0
	p.X.Max = max(maxX, 1) * 1.2 // room for the labels of the rightmost points
	p.Y.Max = max(maxY, 1) * 1.12
	p.Legend.Top = true
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(8), -vg.Points(4)
	p.Legend.Padding = vg.Points(7) // the verdict's ring is larger than a row

	for _, l := range placeLabels(all, names, p.X.Max, p.Y.Max, r.Verdict.choice()) {
		p.Add(l)
	}
	return p, nil
}

// The frontier's data area in points, roughly: the figure less the title,
// the axes and their labels. Label placement only needs it to a few
// points.
const (
	frontierAreaW = float64(plotW) - 60
	frontierAreaH = float64(plotH) - 75
)

// placeLabels labels the points, coincident points (within 1.5 % of both
// axes) sharing one label, each label put at the first of a few positions
// around its point that overlaps no label placed before, no point and no
// edge. It returns one Labels plotter per label (their offsets differ).
func placeLabels(pts plotter.XYs, names []string, xMax, yMax float64, first string) []*plotter.Labels {
	type group struct {
		x, y  float64 // in points from the area's origin
		names []string
	}
	toPt := func(xy plotter.XY) (float64, float64) {
		return xy.X / xMax * frontierAreaW, xy.Y / yMax * frontierAreaH
	}
	var groups []*group
	for i, xy := range pts {
		x, y := toPt(xy)
		var g *group
		for _, h := range groups {
			if math.Abs(h.x-x) <= 0.015*frontierAreaW && math.Abs(h.y-y) <= 0.015*frontierAreaH {
				g = h
				break
			}
		}
		if g == nil {
			g = &group{x: x, y: y}
			groups = append(groups, g)
		}
		if names[i] == first {
			g.names = append([]string{names[i]}, g.names...)
		} else {
			g.names = append(g.names, names[i])
		}
	}
	style := text.Style{Font: sans(9), Handler: plot.DefaultTextHandler}
	type box struct{ x0, y0, x1, y1 float64 }
	overlaps := func(a, b box) bool { return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1 }
	var taken []box
	const r = 6.0 // a marker's half size, with a margin
	for _, xy := range pts {
		x, y := toPt(xy)
		taken = append(taken, box{x - r, y - r, x + r, y + r})
	}
	// Leftmost first: their labels have the most room to the right.
	slices.SortStableFunc(groups, func(a, b *group) int { return cmpFloat(a.x, b.x) })
	var out []*plotter.Labels
	for _, g := range groups {
		label := shortList(g.names, 4)
		w, h := float64(style.Width(label)), float64(style.Height(label))
		cands := [][2]float64{{7, 2}, {7, -h - 2}, {-w - 7, 2}, {-w - 7, -h - 2}, {-w / 2, 9}, {-w / 2, -h - 9},
			{7, h + 4}, {7, -2*h - 6}, {-w - 7, h + 4}, {-w - 7, -2*h - 6}}
		off := cands[0]
		for _, c := range cands {
			b := box{g.x + c[0], g.y + c[1], g.x + c[0] + w, g.y + c[1] + h}
			if b.x0 < 0 || b.x1 > frontierAreaW || b.y0 < 0 || b.y1 > frontierAreaH {
				continue
			}
			if !slices.ContainsFunc(taken, func(t box) bool { return overlaps(b, t) }) {
				off = c
				break
			}
		}
		taken = append(taken, box{g.x + off[0], g.y + off[1], g.x + off[0] + w, g.y + off[1] + h})
		lb, err := plotter.NewLabels(plotter.XYLabels{
			XYs:    plotter.XYs{{X: g.x / frontierAreaW * xMax, Y: g.y / frontierAreaH * yMax}},
			Labels: []string{label},
		})
		if err != nil {
			continue // cannot happen: one point, one label
		}
		lb.TextStyle[0].Font = sans(9)
		lb.Offset = vg.Point{X: vg.Length(off[0]), Y: vg.Length(off[1])}
		out = append(out, lb)
	}
	return out
}

func (v *Verdict) choice() string {
	if v == nil {
		return ""
	}
	return v.Choice
}

func dashed(p *plot.Plot, xys plotter.XYs, label string) error {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	l.Color = color.Gray{Y: 90}
	l.Width = vg.Points(1.5)
	l.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
	p.Add(l)
	p.Legend.Add(label, l)
	return nil
}

// shortList joins names, eliding past n.
func shortList(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(" +%d", len(names)-n)
}

func barWidth(n int) vg.Length {
	return vg.Points(min(48, 360/float64(max(n, 1))))
}

// nominalX labels the bars, slanted when there are many.
func nominalX(p *plot.Plot, names []string) {
	if len(names) == 0 {
		return
	}
	p.NominalX(names...)
	// Half a bar's slot on each side, so the outer bars are whole, and a
	// margin on the right, where gonum leaves none.
	p.X.Min, p.X.Max = -0.5, float64(len(names))-0.2
	if len(names) > 5 {
		p.X.Tick.Label.Rotation = math.Pi / 6
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
	}
}

// fmtCount writes 74617 as "74.6k".
func fmtCount(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}
