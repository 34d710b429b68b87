package bench

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxGrid bounds the tiered configurations a grid may declare: each one is a
// full replay of the workload.
const maxGrid = 64

// GridSpec declares tiered settings to try. Every combination of the listed
// values becomes a tiered strategy of its own, named g01, g02, ... in the
// order of the product (max_local_age varies slowest, on_unavailable
// fastest); an empty list takes the base tiered configuration's value.
// standard_max_age values must be positive: tokenwarden's configuration
// cannot express 0 (it means "default 30s" there).
type GridSpec struct {
	MaxLocalAge     []time.Duration `yaml:"max_local_age"`
	SensitiveMaxAge []time.Duration `yaml:"sensitive_max_age"`
	StandardMaxAge  []time.Duration `yaml:"standard_max_age"`
	SampleRate      []float64       `yaml:"sample_rate"`
	OnUnavailable   []string        `yaml:"on_unavailable"`
}

func (g GridSpec) clone() GridSpec {
	return GridSpec{MaxLocalAge: slices.Clone(g.MaxLocalAge), SensitiveMaxAge: slices.Clone(g.SensitiveMaxAge),
		StandardMaxAge: slices.Clone(g.StandardMaxAge), SampleRate: slices.Clone(g.SampleRate), OnUnavailable: slices.Clone(g.OnUnavailable)}
}

func (g *GridSpec) size() int {
	n := 1
	for _, l := range []int{len(g.MaxLocalAge), len(g.SensitiveMaxAge), len(g.StandardMaxAge), len(g.SampleRate), len(g.OnUnavailable)} {
		n *= max(l, 1)
	}
	return n
}

func (g *GridSpec) validate() error {
	if g == nil {
		return nil
	}
	if len(g.MaxLocalAge)+len(g.SensitiveMaxAge)+len(g.StandardMaxAge)+len(g.SampleRate)+len(g.OnUnavailable) == 0 {
		return errors.New("no setting listed")
	}
	// Bound each list before multiplying, so the product cannot overflow.
	for _, l := range []int{len(g.MaxLocalAge), len(g.SensitiveMaxAge), len(g.StandardMaxAge), len(g.SampleRate), len(g.OnUnavailable)} {
		if l > maxGrid {
			return fmt.Errorf("more than %d values in a list", maxGrid)
		}
	}
	if n := g.size(); n > maxGrid {
		return fmt.Errorf("%d combinations, more than %d", n, maxGrid)
	}
	for _, d := range g.MaxLocalAge {
		if d < 0 {
			return fmt.Errorf("max_local_age %s is negative", d)
		}
	}
	for _, d := range g.SensitiveMaxAge {
		if d < 0 {
			return fmt.Errorf("sensitive_max_age %s is negative", d)
		}
	}
	for _, d := range g.StandardMaxAge {
		if d <= 0 {
			return fmt.Errorf("standard_max_age %s must be > 0 (tokenwarden's configuration requires it)", d)
		}
	}
	for _, r := range g.SampleRate {
		if math.IsNaN(r) || r < 0 || r > 1 {
			return fmt.Errorf("sample_rate %g is outside [0, 1]", r)
		}
	}
	for _, o := range g.OnUnavailable {
		if o != "fail_closed" && o != "local" {
			return fmt.Errorf("on_unavailable %q is not fail_closed or local", o)
		}
	}
	return nil
}

// gridName is the strategy name of the i-th (0-based) grid configuration.
func gridName(i int) string { return fmt.Sprintf("g%02d", i+1) }

// GridSpecs expands the scenario's grid into named tiered configurations
// (nil without a grid). Combinations equal to the base tiered
// configuration, a variant or an earlier combination are dropped (they run
// under that name); names follow the product order, so they are stable for
// a file.
func (s *Scenario) GridSpecs() []TieredSpec {
	g := s.Grid
	if g == nil {
		return nil
	}
	base := s.Tiered
	or := func(l []time.Duration, d time.Duration) []time.Duration {
		if len(l) == 0 {
			return []time.Duration{d}
		}
		return l
	}
	rates := g.SampleRate
	if len(rates) == 0 {
		rates = []float64{base.SampleRate}
	}
	ons := g.OnUnavailable
	if len(ons) == 0 {
		ons = []string{base.OnUnavailable}
	}
	var out []TieredSpec
	for _, mla := range or(g.MaxLocalAge, base.MaxLocalAge) {
		for _, sens := range or(g.SensitiveMaxAge, base.SensitiveMaxAge) {
			for _, std := range or(g.StandardMaxAge, base.StandardMaxAge) {
				for _, sr := range rates {
					for _, on := range ons {
						t := TieredSpec{MaxLocalAge: mla, SensitiveMaxAge: sens, StandardMaxAge: std, SampleRate: sr, OnUnavailable: on}
						same := func(o TieredSpec) bool { return sameTiered(o, t) }
						if same(base) || slices.ContainsFunc(s.Variants, same) || slices.ContainsFunc(out, same) {
							continue // already run under another name
						}
						t.Name = gridName(len(out))
						out = append(out, t)
					}
				}
			}
		}
	}
	return out
}

// sameTiered reports whether a and b configure the same policy (names
// aside; fail_closed is the default).
func sameTiered(a, b TieredSpec) bool {
	norm := func(t TieredSpec) TieredSpec {
		t.Name = ""
		if t.OnUnavailable == "fail_closed" {
			t.OnUnavailable = ""
		}
		return t
	}
	return norm(a) == norm(b)
}

// Exposure limit kinds.
const (
	// ExposureSeconds limits Exposure.MaxWorkingS: the longest time a
	// revoked token kept being accepted (revocation to its last accepted
	// request).
	ExposureSeconds = "seconds"
	// ExposureRequests limits Exposure.Accepted: requests accepted with an
	// already revoked token over the run (a count of this run: --quick
	// replays fewer requests).
	ExposureRequests = "requests"
	// ExposureShare limits Exposure.Share: the fraction of post-revocation
	// requests accepted.
	ExposureShare = "share"
)

// ExposureLimit is a bound on revocation exposure. Written as a duration
// ("60s", "2m": seconds of "still working", the maximum over revoked
// tokens), a count with the suffix "req" ("5req": requests accepted after
// revocation in the run) or a percentage ("2%": share of post-revocation
// requests accepted).
type ExposureLimit struct {
	Kind  string  `json:"kind"`
	Value float64 `json:"value"` // seconds, requests, or a fraction in [0, 1]
}

// ParseExposureLimit parses "60s", "5req" or "2%".
func ParseExposureLimit(s string) (ExposureLimit, error) {
	s = strings.TrimSpace(s)
	finite := func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
	switch {
	case strings.HasSuffix(s, "req"):
		n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(s, "req")))
		if err != nil || n < 0 {
			return ExposureLimit{}, fmt.Errorf("exposure %q: want a non-negative count like 5req", s)
		}
		return ExposureLimit{Kind: ExposureRequests, Value: float64(n)}, nil
	case strings.HasSuffix(s, "%"):
		p, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
		if err != nil || !finite(p) || p < 0 || p > 100 {
			return ExposureLimit{}, fmt.Errorf("exposure %q: want a percentage in [0, 100] like 2%%", s)
		}
		return ExposureLimit{Kind: ExposureShare, Value: p / 100}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return ExposureLimit{}, fmt.Errorf("exposure %q: want a duration (60s: seconds still working), a count (5req) or a share (2%%)", s)
	}
	return ExposureLimit{Kind: ExposureSeconds, Value: d.Seconds()}, nil
}

func (e ExposureLimit) String() string {
	switch e.Kind {
	case ExposureRequests:
		return fmt.Sprintf("%greq", e.Value)
	case ExposureShare:
		return strconv.FormatFloat(100*e.Value, 'g', 4, 64) + "%"
	}
	return fmtSeconds(e.Value)
}

// value is the result's figure this limit bounds.
func (e ExposureLimit) value(res *StrategyResult) float64 {
	switch e.Kind {
	case ExposureRequests:
		return float64(res.Exposure.Accepted)
	case ExposureShare:
		return res.Exposure.Share
	}
	return res.Exposure.MaxWorkingS
}

func (e ExposureLimit) format(v float64) string {
	switch e.Kind {
	case ExposureRequests:
		return fmt.Sprintf("%.0freq", v)
	case ExposureShare:
		return pct(v)
	}
	return fmtSeconds(v)
}

func (e ExposureLimit) say(v float64) string {
	switch e.Kind {
	case ExposureRequests:
		return fmt.Sprintf("%.0f requests accepted after revocation", v)
	case ExposureShare:
		return pct(v) + " of post-revocation requests accepted"
	}
	return "revoked tokens working at most " + fmtSeconds(v) + " after revocation"
}

// Constraints are the verdict's bounds; a nil field is no bound.
type Constraints struct {
	// MaxIdPRPS bounds IdP calls per second of real traffic at the
	// scenario's declared request rate (IdPLoad.RPSAtDeclaredRate).
	MaxIdPRPS *float64
	// MaxExposure bounds revocation exposure (see ExposureLimit).
	MaxExposure *ExposureLimit
	// MaxP99 bounds the 99th percentile validation latency (real time).
	MaxP99 *time.Duration
}

// ConstraintSpec is Constraints as written in a scenario or on the command
// line: strings, "" for none. max_idp_rps is a number of calls per second,
// max_exposure an ExposureLimit, max_p99 a duration.
type ConstraintSpec struct {
	MaxIdPRPS   string `yaml:"max_idp_rps"`
	MaxExposure string `yaml:"max_exposure"`
	MaxP99      string `yaml:"max_p99"`
}

// Override returns c with the fields set in o replacing c's.
func (c ConstraintSpec) Override(o ConstraintSpec) ConstraintSpec {
	if o.MaxIdPRPS != "" {
		c.MaxIdPRPS = o.MaxIdPRPS
	}
	if o.MaxExposure != "" {
		c.MaxExposure = o.MaxExposure
	}
	if o.MaxP99 != "" {
		c.MaxP99 = o.MaxP99
	}
	return c
}

// Parse validates and converts the spec.
func (c ConstraintSpec) Parse() (Constraints, error) {
	var out Constraints
	if s := strings.TrimSpace(c.MaxIdPRPS); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return out, fmt.Errorf("max_idp_rps %q: want a non-negative number of IdP calls per second", s)
		}
		out.MaxIdPRPS = &v
	}
	if s := strings.TrimSpace(c.MaxExposure); s != "" {
		e, err := ParseExposureLimit(s)
		if err != nil {
			return out, fmt.Errorf("max_exposure: %w", err)
		}
		out.MaxExposure = &e
	}
	if s := strings.TrimSpace(c.MaxP99); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return out, fmt.Errorf("max_p99 %q: want a positive duration like 2ms", s)
		}
		out.MaxP99 = &d
	}
	return out, nil
}

// Any reports whether a bound is set.
func (c Constraints) Any() bool { return c.MaxIdPRPS != nil || c.MaxExposure != nil || c.MaxP99 != nil }

// The constraint names used in verdicts (the command-line flags).
const (
	ConstraintIdPRPS   = "max-idp-rps"
	ConstraintExposure = "max-exposure"
	ConstraintP99      = "max-p99"
)

// bound is one constraint, evaluated on results.
type bound struct {
	name   string
	limit  float64
	label  string // the limit as written
	value  func(*StrategyResult) float64
	format func(float64) string
	say    func(float64) string // the value in a sentence
}

func (c Constraints) bounds() []bound {
	var out []bound
	if c.MaxIdPRPS != nil {
		out = append(out, bound{name: ConstraintIdPRPS, limit: *c.MaxIdPRPS, label: fmtRPS(*c.MaxIdPRPS) + " calls/s",
			value:  func(r *StrategyResult) float64 { return r.IdP.RPSAtDeclaredRate },
			format: func(v float64) string { return fmtRPS(v) + " calls/s" },
			say:    func(v float64) string { return fmtRPS(v) + " IdP calls/s at the declared rate" }})
	}
	if c.MaxExposure != nil {
		e := *c.MaxExposure
		out = append(out, bound{name: ConstraintExposure, limit: e.Value, label: e.String(),
			value: e.value, format: e.format, say: e.say})
	}
	if c.MaxP99 != nil {
		out = append(out, bound{name: ConstraintP99, limit: us(*c.MaxP99), label: c.MaxP99.String(),
			value:  func(r *StrategyResult) float64 { return r.Latency.P99 },
			format: func(v float64) string { return f1(v) + " µs" },
			say:    func(v float64) string { return "p99 " + f1(v) + " µs" }})
	}
	return out
}

// excess is how far v is past limit, relative to the limit: 0 when within
// it, +Inf past a zero limit.
func excess(v, limit float64) float64 {
	if v <= limit {
		return 0
	}
	if limit <= 0 {
		return math.Inf(1)
	}
	return (v - limit) / limit
}

// Verdict answers "which tiered configuration should I run?": the cheapest
// (fewest IdP calls per second at the declared rate) of the run's tiered
// configurations that meets every constraint, or, when none does, the
// constraint that binds.
type Verdict struct {
	// Candidates is the number of tiered configurations considered.
	Candidates int `json:"candidates"`
	// Met reports that at least one candidate meets every constraint.
	Met bool `json:"met"`
	// Choice is the cheapest candidate meeting every constraint.
	Choice string `json:"choice,omitempty"`
	// ChoiceConfig is its configuration, and Snippet the YAML to paste into
	// tokenwarden's configuration (internal/config).
	ChoiceConfig string `json:"choice_config,omitempty"`
	Snippet      string `json:"config_yaml,omitempty"`
	// Closest is, when none meets, the candidate closest to passing: fewest
	// constraints violated, then the smallest relative excess over the limit
	// of its worst violation ((value - limit) / limit; any excess over a
	// zero limit is infinite), then the fewest IdP calls. Binding is its
	// worst violated constraint.
	Closest string `json:"closest,omitempty"`
	Binding string `json:"binding_constraint,omitempty"`
	// Checks are the constraints, with the value of Choice (or Closest)
	// and how many candidates meet each.
	Checks []ConstraintCheck `json:"constraints"`
	// Text is the verdict in one or two sentences.
	Text string `json:"text"`

	says []string // the chosen values in words, for Text
}

// ConstraintCheck is one constraint in a verdict.
type ConstraintCheck struct {
	Name  string `json:"name"`
	Limit string `json:"limit"`
	// Value is the figure of the chosen (or closest) candidate.
	Value string `json:"value"`
	Met   bool   `json:"met"`
	// MetBy counts the candidates that meet this constraint alone.
	MetBy int `json:"met_by"`
}

// Decide computes the verdict over results: the candidates are the tiered
// results (Kind tiered, Tiered set), the cost is IdP.RPSAtDeclaredRate (ties:
// lower exposure share, then lower p99, then run order). It is a pure
// function of its arguments. Without any tiered result it returns nil.
func Decide(results []StrategyResult, c Constraints) *Verdict {
	var cands []*StrategyResult
	for i := range results {
		if results[i].Kind == StrategyTiered && results[i].Tiered != nil {
			cands = append(cands, &results[i])
		}
	}
	if len(cands) == 0 {
		return nil
	}
	bs := c.bounds()
	v := &Verdict{Candidates: len(cands)}
	cost := func(a, b *StrategyResult) int {
		switch {
		case a.IdP.RPSAtDeclaredRate != b.IdP.RPSAtDeclaredRate:
			return cmpFloat(a.IdP.RPSAtDeclaredRate, b.IdP.RPSAtDeclaredRate)
		case a.Exposure.Share != b.Exposure.Share:
			return cmpFloat(a.Exposure.Share, b.Exposure.Share)
		}
		return cmpFloat(a.Latency.P99, b.Latency.P99)
	}
	type miss struct {
		n     int     // constraints violated
		worst float64 // largest relative excess
		bind  string  // the constraint with it
	}
	misses := make([]miss, len(cands))
	metBy := make([]int, len(bs))
	for i, r := range cands {
		m := &misses[i]
		for j, b := range bs {
			e := excess(b.value(r), b.limit)
			if e == 0 {
				metBy[j]++
				continue
			}
			m.n++
			if m.bind == "" || e > m.worst {
				m.worst, m.bind = e, b.name
			}
		}
	}
	var best *StrategyResult
	for i, r := range cands {
		if misses[i].n == 0 && (best == nil || cost(r, best) < 0) {
			best = r
		}
	}
	if best == nil {
		bi := 0
		for i := 1; i < len(cands); i++ {
			a, b := misses[i], misses[bi]
			switch {
			case a.n != b.n:
				if a.n < b.n {
					bi = i
				}
			case a.worst != b.worst:
				if a.worst < b.worst {
					bi = i
				}
			case cost(cands[i], cands[bi]) < 0:
				bi = i
			}
		}
		best = cands[bi]
		v.Closest, v.Binding = best.Strategy, misses[bi].bind
	} else {
		v.Met = true
		v.Choice = best.Strategy
		v.ChoiceConfig = tieredConfig(*best.Tiered)
		v.Snippet = ConfigSnippet(*best.Tiered)
	}
	for j, b := range bs {
		val := b.value(best)
		v.Checks = append(v.Checks, ConstraintCheck{Name: b.name, Limit: b.label, Value: b.format(val),
			Met: excess(val, b.limit) == 0, MetBy: metBy[j]})
		v.says = append(v.says, b.say(val))
	}
	v.Text = v.text(best, len(bs) > 0)
	return v
}

func (v *Verdict) text(best *StrategyResult, constrained bool) string {
	var lims []string
	for _, c := range v.Checks {
		lims = append(lims, c.Name+" ≤ "+c.Limit)
	}
	and := func(l []string) string {
		if len(l) < 2 {
			return strings.Join(l, "")
		}
		return strings.Join(l[:len(l)-1], ", ") + " and " + l[len(l)-1]
	}
	switch {
	case v.Met && !constrained:
		return fmt.Sprintf("No constraint given: the cheapest of %d tiered configurations is %s (%s), with %s IdP calls/s at the declared rate.",
			v.Candidates, v.Choice, v.ChoiceConfig, fmtRPS(best.IdP.RPSAtDeclaredRate))
	case v.Met:
		return fmt.Sprintf("%s (%s) is the cheapest of %d tiered configurations meeting %s: %s.",
			v.Choice, v.ChoiceConfig, v.Candidates, and(lims), and(v.says))
	}
	var c ConstraintCheck
	for _, x := range v.Checks {
		if x.Name == v.Binding {
			c = x
		}
	}
	return fmt.Sprintf("None of %d tiered configurations meets %s. The binding constraint is %s: the closest configuration, %s (%s), has %s against a limit of %s.",
		v.Candidates, and(lims), v.Binding, v.Closest, tieredConfig(*best.Tiered), c.Value, c.Limit)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func fmtRPS(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) }

// fmtSeconds writes seconds as a short duration: whole seconds as Go
// writes them ("90s" is "1m30s"), others with one decimal ("12.6s").
func fmtSeconds(s float64) string {
	if s == math.Trunc(s) && math.Abs(s) < 1e9 {
		return fmtDuration(time.Duration(s) * time.Second)
	}
	return strconv.FormatFloat(s, 'f', 1, 64) + "s"
}

// fmtDuration drops Go's trailing zero units: "2m" for 2m0s, "1h" for 1h0m0s.
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// ConfigSnippet is t as a strategies block of tokenwarden's configuration
// (internal/config.Strategy), named tiered, to paste under the config file's
// top level.
func ConfigSnippet(t TieredSpec) string {
	on := t.OnUnavailable
	if on == "" {
		on = "fail_closed"
	}
	var b strings.Builder
	b.WriteString("strategies:\n  tiered:\n    type: tiered\n")
	b.WriteString("    # the requests the benchmark marked sensitive: list their scopes here or mark their routes sensitive\n")
	b.WriteString("    # sensitive_scopes: [payments:write]\n")
	fmt.Fprintf(&b, "    max_local_age: %s\n", fmtDuration(t.MaxLocalAge))
	fmt.Fprintf(&b, "    sensitive_max_age: %s\n", fmtDuration(t.SensitiveMaxAge))
	if t.StandardMaxAge > 0 {
		fmt.Fprintf(&b, "    standard_max_age: %s\n", fmtDuration(t.StandardMaxAge))
	} else {
		b.WriteString("    # standard_max_age: 0 cannot be configured (must be > 0); the benchmark ran with 0\n")
	}
	fmt.Fprintf(&b, "    sample_rate: %s\n", strconv.FormatFloat(t.SampleRate, 'g', -1, 64))
	fmt.Fprintf(&b, "    on_unavailable: %s\n", on)
	return b.String()
}
