package strategy_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/idpsim"
	"github.com/tokenwarden/tokenwarden/revocation"
	"github.com/tokenwarden/tokenwarden/strategy"
)

// TestCallVolume replays one scripted workload — 10 000 validations over 500
// tokens, 5 % sensitive, revocations at the IdP (not pushed) and logouts
// (pushed by back-channel logout) — through Local, Tiered and Introspect,
// each with fresh caches, counting IdP introspection calls with idpsim's
// counters and the requests accepted for tokens already revoked at the IdP.
func TestCallVolume(t *testing.T) {
	if testing.Short() {
		t.Skip("workload")
	}
	const (
		nTokens   = 500
		nRequests = 10_000
		step      = 20 * time.Millisecond // virtual time per request: 200 s in all
		slot      = 30 * time.Second      // standard_max_age
	)
	ctx := context.Background()
	base := newWorld(t, worldOpts{})
	idp, clk := base.idp, base.clock
	start := clk.Now()

	type tokenInfo struct {
		tok      string
		sid, sub string
		user     bool
	}
	tokens := make([]tokenInfo, nTokens)
	for i := range tokens {
		var tr *idpsim.TokenResponse
		var err error
		if i%2 == 0 {
			tr, err = idp.PasswordGrant("dev", "demo", "alice", "payments:write")
		} else {
			tr, err = idp.ClientCredentials("dev", "demo", "payments:write")
		}
		if err != nil {
			t.Fatal(err)
		}
		res, err := base.local.Validate(ctx, strategy.Request{Token: tr.AccessToken})
		if err != nil {
			t.Fatal(err)
		}
		tokens[i] = tokenInfo{tok: tr.AccessToken, sid: res.SessionID, sub: res.Subject, user: i%2 == 0}
	}

	// The script, fixed by its seed: which token each request uses, which
	// requests are sensitive, and events at fixed steps.
	rng := rand.New(rand.NewPCG(7, 42))
	type request struct {
		token     int
		sensitive bool
	}
	script := make([]request, nRequests)
	for i := range script {
		script[i] = request{token: rng.IntN(nTokens), sensitive: rng.IntN(100) < 5}
	}
	revokeAt := map[int][]int{1000: {1, 3, 5}, 4000: {7, 9}, 7000: {11}} // client tokens revoked at the IdP
	logoutAt := map[int][]int{3000: {0, 2}, 6000: {4}}                   // user sessions logged out, pushed

	type outcome struct {
		calls                   int64
		exposedSens, exposedStd int
		postRevocation          int
	}
	run := func(name string, s strategy.Strategy, w *world) outcome {
		var o outcome
		revoked := map[int]bool{}
		clk.Set(start)
		before := idp.Calls(idpsim.EndpointIntrospect)
		for i, r := range script {
			for _, ti := range revokeAt[i] {
				revoked[ti] = true
				if name == "local" { // revoke once at the IdP; the other runs see it already revoked
					if err := idp.Revoke("dev", tokens[ti].tok); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, ti := range logoutAt[i] {
				revoked[ti] = true
				if name == "local" {
					if err := idp.Logout(ctx, "dev", tokens[ti].sid); err != nil {
						t.Fatal(err)
					}
				}
				// The back-channel logout, as each strategy's store receives it.
				for _, e := range []revocation.Event{
					{Issuer: idp.Issuer("dev"), Kind: revocation.KindSession, Value: tokens[ti].sid, Action: revocation.ActionDeny, At: clk.Now(), Source: revocation.SourceBackchannelLogout},
					{Issuer: idp.Issuer("dev"), Kind: revocation.KindSubject, Value: tokens[ti].sub, Action: revocation.ActionWatch, At: clk.Now(), Source: revocation.SourceBackchannelLogout},
				} {
					if err := w.store.Add(ctx, e); err != nil {
						t.Fatal(err)
					}
				}
			}
			_, err := s.Validate(ctx, strategy.Request{Token: tokens[r.token].tok, Sensitive: r.sensitive})
			if revoked[r.token] {
				o.postRevocation++
				if err == nil {
					if r.sensitive {
						o.exposedSens++
					} else {
						o.exposedStd++
					}
				}
			}
			clk.Advance(step)
		}
		o.calls = idp.Calls(idpsim.EndpointIntrospect) - before
		return o
	}

	// For the bound on tiered: one call per sensitive request
	// (sensitive_max_age 0), and per distinct (token, 30 s slot) for standard
	// triggers, plus one per token in a watch window (an answer from before
	// the event is not reused).
	sensitiveReqs := 0
	for _, r := range script {
		if r.sensitive {
			sensitiveReqs++
		}
	}
	tc := strategy.TieredConfig{MaxLocalAge: 2 * time.Minute, StandardMaxAge: slot}
	wl := newWorld(t, worldOpts{idp: idp, idpClock: clk})
	wt := newWorld(t, worldOpts{idp: idp, idpClock: clk, tiered: tc})
	wi := newWorld(t, worldOpts{idp: idp, idpClock: clk})
	local := run("local", wl.local, wl)
	tiered := run("tiered", wt.tiered, wt)
	intro := run("introspection", wi.intro, wi)

	slots := map[[2]int]bool{}
	clkT := start
	for _, r := range script {
		if !r.sensitive && clkT.Sub(start) > 0 {
			slots[[2]int{r.token, int(clkT.Sub(start) / slot)}] = true
		}
		clkT = clkT.Add(step)
	}
	bound := int64(sensitiveReqs + len(slots) + nTokens)

	t.Logf("%d validations over %d tokens, %d sensitive, %d post-revocation requests", nRequests, nTokens, sensitiveReqs, local.postRevocation)
	t.Logf("IdP introspection calls: local %d, tiered %d (bound %d), introspection %d", local.calls, tiered.calls, bound, intro.calls)
	t.Logf("accepted after revocation (sensitive/standard): local %d/%d, tiered %d/%d, introspection %d/%d",
		local.exposedSens, local.exposedStd, tiered.exposedSens, tiered.exposedStd, intro.exposedSens, intro.exposedStd)

	if local.calls != 0 {
		t.Fatalf("local made %d IdP calls", local.calls)
	}
	if tiered.calls > bound {
		t.Fatalf("tiered made %d IdP calls, more than one per selected (token, class, slot) = %d", tiered.calls, bound)
	}
	if tiered.calls >= intro.calls {
		t.Fatalf("tiered (%d calls) saved nothing over introspection (%d)", tiered.calls, intro.calls)
	}
	if tiered.exposedSens != 0 || intro.exposedSens != 0 {
		t.Fatalf("revoked token accepted on a sensitive request: tiered %d, introspection %d", tiered.exposedSens, intro.exposedSens)
	}
	if local.exposedSens+local.exposedStd == 0 {
		t.Fatal("local should be exposed to the unpushed revocations (the gap tokenwarden exists for)")
	}
}
