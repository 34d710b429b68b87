package bench

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

const smallYAML = `
name: small
seed: 7
duration: 4m
rate: 4
users: 15
session_length: 10m
token_lifetime: 2m
requests_per_token: {dist: geometric, mean: 6}
sensitive_share: 0.1
backchannel_share: 0.5
signing_alg: ES256
events:
  - {kind: revoke, count: 3}
  - {kind: logout, count: 2, push: true}
  - {kind: logout, count: 2, push: false}
  - {kind: not_before, at: [3m30s], client: app, push: true}
key_rotations: [2m]
introspection: {standard_max_age: 30s, sensitive_max_age: 0s}
tiered: {max_local_age: 1m, standard_max_age: 30s}
`

func small(t *testing.T) *Scenario {
	t.Helper()
	s, err := ParseScenario("small", []byte(smallYAML))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestGenerateDeterministic(t *testing.T) {
	t.Parallel()
	a, err := Generate(small(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(small(t))
	if err != nil {
		t.Fatal(err)
	}
	if a.Hash() != b.Hash() {
		t.Fatalf("same seed, different workloads: %s vs %s", a.Hash(), b.Hash())
	}
	if !reflect.DeepEqual(a.Requests, b.Requests) || !reflect.DeepEqual(a.Events, b.Events) {
		t.Fatal("same hash but different scripts")
	}
	s := small(t)
	s.Seed++
	c, err := Generate(s)
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash() == a.Hash() {
		t.Fatal("another seed gave the same workload")
	}

	// The script is coherent: requests in time order, within their token's
	// life and the run; events resolved; the ground truth consistent.
	sum := a.Summarize()
	if sum.Requests == 0 || sum.Tokens == 0 || sum.Events[EventRevoke] != 3 || sum.Events[EventNotBefore] != 1 {
		t.Fatalf("summary %+v", sum)
	}
	for i, r := range a.Requests {
		tk := a.Tokens[r.Token]
		if i > 0 && r.At < a.Requests[i-1].At {
			t.Fatal("requests out of order")
		}
		if r.At < tk.IssuedAt || r.At >= tk.ExpiresAt || r.At < 0 || r.At >= s.Duration {
			t.Fatalf("request %d at %s outside its token [%s, %s)", i, r.At, tk.IssuedAt, tk.ExpiresAt)
		}
	}
	for _, tk := range a.Tokens {
		if tk.IssuedAt%time.Second != 0 {
			t.Fatalf("issue time %s not whole seconds", tk.IssuedAt)
		}
	}
	for _, e := range a.Events {
		switch e.Kind {
		case EventRevoke, EventLogout:
			tk := a.Tokens[e.Token]
			if tk.RevokedAt > e.At || tk.IssuedAt > e.At || e.At >= tk.ExpiresAt {
				t.Fatalf("event %+v does not target a live token (%+v)", e, tk)
			}
			if e.Kind == EventLogout && a.Sessions[tk.Session].Client != map[bool]string{true: ClientApp, false: ClientLegacy}[e.Push] {
				t.Fatalf("logout %+v of a session of the wrong client", e)
			}
		}
	}
}

// TestRunDeterministic: the same workload replayed twice gives the same
// counts (IdP calls, outcomes, exposure), not the same latencies.
func TestRunDeterministic(t *testing.T) {
	t.Parallel()
	wl, err := Generate(small(t))
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Strategies: []string{StrategyLocal, StrategyIntrospection, StrategyTiered}}
	a, b := run(t, wl, o), run(t, wl, o)
	counts := func(r StrategyResult) any {
		return []any{r.Validations, r.IdP.Introspections, r.IdP.JWKSFetches, r.IdP.DiscoveryFetches,
			r.Outcomes, r.Reasons, r.Triggers, r.Exposure, r.FalseRefusals, r.Degraded, r.Pushes, r.EventErrors}
	}
	for i := range a.Results {
		if ca, cb := counts(a.Results[i]), counts(b.Results[i]); !reflect.DeepEqual(ca, cb) {
			t.Errorf("%s: run 1 %v\nrun 2 %v", a.Results[i].Strategy, ca, cb)
		}
	}
	res := byName(t, a)
	if res[StrategyLocal].IdP.Introspections != 0 || res[StrategyIntrospection].IdP.Introspections == 0 {
		t.Errorf("introspections: local %d, introspection %d", res[StrategyLocal].IdP.Introspections, res[StrategyIntrospection].IdP.Introspections)
	}
	if res[StrategyLocal].IdP.JWKSFetches < 2 {
		t.Errorf("the key rotation should force a JWKS fetch: %d fetches", res[StrategyLocal].IdP.JWKSFetches)
	}
	if res[StrategyLocal].Exposure.PostRevocation == 0 || res[StrategyLocal].Pushes.Accepted == 0 {
		t.Errorf("the workload should exercise revocation: %+v, pushes %+v", res[StrategyLocal].Exposure, res[StrategyLocal].Pushes)
	}
	for _, r := range a.Results {
		if r.FalseRefusals != 0 || r.EventErrors != 0 || r.Pushes.Refused != 0 {
			t.Errorf("%s: %d false refusals (%v), %d event errors, pushes %+v", r.Strategy, r.FalseRefusals, r.Reasons, r.EventErrors, r.Pushes)
		}
	}
}

func TestShippedScenarios(t *testing.T) {
	t.Parallel()
	names := ScenarioNames()
	for _, want := range []string{"keycloak-default", "high-reuse", "revocation-heavy", "slow-idp"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("scenario %s not shipped (have %v)", want, names)
		}
	}
	for _, n := range names {
		s, err := LoadScenario(n)
		if err != nil {
			t.Fatal(err)
		}
		wl, err := Generate(s.Scaled())
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if sum := wl.Summarize(); sum.Requests == 0 || sum.PostRevocationRequests == 0 {
			t.Errorf("%s --quick: %+v", n, sum)
		}
	}
}

func TestScenarioErrors(t *testing.T) {
	t.Parallel()
	base := "duration: 1m\nrate: 1\nusers: 1\nrequests_per_token: {mean: 2}\n"
	tests := []struct {
		name string
		yaml string
	}{
		{"unknown key", base + "colour: blue\n"},
		{"no rate", "duration: 1m\nusers: 1\nrequests_per_token: {mean: 2}\n"},
		{"bad dist", base[:len(base)-len("requests_per_token: {mean: 2}\n")] + "requests_per_token: {dist: poisson, mean: 2}\n"},
		{"zipf mean out of reach", base[:len(base)-len("requests_per_token: {mean: 2}\n")] + "requests_per_token: {dist: zipf, s: 2, mean: 500}\n"},
		{"event outside the run", base + "events: [{kind: revoke, at: [2m]}]\n"},
		{"pushed logout without back-channel sessions", base + "events: [{kind: logout, count: 1, push: true}]\n"},
		{"legacy not-before pushed", base + "backchannel_share: 0.5\nevents: [{kind: not_before, at: [10s], client: legacy, push: true}]\n"},
		{"latency too large", base + "idp: {latency: 2s}\n"},
		{"variant without name", base + "variants: [{max_local_age: 1m}]\n"},
		{"variant named like a base strategy", base + "variants: [{name: local}]\n"},
		{"rotation outside the run", base + "key_rotations: [1h]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseScenario(tt.name, []byte(tt.yaml)); !errors.Is(err, ErrScenario) {
				t.Fatalf("err = %v, want ErrScenario", err)
			}
		})
	}
	if _, err := ParseScenario("ok", []byte(base)); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadScenario("no-such-scenario"); !errors.Is(err, ErrScenario) {
		t.Fatalf("unknown name: %v", err)
	}
	if _, err := resolveStrategies(small(t), []string{"local", "nope"}, false); err == nil {
		t.Fatal("unknown strategy accepted")
	}
}

func TestHistogram(t *testing.T) {
	t.Parallel()
	h := newHistogram()
	for i := 1; i <= 100000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, q := range []float64{.5, .9, .99, .999} {
		want := q * 100000 * float64(time.Microsecond)
		got := float64(h.quantile(q))
		if d := (got - want) / want; d > 0.01 || d < -0.01 {
			t.Errorf("q%.3f = %v, want %v within 1%%", q, time.Duration(got), time.Duration(want))
		}
	}
	if h.quantile(1) != 100*time.Millisecond || h.quantile(0) != time.Microsecond {
		t.Errorf("max %v min %v", h.quantile(1), h.quantile(0))
	}
}
