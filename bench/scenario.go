package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	benchconfigs "github.com/tokenwarden/tokenwarden/configs/bench"
)

// ErrScenario reports an invalid scenario.
var ErrScenario = errors.New("bench: invalid scenario")

// The event kinds of a scenario.
const (
	// EventRevoke revokes one access token at the IdP (RFC 7009). Nothing is
	// pushed to the resource server: only introspection can see it.
	EventRevoke = "revoke"
	// EventLogout ends one session at the IdP. With Push, the session's
	// client has a back-channel logout URL and the IdP delivers a logout
	// token (OIDC Back-Channel Logout 1.0) before the call returns.
	EventLogout = "logout"
	// EventNotBefore sets a not-before policy ("Revocation -> Set to now"):
	// every token of the client issued before it is stale. With Push, the IdP
	// POSTs Keycloak's PUSH_NOT_BEFORE action to the client's admin URL.
	EventNotBefore = "not_before"
)

// The simulated clients. Sessions of ClientApp are registered with a
// back-channel logout URL and an admin URL (the resource server receives
// logouts and not-before pushes for them); sessions of ClientLegacy are not,
// so their logouts and not-before policies are never pushed.
const (
	ClientApp    = "app"
	ClientLegacy = "legacy"
	// ClientRealm in a not_before event means the realm-wide policy.
	ClientRealm = "realm"
)

// The request-per-token distributions.
const (
	DistFixed     = "fixed"
	DistGeometric = "geometric"
	DistZipf      = "zipf"
)

// Bounds that keep a scenario file from asking for more than a benchmark
// run on a shared machine can give.
const (
	maxDuration   = 24 * time.Hour
	maxRequests   = 5_000_000
	maxUsers      = 1_000_000
	maxEventCount = 10_000
	maxZipfRange  = 1 << 20
	// maxFaultLatency bounds the injected IdP latency: it is a real sleep.
	maxFaultLatency = time.Second
)

// Scenario is a benchmark workload, read from YAML (configs/bench). Every
// duration is virtual time except IdP latency faults, which are real sleeps.
type Scenario struct {
	// Name identifies the scenario in reports.
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Seed fixes the generated workload and the IdP's fault pattern.
	Seed uint64 `yaml:"seed"`
	// Duration is the virtual time over which requests arrive.
	Duration time.Duration `yaml:"duration"`
	// Rate is the mean number of validations per virtual second.
	Rate float64 `yaml:"rate"`
	// Users is the number of distinct users (subjects) sessions belong to.
	Users int `yaml:"users"`
	// SessionLength is the mean session length (exponential); a session
	// refreshes its access token every TokenLifetime.
	SessionLength time.Duration `yaml:"session_length"`
	// TokenLifetime is the realm's access-token lifespan (Keycloak: 5m).
	TokenLifetime time.Duration `yaml:"token_lifetime"`
	// RequestsPerToken is the distribution of requests made with one token,
	// spread uniformly over its lifetime.
	RequestsPerToken Dist `yaml:"requests_per_token"`
	// SensitiveShare is the fraction of requests marked sensitive.
	SensitiveShare float64 `yaml:"sensitive_share"`
	// BackchannelShare is the fraction of sessions whose client (ClientApp)
	// has back-channel logout and not-before push configured.
	BackchannelShare float64 `yaml:"backchannel_share"`
	// SigningAlg is the realm's signature algorithm: RS256 (default), PS256,
	// ES256 or EdDSA.
	SigningAlg string `yaml:"signing_alg"`
	// Events happen at the IdP over the run.
	Events []EventSpec `yaml:"events"`
	// KeyRotations are the virtual times at which the realm rotates its
	// signing key (the old key stays published, as Keycloak's passive key).
	KeyRotations []time.Duration `yaml:"key_rotations"`
	// IdP is the injected latency and error behaviour of the IdP.
	IdP IdPSpec `yaml:"idp"`
	// Introspection configures the introspection strategy.
	Introspection IntrospectionSpec `yaml:"introspection"`
	// Tiered configures the tiered strategy; Variants are further named
	// tiered configurations, run as strategies of their own.
	Tiered   TieredSpec   `yaml:"tiered"`
	Variants []TieredSpec `yaml:"variants"`
	// Grid declares tiered settings to try: every combination runs as a
	// strategy of its own (named g01, g02, ...), and the verdict picks the
	// cheapest one that meets the Constraints.
	Grid *GridSpec `yaml:"grid"`
	// Constraints the verdict checks (flags override them).
	Constraints ConstraintSpec `yaml:"constraints"`
	// QuickScale multiplies the rate, the users and the event counts under
	// --quick (default 0.1).
	QuickScale float64 `yaml:"quick_scale"`

	// Quick is set by Quick; not read from YAML.
	Quick bool `yaml:"-"`
}

// Dist is a distribution of positive integers with a mean.
type Dist struct {
	// Kind is fixed, geometric (default) or zipf.
	Kind string `yaml:"dist"`
	// Mean is the mean (>= 1).
	Mean float64 `yaml:"mean"`
	// S is the zipf exponent (default 1.5; in (1, 2] so that a cap can be
	// found for the mean).
	S float64 `yaml:"s"`
}

// EventSpec describes one family of IdP events.
type EventSpec struct {
	// Kind is revoke, logout or not_before.
	Kind string `yaml:"kind"`
	// At lists explicit virtual times.
	At []time.Duration `yaml:"at"`
	// Count events at uniformly random times in [From, To) (default the
	// whole run), in addition to At.
	Count int           `yaml:"count"`
	From  time.Duration `yaml:"from"`
	To    time.Duration `yaml:"to"`
	// Push: the IdP tells the resource server (logout: back-channel logout
	// of a ClientApp session, otherwise a ClientLegacy session; not_before:
	// the PUSH_NOT_BEFORE action to ClientApp's admin URL).
	Push bool `yaml:"push"`
	// Client of a not_before event: app (default), legacy or realm.
	Client string `yaml:"client"`
}

// IdPSpec is the IdP's injected behaviour, per endpoint. Latency is a real
// sleep: keep it small.
type IdPSpec struct {
	Latency time.Duration `yaml:"latency"`
	// Jitter adds a uniform [0, Jitter) on top of Latency.
	Jitter time.Duration `yaml:"jitter"`
	// ErrorRate is the fraction of calls answered with ErrorStatus.
	ErrorRate   float64 `yaml:"error_rate"`
	ErrorStatus int     `yaml:"error_status"`
	// Endpoints the faults apply to: introspect (default), certs, discovery.
	Endpoints []string `yaml:"endpoints"`
}

// IntrospectionSpec configures the introspection strategy.
type IntrospectionSpec struct {
	StandardMaxAge  time.Duration `yaml:"standard_max_age"`
	SensitiveMaxAge time.Duration `yaml:"sensitive_max_age"`
}

// TieredSpec configures one tiered strategy (strategy.TieredConfig).
type TieredSpec struct {
	// Name of a variant (the base tiered strategy is named "tiered").
	Name            string        `yaml:"name"`
	MaxLocalAge     time.Duration `yaml:"max_local_age"`
	SensitiveMaxAge time.Duration `yaml:"sensitive_max_age"`
	StandardMaxAge  time.Duration `yaml:"standard_max_age"`
	SampleRate      float64       `yaml:"sample_rate"`
	// OnUnavailable is fail_closed (default) or local.
	OnUnavailable string `yaml:"on_unavailable"`
}

// ScenarioNames lists the scenarios shipped in configs/bench.
func ScenarioNames() []string {
	entries, _ := benchconfigs.FS.ReadDir(".")
	var out []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// LoadScenario reads a scenario: a shipped name (configs/bench/NAME.yaml,
// embedded in the binary) or a path to a YAML file.
func LoadScenario(nameOrFile string) (*Scenario, error) {
	if nameOrFile == "" {
		return nil, fmt.Errorf("%w: no scenario named (one of %s, or a file)", ErrScenario, strings.Join(ScenarioNames(), ", "))
	}
	if !strings.ContainsAny(nameOrFile, `/\`) && !strings.HasSuffix(nameOrFile, ".yaml") && !strings.HasSuffix(nameOrFile, ".yml") {
		data, err := benchconfigs.FS.ReadFile(nameOrFile + ".yaml")
		if err != nil {
			return nil, fmt.Errorf("%w: no shipped scenario %q (one of %s, or a file)", ErrScenario, nameOrFile, strings.Join(ScenarioNames(), ", "))
		}
		return ParseScenario(nameOrFile, data)
	}
	f, err := os.Open(nameOrFile)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	// Scenario files are small; the cap keeps a wrong path from eating memory.
	const maxFile = 1 << 20
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrScenario, nameOrFile, maxFile)
	}
	return ParseScenario(strings.TrimSuffix(filepath.Base(nameOrFile), filepath.Ext(nameOrFile)), data)
}

// ParseScenario decodes YAML strictly (unknown keys are errors), applies the
// defaults and validates. name is used when the file names none.
func ParseScenario(name string, data []byte) (*Scenario, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrScenario, name, err)
	}
	if s.Name == "" {
		s.Name = name
	}
	s.defaults()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *Scenario) defaults() {
	if s.RequestsPerToken.Kind == "" {
		s.RequestsPerToken.Kind = DistGeometric
	}
	if s.RequestsPerToken.Kind == DistZipf && s.RequestsPerToken.S == 0 {
		s.RequestsPerToken.S = 1.5
	}
	if s.SigningAlg == "" {
		s.SigningAlg = "RS256"
	}
	if s.TokenLifetime == 0 {
		s.TokenLifetime = 5 * time.Minute
	}
	if s.SessionLength == 0 {
		s.SessionLength = 30 * time.Minute
	}
	if len(s.IdP.Endpoints) == 0 {
		s.IdP.Endpoints = []string{"introspect"}
	}
	if s.QuickScale == 0 {
		s.QuickScale = 0.1
	}
	for i := range s.Events {
		if s.Events[i].Kind == EventNotBefore && s.Events[i].Client == "" {
			s.Events[i].Client = ClientApp
		}
	}
}

// Validate reports the first problem, wrapped in ErrScenario.
func (s *Scenario) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrScenario, s.Name, fmt.Sprintf(format, a...))
	}
	finite := func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
	switch {
	case s.Duration <= 0 || s.Duration > maxDuration:
		return bad("duration %s out of range (0, %s]", s.Duration, maxDuration)
	case !finite(s.Rate) || s.Rate <= 0:
		return bad("rate must be > 0")
	case s.Rate*s.Duration.Seconds() > maxRequests:
		return bad("rate x duration = %.0f requests, more than %d", s.Rate*s.Duration.Seconds(), maxRequests)
	case s.Users <= 0 || s.Users > maxUsers:
		return bad("users %d out of range [1, %d]", s.Users, maxUsers)
	case s.TokenLifetime < 10*time.Second || s.TokenLifetime > 24*time.Hour || s.TokenLifetime%time.Second != 0:
		return bad("token_lifetime %s must be whole seconds in [10s, 24h]", s.TokenLifetime)
	case s.SessionLength <= 0 || s.SessionLength > maxDuration:
		return bad("session_length %s out of range", s.SessionLength)
	case !finite(s.SensitiveShare) || s.SensitiveShare < 0 || s.SensitiveShare > 1:
		return bad("sensitive_share must be in [0, 1]")
	case !finite(s.BackchannelShare) || s.BackchannelShare < 0 || s.BackchannelShare > 1:
		return bad("backchannel_share must be in [0, 1]")
	case !finite(s.QuickScale) || s.QuickScale <= 0 || s.QuickScale > 1:
		return bad("quick_scale must be in (0, 1]")
	}
	switch s.SigningAlg {
	case "RS256", "PS256", "ES256", "EdDSA":
	default:
		return bad("signing_alg %q is not RS256, PS256, ES256 or EdDSA", s.SigningAlg)
	}
	if err := s.RequestsPerToken.validate(); err != nil {
		return bad("requests_per_token: %v", err)
	}
	for i, e := range s.Events {
		if err := s.validateEvent(e); err != nil {
			return bad("events[%d]: %v", i, err)
		}
	}
	for _, t := range s.KeyRotations {
		if t <= 0 || t >= s.Duration {
			return bad("key rotation at %s is outside the run (0, %s)", t, s.Duration)
		}
	}
	if err := s.Grid.validate(); err != nil {
		return bad("grid: %v", err)
	}
	if _, err := s.Constraints.Parse(); err != nil {
		return bad("constraints: %v", err)
	}
	if err := s.IdP.validate(); err != nil {
		return bad("idp: %v", err)
	}
	if s.Introspection.StandardMaxAge < 0 || s.Introspection.SensitiveMaxAge < 0 {
		return bad("introspection: negative max age")
	}
	names := map[string]bool{}
	for _, n := range baseStrategies {
		names[n] = true
	}
	for i, v := range append([]TieredSpec{s.Tiered}, s.Variants...) {
		if i > 0 {
			if v.Name == "" || names[v.Name] || strings.ContainsAny(v.Name, ", \t") {
				return bad("variants[%d]: name %q is empty, reserved, repeated or has a comma or space", i-1, v.Name)
			}
			names[v.Name] = true
		}
		if v.MaxLocalAge < 0 || v.SensitiveMaxAge < 0 || v.StandardMaxAge < 0 || !finite(v.SampleRate) || v.SampleRate < 0 || v.SampleRate > 1 {
			return bad("tiered %q: negative duration or sample_rate outside [0, 1]", v.Name)
		}
		switch v.OnUnavailable {
		case "", "fail_closed", "local":
		default:
			return bad("tiered %q: on_unavailable %q is not fail_closed or local", v.Name, v.OnUnavailable)
		}
	}
	if s.Grid != nil {
		for i := range maxGrid {
			if names[gridName(i)] {
				return bad("variant name %q is reserved for grid configurations", gridName(i))
			}
		}
	}
	return nil
}

func (s *Scenario) validateEvent(e EventSpec) error {
	switch e.Kind {
	case EventRevoke:
	case EventLogout:
		if e.Push && s.BackchannelShare == 0 {
			return errors.New("a pushed logout needs sessions with back-channel logout (backchannel_share > 0)")
		}
		if !e.Push && s.BackchannelShare == 1 {
			return errors.New("an unpushed logout needs sessions without back-channel logout (backchannel_share < 1)")
		}
	case EventNotBefore:
		switch e.Client {
		case ClientApp, ClientLegacy, ClientRealm:
		default:
			return fmt.Errorf("client %q is not app, legacy or realm", e.Client)
		}
		if e.Push && e.Client == ClientLegacy {
			return errors.New("the legacy client has no admin URL: its not-before cannot be pushed")
		}
	default:
		return fmt.Errorf("kind %q is not revoke, logout or not_before", e.Kind)
	}
	if e.Count < 0 || e.Count > maxEventCount || len(e.At) > maxEventCount {
		return fmt.Errorf("count out of range [0, %d]", maxEventCount)
	}
	if e.Count == 0 && len(e.At) == 0 {
		return errors.New("neither count nor at")
	}
	for _, t := range e.At {
		if t < 0 || t >= s.Duration {
			return fmt.Errorf("at %s is outside the run [0, %s)", t, s.Duration)
		}
	}
	to := e.To
	if to == 0 {
		to = s.Duration
	}
	if e.From < 0 || to > s.Duration || e.From >= to {
		return fmt.Errorf("from/to [%s, %s) is not a part of the run", e.From, to)
	}
	return nil
}

func (d Dist) validate() error {
	if math.IsNaN(d.Mean) || d.Mean < 1 || d.Mean > 1e6 {
		return errors.New("mean must be in [1, 1e6]")
	}
	switch d.Kind {
	case DistFixed, DistGeometric:
	case DistZipf:
		if math.IsNaN(d.S) || d.S <= 1 || d.S > 2 {
			return errors.New("zipf s must be in (1, 2]")
		}
		if _, err := newZipf(d.S, d.Mean); err != nil {
			return err
		}
	default:
		return fmt.Errorf("dist %q is not fixed, geometric or zipf", d.Kind)
	}
	return nil
}

func (f IdPSpec) validate() error {
	switch {
	case f.Latency < 0 || f.Jitter < 0 || f.Latency+f.Jitter > maxFaultLatency:
		return fmt.Errorf("latency + jitter must be in [0, %s] (a real sleep per call)", maxFaultLatency)
	case math.IsNaN(f.ErrorRate) || f.ErrorRate < 0 || f.ErrorRate > 1:
		return errors.New("error_rate must be in [0, 1]")
	case f.ErrorStatus != 0 && (f.ErrorStatus < 400 || f.ErrorStatus > 599):
		return errors.New("error_status must be a 4xx or 5xx code")
	}
	for _, e := range f.Endpoints {
		switch e {
		case "introspect", "certs", "discovery":
		default:
			return fmt.Errorf("endpoint %q is not introspect, certs or discovery", e)
		}
	}
	return nil
}

// Scaled returns the --quick version of s: rate, users and event counts
// multiplied by QuickScale (each event family keeps at least one event),
// durations and every other setting unchanged, so the run has the same shape
// with fewer requests and tokens.
func (s *Scenario) Scaled() *Scenario {
	q := *s
	q.Quick = true
	f := s.QuickScale
	q.Rate = s.Rate * f
	q.Users = max(5, int(math.Ceil(float64(s.Users)*f)))
	q.Events = make([]EventSpec, len(s.Events))
	for i, e := range s.Events {
		if e.Count > 0 {
			e.Count = max(1, int(math.Round(float64(e.Count)*f)))
		}
		q.Events[i] = e
	}
	q.Variants = slices.Clone(s.Variants)
	q.KeyRotations = slices.Clone(s.KeyRotations)
	if s.Grid != nil {
		g := s.Grid.clone()
		q.Grid = &g
	}
	return &q
}

// DeclaredRate is the scenario's request rate as written in its file: the
// rate of the real traffic it models, before any --quick scaling. IdP calls
// per second in verdicts are at this rate.
func (s *Scenario) DeclaredRate() float64 {
	if s.Quick && s.QuickScale > 0 {
		return s.Rate / s.QuickScale
	}
	return s.Rate
}
