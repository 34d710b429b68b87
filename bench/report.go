package bench

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of Run: the scenario, the machine, the crypto floor
// and one StrategyResult per strategy, in run order.
type Report struct {
	Scenario    ScenarioInfo     `json:"scenario"`
	Workload    Summary          `json:"workload"`
	Machine     Machine          `json:"machine"`
	Mode        string           `json:"mode"` // library or http
	Concurrency int              `json:"concurrency"`
	Floor       Floor            `json:"crypto_floor"`
	Results     []StrategyResult `json:"results"`
	Started     time.Time        `json:"started"`
	// ElapsedSeconds is the whole run's real time, minting included.
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	// Clocks says which figures are virtual and which real time.
	Clocks map[string]string `json:"clocks"`
	// Verdict picks the cheapest tiered configuration meeting Constraints
	// (nil without a tiered result).
	Verdict     *Verdict    `json:"verdict,omitempty"`
	Constraints Constraints `json:"-"`
	// Issuer describes a real-issuer run (RunIssuer); nil for a replay.
	Issuer *IssuerInfo `json:"issuer,omitempty"`
	// Plots lists the figures WriteDir wrote, relative to its directory.
	Plots []string `json:"plots,omitempty"`
}

// ScenarioInfo is the scenario as run.
type ScenarioInfo struct {
	Name             string       `json:"name"`
	Description      string       `json:"description"`
	Seed             uint64       `json:"seed"`
	Quick            bool         `json:"quick"`
	Duration         string       `json:"duration"`
	Rate             float64      `json:"rate"`
	DeclaredRate     float64      `json:"declared_rate"`
	VirtualSeconds   float64      `json:"virtual_seconds"`
	Users            int          `json:"users"`
	SessionLength    string       `json:"session_length"`
	TokenLifetime    string       `json:"token_lifetime"`
	RequestsPerToken string       `json:"requests_per_token"`
	SensitiveShare   float64      `json:"sensitive_share"`
	BackchannelShare float64      `json:"backchannel_share"`
	SigningAlg       string       `json:"signing_alg"`
	IdP              string       `json:"idp"`
	Introspection    string       `json:"introspection"`
	Tiered           []TieredInfo `json:"tiered"`
}

// TieredInfo is one tiered configuration as run.
type TieredInfo struct {
	Name   string `json:"name"`
	Config string `json:"config"`
}

// Machine describes where the run happened.
type Machine struct {
	GoVersion string `json:"go_version"`
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	NumCPU    int    `json:"num_cpu"`
	CPUModel  string `json:"cpu_model"`
}

func machineInfo() Machine {
	return Machine{GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, NumCPU: runtime.NumCPU(), CPUModel: cpuModel()}
}

// cpuModel reads the first "model name" of /proc/cpuinfo ("" elsewhere).
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func tieredConfig(t TieredSpec) string {
	on := t.OnUnavailable
	if on == "" {
		on = "fail_closed"
	}
	return fmt.Sprintf("max_local_age=%s standard_max_age=%s sensitive_max_age=%s sample_rate=%g on_unavailable=%s",
		fmtDuration(t.MaxLocalAge), fmtDuration(t.StandardMaxAge), fmtDuration(t.SensitiveMaxAge), t.SampleRate, on)
}

func scenarioInfo(s *Scenario) ScenarioInfo {
	d := s.RequestsPerToken
	rpt := fmt.Sprintf("%s mean %g", d.Kind, d.Mean)
	if d.Kind == DistZipf {
		rpt += fmt.Sprintf(" s %g", d.S)
	}
	idp := "no injected latency or errors"
	if f := s.IdP; f.Latency > 0 || f.Jitter > 0 || f.ErrorRate > 0 {
		idp = fmt.Sprintf("latency %s + uniform [0, %s), error rate %g, on %s", f.Latency, f.Jitter, f.ErrorRate, strings.Join(f.Endpoints, ", "))
	}
	info := ScenarioInfo{
		Name: s.Name, Description: strings.TrimSpace(s.Description), Seed: s.Seed, Quick: s.Quick,
		Duration: s.Duration.String(), Rate: s.Rate, DeclaredRate: s.DeclaredRate(), VirtualSeconds: s.Duration.Seconds(), Users: s.Users, SessionLength: s.SessionLength.String(),
		TokenLifetime: s.TokenLifetime.String(), RequestsPerToken: rpt, SensitiveShare: s.SensitiveShare,
		BackchannelShare: s.BackchannelShare, SigningAlg: s.SigningAlg, IdP: idp,
		Introspection: fmt.Sprintf("standard_max_age=%s sensitive_max_age=%s", s.Introspection.StandardMaxAge, s.Introspection.SensitiveMaxAge),
		Tiered:        []TieredInfo{{Name: StrategyTiered, Config: tieredConfig(s.Tiered)}},
	}
	for _, v := range s.Variants {
		info.Tiered = append(info.Tiered, TieredInfo{Name: v.Name, Config: tieredConfig(v)})
	}
	for _, g := range s.GridSpecs() {
		info.Tiered = append(info.Tiered, TieredInfo{Name: g.Name, Config: tieredConfig(g)})
	}
	return info
}

// clockNotes say which figures are virtual and which real time.
var clockNotes = map[string]string{
	"virtual": "scenario time on the shared manual clock (IdP, keys, introspection cache, revocation store, strategies): " +
		"request and event times, token lifetimes, cache ages, exposure (revocation to first refusal)",
	"real": "wall and CPU time of this process: latency (time.Now around each validation), validations/s over the busy " +
		"periods, CPU per validation (getrusage, every goroutine including the in-process IdP), the crypto floor, " +
		"and injected IdP latency (real sleeps)",
	"counts": "IdP calls (idpsim counters), outcomes and exposure counts: deterministic for a seed with concurrency 1",
}

// finish derives the cross-strategy figures.
func (r *Report) finish() {
	r.Clocks = clockNotes
	var intro *StrategyResult
	for i := range r.Results {
		if r.Results[i].Kind == StrategyIntrospection {
			intro = &r.Results[i]
			break
		}
	}
	for i := range r.Results {
		res := &r.Results[i]
		if n := float64(res.Validations); n > 0 {
			all := res.IdP.Introspections + res.IdP.JWKSFetches + res.IdP.DiscoveryFetches
			res.IdP.Per1000 = float64(all) * 1000 / n
			res.IdP.IntrospectionsPer1000 = float64(res.IdP.Introspections) * 1000 / n
			res.IdP.RPSAtDeclaredRate = idpRPS(res, r.Scenario.DeclaredRate, r.Scenario.VirtualSeconds)
		}
		if intro != nil {
			a := intro.IdP.Introspections - res.IdP.Introspections
			res.IdP.Avoided = &a
			if intro.IdP.Introspections > 0 {
				p := 100 * float64(a) / float64(intro.IdP.Introspections)
				res.IdP.AvoidedPct = &p
			}
		}
		if r.Floor.MeanUS > 0 {
			res.FloorRatioMean = res.Latency.Mean / r.Floor.MeanUS
		}
		if r.Floor.P50US > 0 {
			res.FloorRatioP50 = res.Latency.P50 / r.Floor.P50US
		}
	}
}

// idpRPS is IdPLoad.RPSAtDeclaredRate: introspections follow traffic, key
// and discovery fetches follow time (refresh intervals, rotations) when the
// run's duration is known.
func idpRPS(res *StrategyResult, rate, seconds float64) float64 {
	if res.Validations == 0 {
		return 0
	}
	perVal := func(n int64) float64 { return float64(n) / float64(res.Validations) * rate }
	fetches := res.IdP.JWKSFetches + res.IdP.DiscoveryFetches
	if seconds <= 0 {
		return perVal(res.IdP.Introspections + fetches)
	}
	return perVal(res.IdP.Introspections) + float64(fetches)/seconds
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

func pct(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + "%" }

func avoided(l IdPLoad) string {
	if l.Avoided == nil {
		return "n/a"
	}
	s := strconv.FormatInt(*l.Avoided, 10)
	if l.AvoidedPct != nil {
		s += " (" + f1(*l.AvoidedPct) + "%)"
	}
	return s
}

func cpu(v float64) string {
	if v < 0 {
		return "n/a"
	}
	return f1(v)
}

// tables are the report's tables: header and rows each. Grid
// configurations have a table of their own (gridTable).
func (r *Report) tables() [3][][]string {
	perf := [][]string{{"strategy", "validations", "val/s", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs", "mean µs", "CPU µs/val", "x floor p50", "x floor mean"}}
	load := [][]string{{"strategy", "introspections", "JWKS fetches", "discovery", "IdP calls/1k val", "IdP calls/s at " + r.rateLabel(), "peak in flight", "avoided vs introspection"}}
	expo := [][]string{{"strategy", "post-revocation reqs", "accepted after revocation (sens/std)", "exposure share", "max rev→refusal s", "mean rev→refusal s", "max/mean still working s", "never refused", "false refusals (503)", "degraded"}}
	for _, res := range r.Results {
		if res.Grid {
			continue
		}
		l, e := res.Latency, res.Exposure
		perf = append(perf, []string{res.Strategy, strconv.Itoa(res.Validations), strconv.FormatFloat(res.Throughput, 'f', 0, 64),
			f1(l.P50), f1(l.P90), f1(l.P99), f1(l.P999), f1(l.Max), f1(l.Mean), cpu(res.CPUPerValidationUS), ratio(res.FloorRatioP50), ratio(res.FloorRatioMean)})
		load = append(load, []string{res.Strategy, strconv.FormatInt(res.IdP.Introspections, 10), strconv.FormatInt(res.IdP.JWKSFetches, 10),
			strconv.FormatInt(res.IdP.DiscoveryFetches, 10), f1(res.IdP.Per1000), f2(res.IdP.RPSAtDeclaredRate), strconv.FormatInt(res.IdP.PeakIntrospectionsInFlight, 10), avoided(res.IdP)})
		if r.Issuer != nil && !r.Issuer.RevocationMeasured {
			expo = append(expo, []string{res.Strategy, "not measured", "not measured", "", "", "", "", "", fmt.Sprintf("%d (%d)", res.FalseRefusals, res.FalseRefusalsUnavailable), strconv.Itoa(res.Degraded)})
			continue
		}
		expo = append(expo, []string{res.Strategy, strconv.Itoa(e.PostRevocation),
			fmt.Sprintf("%d (%d/%d)", e.Accepted, e.AcceptedSensitive, e.AcceptedStandard), pct(e.Share),
			f1(e.MaxToRefusalS), f1(e.MeanToRefusalS), f1(e.MaxWorkingS) + " / " + f1(e.MeanWorkingS), fmt.Sprintf("%d/%d", e.NeverRefused, e.RevokedTokensUsed),
			fmt.Sprintf("%d (%d)", res.FalseRefusals, res.FalseRefusalsUnavailable), strconv.Itoa(res.Degraded)})
	}
	return [3][][]string{perf, load, expo}
}

func ratio(v float64) string {
	if v == 0 {
		return "n/a"
	}
	return f2(v)
}

// rateLabel names the rate IdP calls per second are given at.
func (r *Report) rateLabel() string {
	return strconv.FormatFloat(r.Scenario.DeclaredRate, 'g', 4, 64) + " val/s"
}

// gridTable compares every tiered configuration (base, variants, grid) on
// the verdict's figures; nil with fewer than two.
func (r *Report) gridTable() [][]string {
	t := [][]string{{"config", "max_local_age", "standard_max_age", "sensitive_max_age", "sample_rate", "on_unavailable",
		"IdP calls/s at " + r.rateLabel(), "IdP calls/1k val", "exposure share", "max still working s", "accepted after revocation", "p99 µs", "meets all"}}
	var cands []StrategyResult
	for _, res := range r.Results {
		if res.Kind == StrategyTiered && res.Tiered != nil {
			cands = append(cands, res)
		}
	}
	if len(cands) < 2 {
		return nil
	}
	bs := r.Constraints.bounds()
	for _, res := range cands {
		tc := *res.Tiered
		on := tc.OnUnavailable
		if on == "" {
			on = "fail_closed"
		}
		meets := "yes"
		if len(bs) == 0 {
			meets = "n/a"
		}
		for _, b := range bs {
			if excess(b.value(&res), b.limit) > 0 {
				meets = "no (" + b.name + ")"
				break
			}
		}
		name := res.Strategy
		if r.Verdict != nil && r.Verdict.Choice == name {
			name = "**" + name + "** ✓"
		}
		e := res.Exposure
		t = append(t, []string{name, fmtDuration(tc.MaxLocalAge), fmtDuration(tc.StandardMaxAge), fmtDuration(tc.SensitiveMaxAge),
			strconv.FormatFloat(tc.SampleRate, 'g', -1, 64), on, f2(res.IdP.RPSAtDeclaredRate), f1(res.IdP.Per1000), pct(e.Share),
			f1(e.MaxWorkingS), strconv.Itoa(e.Accepted), f1(res.Latency.P99), meets})
	}
	return t
}

func (r *Report) tableTitles() [3]string {
	expo := "Revocation exposure (virtual time)"
	if r.Issuer != nil {
		expo = "Revocation exposure (real time)"
	}
	return [3]string{
		"Performance (real time)",
		"IdP load (counted by the " + map[bool]string{true: "harness's HTTP clients", false: "IdP"}[r.Issuer != nil] + ")",
		expo,
	}
}

func writeAligned(w io.Writer, t [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, row := range t {
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	return tw.Flush()
}

// header is the run's one-line description for a terminal.
func (r *Report) header(w io.Writer) {
	if is := r.Issuer; is != nil {
		fmt.Fprintf(w, "issuer %s (%s grant), %d tokens and %d requests per strategy, IdP calls capped at %g/s, %d CPUs (%s)\n",
			is.URL, is.Grant, is.Tokens, is.Requests, is.RateCap, r.Machine.NumCPU, r.Machine.CPUModel)
		return
	}
	fmt.Fprintf(w, "scenario %s (seed %d%s), %s mode, concurrency %d, %d requests / %d tokens, %d CPUs (%s)\n",
		r.Scenario.Name, r.Scenario.Seed, map[bool]string{true: ", quick", false: ""}[r.Scenario.Quick], r.Mode, r.Concurrency,
		r.Workload.Requests, r.Workload.Tokens, r.Machine.NumCPU, r.Machine.CPUModel)
	fmt.Fprintf(w, "crypto floor: %s verify p50 %.1f µs, mean %.1f µs over %d tokens\n", r.Floor.Alg, r.Floor.P50US, r.Floor.MeanUS, r.Floor.Verifies)
}

// WriteTable writes the tables for a terminal, then the verdict.
func (r *Report) WriteTable(w io.Writer) error {
	r.header(w)
	titles := r.tableTitles()
	for i, t := range r.tables() {
		fmt.Fprintf(w, "\n%s\n", titles[i])
		if err := writeAligned(w, t); err != nil {
			return err
		}
	}
	if g := r.gridTable(); g != nil {
		fmt.Fprintf(w, "\nTiered configurations (IdP calls/s at the declared rate of real traffic)\n")
		for i := range g {
			g[i][0] = strings.ReplaceAll(strings.ReplaceAll(g[i][0], "**", ""), " ✓", " *")
		}
		if err := writeAligned(w, g); err != nil {
			return err
		}
	}
	if v := r.Verdict; v != nil {
		fmt.Fprintf(w, "\nVerdict: %s\n", v.Text)
		if v.Snippet != "" {
			fmt.Fprintf(w, "\n%s", v.Snippet)
		}
	}
	return nil
}

// WriteJSON writes the report as indented JSON (results.json).
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// csvHeader is the column list of WriteCSV: one row per strategy.
var csvHeader = []string{
	"scenario", "seed", "quick", "mode", "concurrency", "strategy", "kind", "validations", "busy_s", "validations_per_s",
	"lat_mean_us", "lat_p50_us", "lat_p90_us", "lat_p99_us", "lat_p99_9_us", "lat_max_us", "cpu_per_validation_us",
	"floor_p50_us", "floor_ratio_p50", "floor_ratio_mean",
	"introspections", "jwks_fetches", "discovery_fetches", "idp_calls_per_1000", "peak_introspections_in_flight", "avoided_vs_introspection",
	"post_revocation", "post_revocation_sensitive", "post_revocation_standard", "accepted_after_revocation",
	"accepted_after_revocation_sensitive", "accepted_after_revocation_standard", "exposure_share",
	"max_revocation_to_refusal_s", "mean_revocation_to_refusal_s", "max_working_after_revocation_s", "mean_working_after_revocation_s", "revoked_tokens_used", "never_refused",
	"false_refusals", "false_refusals_unavailable", "degraded",
	"accepted", "invalid", "inactive", "forbidden", "unavailable", "not_applicable", "pushes_accepted", "pushes_refused",
	"grid", "config", "idp_calls_per_s_at_declared_rate",
}

// WriteCSV writes one row per strategy (results.csv).
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	for _, res := range r.Results {
		av := ""
		if res.IdP.Avoided != nil {
			av = strconv.FormatInt(*res.IdP.Avoided, 10)
		}
		l, e, o := res.Latency, res.Exposure, res.Outcomes
		row := []string{
			r.Scenario.Name, strconv.FormatUint(r.Scenario.Seed, 10), strconv.FormatBool(r.Scenario.Quick), r.Mode, strconv.Itoa(r.Concurrency),
			res.Strategy, res.Kind, strconv.Itoa(res.Validations), g(res.BusySeconds), g(res.Throughput),
			g(l.Mean), g(l.P50), g(l.P90), g(l.P99), g(l.P999), g(l.Max), g(res.CPUPerValidationUS),
			g(r.Floor.P50US), g(res.FloorRatioP50), g(res.FloorRatioMean),
			strconv.FormatInt(res.IdP.Introspections, 10), strconv.FormatInt(res.IdP.JWKSFetches, 10), strconv.FormatInt(res.IdP.DiscoveryFetches, 10),
			g(res.IdP.Per1000), strconv.FormatInt(res.IdP.PeakIntrospectionsInFlight, 10), av,
			strconv.Itoa(e.PostRevocation), strconv.Itoa(e.PostRevocationSensitive), strconv.Itoa(e.PostRevocationStandard), strconv.Itoa(e.Accepted),
			strconv.Itoa(e.AcceptedSensitive), strconv.Itoa(e.AcceptedStandard), g(e.Share),
			g(e.MaxToRefusalS), g(e.MeanToRefusalS), g(e.MaxWorkingS), g(e.MeanWorkingS), strconv.Itoa(e.RevokedTokensUsed), strconv.Itoa(e.NeverRefused),
			strconv.Itoa(res.FalseRefusals), strconv.Itoa(res.FalseRefusalsUnavailable), strconv.Itoa(res.Degraded),
			strconv.Itoa(o["accepted"]), strconv.Itoa(o["invalid"]), strconv.Itoa(o["inactive"]), strconv.Itoa(o["forbidden"]),
			strconv.Itoa(o["unavailable"]), strconv.Itoa(o["not_applicable"]),
			strconv.FormatInt(res.Pushes.Accepted, 10), strconv.FormatInt(res.Pushes.Refused, 10),
			strconv.FormatBool(res.Grid), res.Config, g(res.IdP.RPSAtDeclaredRate),
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func mdTable(w io.Writer, t [][]string) {
	for i, row := range t {
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
		if i == 0 {
			fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(row)))
		}
	}
}

// plot returns the markdown image of a plot WriteDir wrote ("" if none).
func (r *Report) plot(name, alt string) string {
	if !slices.Contains(r.Plots, name+".png") {
		return ""
	}
	return fmt.Sprintf("![%s](%s.png)\n\n", alt, name)
}

// writeVerdict writes the verdict section of report.md.
func (r *Report) writeVerdict(w io.Writer) {
	v := r.Verdict
	if v == nil {
		return
	}
	fmt.Fprintf(w, "## Verdict\n\n%s\n\n", v.Text)
	if len(v.Checks) > 0 {
		who := v.Choice
		if !v.Met {
			who = v.Closest + " (closest)"
		}
		t := [][]string{{"constraint", "limit", who, "met", "configurations meeting it"}}
		for _, c := range v.Checks {
			t = append(t, []string{"`--" + c.Name + "`", c.Limit, c.Value, map[bool]string{true: "yes", false: "**no**"}[c.Met],
				fmt.Sprintf("%d of %d", c.MetBy, v.Candidates)})
		}
		mdTable(w, t)
		fmt.Fprintln(w)
	}
	if v.Snippet != "" {
		fmt.Fprintf(w, "Configuration to paste (tokenwarden's config file):\n\n```yaml\n%s```\n\n", v.Snippet)
	}
	fmt.Fprintf(w, "IdP calls/s are at the scenario's declared rate of %s (introspections per validation x that rate, plus key and discovery fetches per second of the run); "+
		"exposure is %s; p99 is real time on this machine.\n\n",
		r.rateLabel(), map[bool]string{true: "real time", false: "virtual time"}[r.Issuer != nil])
}

// WriteMarkdown writes report.md: the verdict, the run's description, the
// tables, the figures WriteDir drew, and what the figures mean.
func (r *Report) WriteMarkdown(w io.Writer) error {
	s, m, wl := r.Scenario, r.Machine, r.Workload
	bw := bufio.NewWriter(w)
	if r.Issuer != nil {
		fmt.Fprintf(bw, "# tokenwarden bench: %s\n\n", r.Issuer.URL)
	} else {
		fmt.Fprintf(bw, "# tokenwarden bench: %s\n\n", s.Name)
		if s.Description != "" {
			fmt.Fprintf(bw, "%s\n\n", s.Description)
		}
	}
	r.writeVerdict(bw)
	bw.WriteString(r.plot("frontier", "IdP calls against revocation exposure"))
	fmt.Fprintf(bw, "## Run\n\n")
	fmt.Fprintf(bw, "- date: %s; run took %.1f s real (token minting included)\n", r.Started.Format(time.RFC3339), r.ElapsedSeconds)
	fmt.Fprintf(bw, "- machine: %s %s/%s, %d CPUs, %s\n", m.GoVersion, m.GOOS, m.GOARCH, m.NumCPU, m.CPUModel)
	if is := r.Issuer; is != nil {
		r.writeIssuerRun(bw)
	} else {
		fmt.Fprintf(bw, "- mode: %s (validations through %s), concurrency %d; the IdP (idpsim) runs in the same process and competes for the same CPUs\n",
			r.Mode, map[string]string{"library": "strategy.Strategy.Validate", "http": "POST /v1/validate on loopback"}[r.Mode], r.Concurrency)
		fmt.Fprintf(bw, "- scenario: seed %d%s; %s virtual at %g validations/s (declared: %g/s); %d users; sessions of %s mean; tokens live %s, %s requests each; %.1f%% sensitive; %.0f%% of sessions with back-channel logout; %s\n",
			s.Seed, map[bool]string{true: " (--quick)", false: ""}[s.Quick], s.Duration, s.Rate, s.DeclaredRate, s.Users, s.SessionLength, s.TokenLifetime,
			s.RequestsPerToken, 100*s.SensitiveShare, 100*s.BackchannelShare, s.SigningAlg)
		fmt.Fprintf(bw, "- IdP: %s\n", s.IdP)
		fmt.Fprintf(bw, "- introspection: %s\n", s.Introspection)
		for _, t := range s.Tiered {
			if !r.isGrid(t.Name) {
				fmt.Fprintf(bw, "- %s: %s\n", t.Name, t.Config)
			}
		}
		fmt.Fprintf(bw, "- workload: %d requests (%d sensitive), %d tokens, %d sessions, events %v (%d pushed, %d without target), %d key rotations; %d tokens revoked, %d requests after revocation; hash %s\n",
			wl.Requests, wl.SensitiveRequests, wl.Tokens, wl.Sessions, wl.Events, wl.PushedEvents, wl.SkippedEvents, wl.KeyRotations,
			wl.RevokedTokens, wl.PostRevocationRequests, wl.Hash[:min(16, len(wl.Hash))])
		fmt.Fprintf(bw, "- crypto floor: %s signature verification (standard library) of %d of the run's tokens: p50 %.1f µs, mean %.1f µs\n",
			r.Floor.Alg, r.Floor.Verifies, r.Floor.P50US, r.Floor.MeanUS)
	}
	fmt.Fprintln(bw)
	titles := r.tableTitles()
	figs := [3]string{
		r.plot("latency-cdf", "latency CDF per strategy") + r.plot("throughput", "throughput per strategy"),
		r.plot("idp-calls-by-trigger", "IdP calls by trigger"),
		"",
	}
	for i, t := range r.tables() {
		fmt.Fprintf(bw, "## %s\n\n", titles[i])
		mdTable(bw, t)
		fmt.Fprintln(bw)
		bw.WriteString(figs[i])
	}
	if g := r.gridTable(); g != nil {
		fmt.Fprintf(bw, "## Tiered configurations\n\nEvery tiered configuration the run tried (the base, the variants and the scenario's grid), on the verdict's figures.\n\n")
		mdTable(bw, g)
		fmt.Fprintln(bw)
	}
	fmt.Fprintf(bw, "## Reading the figures\n\n")
	if r.Issuer != nil {
		fmt.Fprintf(bw, "- **Real time** throughout: latency excludes the harness's own waits for the IdP rate cap; exposure times are wall-clock seconds from the revocation call.\n")
		fmt.Fprintf(bw, "- **IdP calls** are the HTTP requests the harness's own clients sent (key resolver, introspection client), counted by a wrapping RoundTripper; token minting and revocation are counted apart.\n")
	} else {
		fmt.Fprintf(bw, "- **Virtual time**: %s.\n", clockNotes["virtual"])
		fmt.Fprintf(bw, "- **Real time**: %s.\n", clockNotes["real"])
		fmt.Fprintf(bw, "- **Counts**: %s.\n", clockNotes["counts"])
		fmt.Fprintf(bw, "- Every strategy replays the same requests and events against a fresh IdP and a freshly built tokenwarden (no warm cache carries over). "+
			"`local` and the introspecting strategies hold a revocation store fed by the IdP's back-channel logouts and not-before pushes; `local-pure` has none.\n")
	}
	fmt.Fprintf(bw, "- **Exposure**: requests the validator accepted although the IdP had already revoked the token (RFC 7009 revocation, logout of its session, or a not-before policy after its iat). "+
		"Revocation→refusal is per revoked token used after its revocation: time to its first refusal; a token never refused counts until its exp "+
		"(so it includes the wait for the token's next use). Still working: time from revocation to the token's last accepted request (0 if none was accepted).\n")
	fmt.Fprintf(bw, "- **IdP calls/s at the declared rate**: what the strategy would send the IdP under the modelled real traffic (%s), not during this compressed run.\n", r.rateLabel())
	fmt.Fprintf(bw, "- **IdP calls by trigger**: introspections that reached the IdP (not cache hits), each under the first rule that fired for its request.\n")
	fmt.Fprintf(bw, "- **False refusals**: refusals of tokens neither revoked nor expired (in brackets: 503, IdP or keys unavailable).\n")
	fmt.Fprintf(bw, "- **x floor**: latency over the crypto floor's (median over median, mean over mean); a verified-claims cache hit is below 1.\n")
	return bw.Flush()
}

func (r *Report) isGrid(name string) bool {
	for _, res := range r.Results {
		if res.Strategy == name {
			return res.Grid
		}
	}
	return false
}

// WriteDir writes the plots (PNG and SVG), report.md, results.json and
// results.csv into dir (created if needed).
func (r *Report) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	plots, err := r.WritePlots(dir)
	if err != nil {
		return err
	}
	r.Plots = plots
	for _, name := range []string{"report.md", "results.json", "results.csv"} {
		write := map[string]func(io.Writer) error{
			"report.md": r.WriteMarkdown, "results.json": r.WriteJSON, "results.csv": r.WriteCSV,
		}[name]
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := write(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}
