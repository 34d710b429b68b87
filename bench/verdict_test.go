package bench

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/config"
)

// handGrid is a small grid with known figures: cost (IdP calls/s at the
// declared rate) rises from A to D while exposure falls; p99 rises.
func handGrid() []StrategyResult {
	cand := func(name string, rps, share, working float64, accepted int, p99 float64, t TieredSpec) StrategyResult {
		t.Name = name
		return StrategyResult{Strategy: name, Kind: StrategyTiered, Tiered: &t, Validations: 1000,
			IdP:      IdPLoad{RPSAtDeclaredRate: rps},
			Exposure: Exposure{Share: share, MaxWorkingS: working, Accepted: accepted},
			Latency:  LatencySummary{P99: p99}}
	}
	return []StrategyResult{
		// Not candidates: the verdict picks among tiered configurations.
		{Strategy: StrategyLocal, Kind: StrategyLocal, IdP: IdPLoad{RPSAtDeclaredRate: 0.01}, Exposure: Exposure{Share: 0.7, MaxWorkingS: 280}},
		{Strategy: StrategyIntrospection, Kind: StrategyIntrospection, IdP: IdPLoad{RPSAtDeclaredRate: 16}},
		cand("A", 2, 0.40, 200, 40, 300, TieredSpec{StandardMaxAge: 30 * time.Second}),
		cand("B", 8, 0.10, 40, 10, 400, TieredSpec{MaxLocalAge: 2 * time.Minute, StandardMaxAge: 30 * time.Second}),
		cand("C", 12, 0.02, 10, 2, 900, TieredSpec{MaxLocalAge: time.Minute, StandardMaxAge: 30 * time.Second, SampleRate: 0.05}),
		cand("D", 20, 0, 0, 0, 2500, TieredSpec{MaxLocalAge: 30 * time.Second, StandardMaxAge: 10 * time.Second, OnUnavailable: "local"}),
	}
}

func mustConstraints(t *testing.T, rps, exposure, p99 string) Constraints {
	t.Helper()
	c, err := ConstraintSpec{MaxIdPRPS: rps, MaxExposure: exposure, MaxP99: p99}.Parse()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDecide checks the verdict against answers worked out by hand from
// handGrid's figures.
func TestDecide(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		rps, exposure, p99 string
		wantChoice         string // "" when none meets
		wantClosest        string
		wantBinding        string
		wantMetBy          map[string]int
	}{
		// No bound: the cheapest, A (2 calls/s).
		{name: "no constraint", wantChoice: "A"},
		// A works 200 s > 60 s; B (8/s, 40 s) is the cheapest left.
		{name: "exposure in seconds", rps: "15", exposure: "60s", wantChoice: "B",
			wantMetBy: map[string]int{ConstraintIdPRPS: 3, ConstraintExposure: 3}},
		// B's 40 s now fails too; C (12/s, 10 s) passes both.
		{name: "tighter exposure", rps: "15", exposure: "30s", wantChoice: "C"},
		// Share form: A 40 %, B 10 % fail; C 2 % meets 5 %.
		{name: "exposure as a share", exposure: "5%", wantChoice: "C"},
		// Equal to the limit meets it.
		{name: "limit inclusive", rps: "8", exposure: "40s", wantChoice: "B"},
		// p99 <= 800 µs rules C out (900), D fails rps (20 > 15) and p99;
		// A and B fail exposure. One violation each for A (200/30: excess
		// 5.67), B (40/30: 0.33), C (900/800: 0.125): C is closest, its
		// p99 binds.
		{name: "none meets: p99 binds", rps: "15", exposure: "30s", p99: "800us",
			wantClosest: "C", wantBinding: ConstraintP99,
			wantMetBy: map[string]int{ConstraintIdPRPS: 3, ConstraintExposure: 2, ConstraintP99: 2}},
		// Count form, 5 requests: A (40) and B (10) fail exposure (excess 7
		// and 1); C and D fail rps 10 (excess 0.2 and 1): C is closest, the
		// IdP budget binds.
		{name: "none meets: IdP budget binds", rps: "10", exposure: "5req",
			wantClosest: "C", wantBinding: ConstraintIdPRPS},
		// A zero exposure limit: any excess over it is infinite, so D (only
		// rps violated, 20 vs 15) is closest even though its excess is
		// larger than the others' finite ones would be.
		{name: "none meets: zero exposure", rps: "15", exposure: "0s",
			wantClosest: "D", wantBinding: ConstraintIdPRPS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := Decide(handGrid(), mustConstraints(t, tt.rps, tt.exposure, tt.p99))
			if v == nil {
				t.Fatal("no verdict")
			}
			if v.Candidates != 4 {
				t.Errorf("candidates %d, want 4", v.Candidates)
			}
			if v.Choice != tt.wantChoice || v.Met != (tt.wantChoice != "") || v.Closest != tt.wantClosest || v.Binding != tt.wantBinding {
				t.Fatalf("verdict choice %q met %v closest %q binding %q; want %q / %q / %q\n%s",
					v.Choice, v.Met, v.Closest, v.Binding, tt.wantChoice, tt.wantClosest, tt.wantBinding, v.Text)
			}
			for _, c := range v.Checks {
				if want, ok := tt.wantMetBy[c.Name]; ok && c.MetBy != want {
					t.Errorf("%s met by %d, want %d", c.Name, c.MetBy, want)
				}
			}
			switch {
			case v.Met && (v.Snippet == "" || !strings.Contains(v.Text, tt.wantChoice)):
				t.Errorf("met without snippet or name: %q", v.Text)
			case !v.Met && (v.Snippet != "" || !strings.Contains(v.Text, "binding constraint is "+tt.wantBinding)):
				t.Errorf("unmet verdict text: %q", v.Text)
			}
		})
	}
}

func TestDecideTies(t *testing.T) {
	t.Parallel()
	g := handGrid()
	// E costs as much as C but exposes less: ties go to lower exposure.
	e := g[4]
	e.Strategy, e.Exposure.Share = "E", 0.01
	g = append(g, e)
	if v := Decide(g, mustConstraints(t, "15", "30s", "")); v.Choice != "E" {
		t.Fatalf("tie: chose %s, want E", v.Choice)
	}
	if v := Decide(g[:2], Constraints{}); v != nil {
		t.Fatalf("verdict without a tiered result: %+v", v)
	}
}

// TestConfigSnippet loads the verdict's snippet through tokenwarden's own
// configuration loader: it must be valid as pasted.
func TestConfigSnippet(t *testing.T) {
	t.Parallel()
	v := Decide(handGrid(), mustConstraints(t, "15", "30s", ""))
	want := `strategies:
  tiered:
    type: tiered
    # the requests the benchmark marked sensitive: list their scopes here or mark their routes sensitive
    # sensitive_scopes: [payments:write]
    max_local_age: 1m
    sensitive_max_age: 0s
    standard_max_age: 30s
    sample_rate: 0.05
    on_unavailable: fail_closed
`
	if v.Snippet != want {
		t.Fatalf("snippet:\n%s\nwant:\n%s", v.Snippet, want)
	}
	head := `issuers:
  - name: kc
    issuer: http://127.0.0.1:8180/realms/dev
    authorized_parties: [demo]
    introspection:
      enabled: true
      client_id: demo
      client_secret: {env: BENCH_SNIPPET_SECRET}
`
	for _, tc := range []TieredSpec{*handGrid()[4].Tiered, *handGrid()[5].Tiered} {
		cfg, err := config.LoadBytes("snippet", []byte(head+ConfigSnippet(tc)), nil)
		if err != nil {
			t.Fatalf("%s\n%v", ConfigSnippet(tc), err)
		}
		got := cfg.Strategies["tiered"]
		if got.Type != "tiered" || got.MaxLocalAge != tc.MaxLocalAge || got.StandardMaxAge != tc.StandardMaxAge ||
			got.SensitiveMaxAge != tc.SensitiveMaxAge || got.SampleRate != tc.SampleRate {
			t.Errorf("loaded %+v, want %+v", got, tc)
		}
		if want := map[string]string{"": "fail_closed", "local": "local"}[tc.OnUnavailable]; got.OnUnavailable != want {
			t.Errorf("on_unavailable %q, want %q", got.OnUnavailable, want)
		}
	}
}

func TestParseConstraints(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      ConstraintSpec
		want    string // the checks' limits, joined
		wantErr bool
	}{
		{in: ConstraintSpec{MaxIdPRPS: "2.5", MaxExposure: "90s", MaxP99: "2ms"}, want: "2.5 calls/s|1m30s|2ms"},
		{in: ConstraintSpec{MaxExposure: "5req"}, want: "5req"},
		{in: ConstraintSpec{MaxExposure: " 2.5% "}, want: "2.5%"},
		{in: ConstraintSpec{MaxExposure: "0s"}, want: "0s"},
		{in: ConstraintSpec{MaxIdPRPS: "-1"}, wantErr: true},
		{in: ConstraintSpec{MaxIdPRPS: "NaN"}, wantErr: true},
		{in: ConstraintSpec{MaxExposure: "5"}, wantErr: true},
		{in: ConstraintSpec{MaxExposure: "-5req"}, wantErr: true},
		{in: ConstraintSpec{MaxExposure: "120%"}, wantErr: true},
		{in: ConstraintSpec{MaxP99: "0s"}, wantErr: true},
	}
	for _, tt := range tests {
		c, err := tt.in.Parse()
		if (err != nil) != tt.wantErr {
			t.Errorf("%+v: error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		var got []string
		for _, b := range c.bounds() {
			got = append(got, b.label)
		}
		if strings.Join(got, "|") != tt.want {
			t.Errorf("%+v: limits %q, want %q", tt.in, strings.Join(got, "|"), tt.want)
		}
	}
	over := ConstraintSpec{MaxIdPRPS: "10", MaxP99: "1ms"}.Override(ConstraintSpec{MaxIdPRPS: "3"})
	if over != (ConstraintSpec{MaxIdPRPS: "3", MaxP99: "1ms"}) {
		t.Errorf("override: %+v", over)
	}
}

func TestGridSpecs(t *testing.T) {
	t.Parallel()
	s, err := ParseScenario("grid", []byte(smallYAML+`
variants:
  - {name: v1, max_local_age: 1m, standard_max_age: 10s}
grid:
  max_local_age: [1m, 0s]
  standard_max_age: [30s, 10s]
  sample_rate: [0, 0.1]
constraints: {max_idp_rps: 3, max_exposure: 1m, max_p99: 2ms}
`))
	if err != nil {
		t.Fatal(err)
	}
	g := s.GridSpecs()
	// 2 x 2 x 2 = 8 combinations, less the one equal to tiered (1m, 30s,
	// 0) and the one equal to v1 (1m, 10s, 0).
	if len(g) != 6 {
		t.Fatalf("%d grid configurations, want 6: %+v", len(g), g)
	}
	if g[0].Name != "g01" || g[0].MaxLocalAge != time.Minute || g[0].StandardMaxAge != 30*time.Second || g[0].SampleRate != 0.1 {
		t.Errorf("g01 = %+v", g[0])
	}
	names := StrategyNames(s)
	if len(names) != 4+1+6 || names[len(names)-1] != "g06" {
		t.Errorf("strategy names %v", names)
	}
	specs, err := resolveStrategies(s, nil, true)
	if err != nil || len(specs) != 5 {
		t.Errorf("--no-grid: %d strategies, %v", len(specs), err)
	}
	specs, err = resolveStrategies(s, []string{"g03"}, false)
	if err != nil || len(specs) != 1 || !specs[0].grid || specs[0].kind != StrategyTiered {
		t.Errorf("g03: %+v %v", specs, err)
	}
	if q := s.Scaled(); q.DeclaredRate() != s.Rate || len(q.GridSpecs()) != 6 {
		t.Errorf("quick: declared rate %g (want %g), grid %d", q.DeclaredRate(), s.Rate, len(q.GridSpecs()))
	}

	for name, bad := range map[string]string{
		"zero standard_max_age": "grid: {standard_max_age: [0s]}",
		"too many":              "grid: {max_local_age: [1s, 2s, 3s, 4s, 5s, 6s, 7s, 8s], standard_max_age: [1s, 2s, 3s, 4s, 5s, 6s, 7s, 8s, 9s]}",
		"empty":                 "grid: {}",
		"sample rate":           "grid: {sample_rate: [1.5]}",
		"on_unavailable":        "grid: {on_unavailable: [maybe]}",
		"reserved name":         "grid: {sample_rate: [0.1]}\nvariants: [{name: g01, standard_max_age: 1s}]",
		"bad constraint":        "constraints: {max_exposure: soon}",
	} {
		if _, err := ParseScenario(name, []byte(smallYAML+bad)); !errors.Is(err, ErrScenario) {
			t.Errorf("%s: %v, want ErrScenario", name, err)
		}
	}
}
