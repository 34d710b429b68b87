package bench

import (
	"context"
	"testing"
	"time"
)

// scripted returns a one-token workload: the token is issued at t=0 to a
// session of client, the events happen, and each request uses the token.
func scripted(t *testing.T, client string, events []Event, revokedAt time.Duration, reqs ...Request) *Workload {
	t.Helper()
	s, err := ParseScenario("scripted", []byte(`
duration: 1m
rate: 1
users: 1
token_lifetime: 5m
signing_alg: ES256
requests_per_token: {mean: 1}
backchannel_share: 0.5
introspection: {standard_max_age: 30s, sensitive_max_age: 0s}
tiered: {max_local_age: 2m, standard_max_age: 30s}
`))
	if err != nil {
		t.Fatal(err)
	}
	for i := range reqs {
		reqs[i].Token = 0
	}
	return &Workload{
		Scenario: s,
		Sessions: []Session{{User: 0, Client: client}},
		Tokens:   []Token{{Session: 0, IssuedAt: 0, ExpiresAt: 5 * time.Minute, RevokedAt: revokedAt, Requests: len(reqs)}},
		Requests: reqs,
		Events:   events,
	}
}

func run(t *testing.T, wl *Workload, o Options) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := Run(ctx, wl, o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func byName(t *testing.T, rep *Report) map[string]StrategyResult {
	t.Helper()
	out := map[string]StrategyResult{}
	for _, r := range rep.Results {
		out[r.Strategy] = r
	}
	return out
}
