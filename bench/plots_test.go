package bench

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWriteDirPlots runs a tiny workload through every kind of strategy and
// a one-point grid, writes the report directory and checks the figures are
// real, readable images that report.md embeds.
func TestWriteDirPlots(t *testing.T) {
	t.Parallel()
	wl := scripted(t, ClientLegacy, []Event{{At: time.Second, Kind: EventRevoke, Token: 0, Session: -1}}, time.Second,
		Request{At: 500 * time.Millisecond}, Request{At: 2 * time.Second, Sensitive: true}, Request{At: 40 * time.Second})
	wl.Scenario.Grid = &GridSpec{SampleRate: []float64{0.5}}
	cons := mustConstraints(t, "100", "50%", "")
	var ticks []Progress
	rep := run(t, wl, Options{Constraints: &cons, OnProgress: func(p Progress) { ticks = append(ticks, p) }})
	if len(rep.Results) != 5 || !rep.Results[4].Grid || rep.Results[4].Strategy != "g01" {
		t.Fatalf("results: %d, last %+v", len(rep.Results), rep.Results[len(rep.Results)-1].Strategy)
	}
	if last := ticks[len(ticks)-1]; last.Index != 4 || last.Count != 5 || last.Done != 3 || last.Total != 3 {
		t.Errorf("last progress %+v", last)
	}
	if rep.Verdict == nil || rep.Verdict.Candidates != 2 {
		t.Fatalf("verdict %+v", rep.Verdict)
	}
	if got := rep.Results[2].CallsByTrigger["always"]; got != int(rep.Results[2].IdP.Introspections) || got == 0 {
		t.Errorf("introspection: calls by trigger %v, IdP counted %d", rep.Results[2].CallsByTrigger, rep.Results[2].IdP.Introspections)
	}

	dir := t.TempDir()
	if err := rep.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{PlotFrontier, PlotLatencyCDF, PlotThroughput, PlotTriggers} {
		b, err := os.ReadFile(filepath.Join(dir, name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil || cfg.Width != 1008 || cfg.Height != 648 || len(b) < 10<<10 {
			t.Errorf("%s.png: %d bytes, %dx%d, %v", name, len(b), cfg.Width, cfg.Height, err)
		}
		if _, err := png.Decode(bytes.NewReader(b)); err != nil {
			t.Errorf("%s.png does not decode: %v", name, err)
		}
		s, err := os.ReadFile(filepath.Join(dir, name+".svg"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(s, []byte("<?xml")) || !bytes.Contains(s, []byte("<svg")) || !bytes.HasSuffix(bytes.TrimSpace(s), []byte("</svg>")) || len(s) < 3<<10 {
			t.Errorf("%s.svg: %d bytes, starts %q", name, len(s), s[:min(len(s), 40)])
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	report := string(md)
	for _, want := range []string{"](frontier.png)", "](latency-cdf.png)", "](throughput.png)", "](idp-calls-by-trigger.png)", "## Tiered configurations", "| g01 |"} {
		if !strings.Contains(report, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if v, r := strings.Index(report, "## Verdict"), strings.Index(report, "## Run"); v < 0 || v > r {
		t.Errorf("the verdict is not at the top of report.md (at %d, run at %d)", v, r)
	}
	if len(rep.Plots) != 8 {
		t.Errorf("plots %v", rep.Plots)
	}
}
