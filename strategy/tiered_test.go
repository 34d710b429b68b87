package strategy_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tokenwarden/tokenwarden/idpsim"
	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/internal/metricnames"
	"github.com/tokenwarden/tokenwarden/introspection"
	"github.com/tokenwarden/tokenwarden/jwks"
	"github.com/tokenwarden/tokenwarden/revocation"
	"github.com/tokenwarden/tokenwarden/strategy"
)

// world is every strategy over one idpsim realm, sharing one Verifier, one
// introspection client and one revocation store, on one manual clock.
type world struct {
	idp     *idpsim.Server
	clock   *clock.Manual
	keys    *jwks.Resolver
	client  *introspection.Client
	store   *revocation.Memory
	v       *strategy.Verifier
	reg     *prometheus.Registry
	metrics *strategy.Metrics
	local   strategy.Strategy
	intro   strategy.Strategy
	tiered  strategy.Strategy
}

type worldOpts struct {
	tiered       strategy.TieredConfig
	restart      bool
	opaque       bool
	breakerOff   bool
	idpClock     *clock.Manual // share a clock created earlier (restart tests)
	idp          *idpsim.Server
	introTimeout time.Duration
	jwksMaxStale time.Duration
}

func devConfig() idpsim.Config {
	cfg := idpsim.DefaultConfig()
	cfg.Realms[0].Clients = append(cfg.Realms[0].Clients, idpsim.ClientConfig{
		ClientID: "lw", Secret: "lw-secret", ServiceAccounts: true, Lightweight: true,
		ServiceAccountRealmRoles: []string{"batch"},
	})
	return cfg
}

func newWorld(t testing.TB, o worldOpts) *world {
	t.Helper()
	clk := o.idpClock
	if clk == nil {
		clk = clock.NewManual(time.Now().Truncate(time.Second))
	}
	idp := o.idp
	if idp == nil {
		var err error
		idp, err = idpsim.Start(devConfig(), "127.0.0.1:0", idpsim.WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = idp.Close() })
	}
	w := &world{idp: idp, clock: clk, reg: prometheus.NewRegistry()}
	w.metrics = strategy.NewMetrics(w.reg)
	var err error
	w.keys, err = jwks.New(jwks.Config{Name: "dev", Issuer: idp.Issuer("dev"), Algorithms: []string{"RS256"},
		UnknownKIDMinInterval: time.Second, MaxStale: o.jwksMaxStale}, jwks.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.keys.Close)
	bf := 0
	if o.breakerOff {
		bf = -1
	}
	it := o.introTimeout
	if it == 0 {
		it = time.Second
	}
	w.client, err = introspection.New(introspection.Config{
		Name: "dev", Endpoint: idp.Issuer("dev") + "/protocol/openid-connect/token/introspect",
		ClientID: "demo", ClientSecret: []byte("demo-secret"), Timeout: it, BreakerFailures: bf,
	}, introspection.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.client.Close)
	w.store, err = revocation.NewMemory(revocation.Config{Window: time.Hour, RestartWindow: o.restart}, revocation.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	w.v, err = strategy.NewVerifier([]strategy.IssuerConfig{{
		Name: "dev", Issuer: idp.Issuer("dev"), AuthorizedParties: []string{"demo", "lw"}, Keys: w.keys,
		Introspector: w.client, IntrospectOpaque: o.opaque,
	}}, strategy.WithClock(clk), strategy.WithRevocation(w.store), strategy.WithMetrics(w.metrics))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.v.Close)
	w.local = strategy.Instrument("local", strategy.NewLocal("local", w.v), w.metrics)
	w.intro = strategy.Instrument("introspection", strategy.NewIntrospect("introspection", w.v, strategy.IntrospectConfig{StandardMaxAge: 30 * time.Second}), w.metrics)
	if o.tiered.StandardMaxAge == 0 {
		o.tiered.StandardMaxAge = 30 * time.Second
	}
	w.tiered = strategy.Instrument("tiered", strategy.NewTiered("tiered", w.v, o.tiered), w.metrics)
	return w
}

func (w *world) calls() int64 { return w.idp.Calls(idpsim.EndpointIntrospect) }

func (w *world) cc(t testing.TB, client string, scopes ...string) string {
	t.Helper()
	var tr *idpsim.TokenResponse
	var err error
	if client == "lw" {
		// The lightweight client has its own secret; the Go API needs none.
		tr, err = w.idp.ClientCredentials("dev", "lw", scopes...)
	} else {
		tr, err = w.idp.ClientCredentials("dev", client, scopes...)
	}
	if err != nil {
		t.Fatal(err)
	}
	return tr.AccessToken
}

func (w *world) triggerCount(tr strategy.Trigger) float64 {
	return testutil.ToFloat64(w.metrics.TriggerCounter(tr))
}

var allTriggers = []strategy.Trigger{
	strategy.TriggerSensitiveScope, strategy.TriggerRevocationWindow, strategy.TriggerRestartWindow,
	strategy.TriggerTokenAge, strategy.TriggerOpaque, strategy.TriggerLightweight,
	strategy.TriggerKeyUnavailable, strategy.TriggerSampled,
}

// TestTieredTriggers: each trigger fires exactly when its rule says, is
// listed in Result.Triggers (or the error's) and counted in
// tokenwarden_introspection_triggers_total; with no trigger the decision is
// local and the IdP is not called.
func TestTieredTriggers(t *testing.T) {
	ctx := context.Background()
	type tc struct {
		name      string
		opts      worldOpts
		setup     func(t *testing.T, w *world) strategy.Request
		want      []strategy.Trigger
		wantBy    strategy.DecidedBy
		wantErr   error
		wantCalls int64
	}
	sens := strategy.TieredConfig{SensitiveScopes: []string{"payments:write"}}
	tests := []tc{
		{name: "standard request: local, no call", opts: worldOpts{tiered: sens},
			setup: func(t *testing.T, w *world) strategy.Request {
				return strategy.Request{Token: w.cc(t, "demo"), Scopes: []string{"openid"}}
			}, wantBy: strategy.DecidedByLocal},
		{name: "Request.Sensitive", opts: worldOpts{tiered: sens},
			setup: func(t *testing.T, w *world) strategy.Request {
				return strategy.Request{Token: w.cc(t, "demo"), Sensitive: true}
			}, want: []strategy.Trigger{strategy.TriggerSensitiveScope}, wantBy: strategy.DecidedByIntrospection, wantCalls: 1},
		{name: "requires a sensitive scope", opts: worldOpts{tiered: sens},
			setup: func(t *testing.T, w *world) strategy.Request {
				return strategy.Request{Token: w.cc(t, "demo", "payments:write"), Scopes: []string{"payments:write"}}
			}, want: []strategy.Trigger{strategy.TriggerSensitiveScope}, wantBy: strategy.DecidedByIntrospection, wantCalls: 1},
		{name: "token carries a sensitive scope, rule off", opts: worldOpts{tiered: sens},
			setup: func(t *testing.T, w *world) strategy.Request {
				return strategy.Request{Token: w.cc(t, "demo", "payments:write")}
			}, wantBy: strategy.DecidedByLocal},
		{name: "token carries a sensitive scope, rule on",
			opts: worldOpts{tiered: strategy.TieredConfig{SensitiveScopes: []string{"payments:write"}, SensitiveIfTokenHas: true}},
			setup: func(t *testing.T, w *world) strategy.Request {
				return strategy.Request{Token: w.cc(t, "demo", "payments:write")}
			}, want: []strategy.Trigger{strategy.TriggerSensitiveScope}, wantBy: strategy.DecidedByIntrospection, wantCalls: 1},
		{name: "subject in a watch window", opts: worldOpts{tiered: sens},
			setup: func(t *testing.T, w *world) strategy.Request {
				tok := w.cc(t, "demo")
				res, err := w.local.Validate(ctx, strategy.Request{Token: tok})
				if err != nil {
					t.Fatal(err)
				}
				w.clock.Advance(time.Second)
				if err := w.store.Add(ctx, revocation.Event{Issuer: res.Issuer, Kind: revocation.KindSubject, Value: res.Subject,
					Action: revocation.ActionWatch, At: w.clock.Now(), Source: revocation.SourceAdmin}); err != nil {
					t.Fatal(err)
				}
				return strategy.Request{Token: tok}
			}, want: []strategy.Trigger{strategy.TriggerRevocationWindow}, wantBy: strategy.DecidedByIntrospection, wantCalls: 1},
		{name: "token older than max_local_age",
			opts: worldOpts{tiered: strategy.TieredConfig{MaxLocalAge: time.Minute}},
			setup: func(t *testing.T, w *world) strategy.Request {
				tok := w.cc(t, "demo")
				w.clock.Advance(61 * time.Second)
				return strategy.Request{Token: tok}
			}, want: []strategy.Trigger{strategy.TriggerTokenAge}, wantBy: strategy.DecidedByIntrospection, wantCalls: 1},
		{name: "token younger than max_local_age",
			opts: worldOpts{tiered: strategy.TieredConfig{MaxLocalAge: time.Minute}},
			setup: func(t *testing.T, w *world) strategy.Request {
				tok := w.cc(t, "demo")
				w.clock.Advance(59 * time.Second)
				return strategy.Request{Token: tok}
			}, wantBy: strategy.DecidedByLocal},
		{name: "lightweight token (no sub)", opts: worldOpts{},
			setup: func(t *testing.T, w *world) strategy.Request {
				return strategy.Request{Token: w.cc(t, "lw"), Roles: []string{"batch"}}
			}, want: []strategy.Trigger{strategy.TriggerLightweight}, wantBy: strategy.DecidedByIntrospection, wantCalls: 1},
		{name: "sampled", opts: worldOpts{tiered: strategy.TieredConfig{SampleRate: 0.5, Rand: func() float64 { return 0.1 }}},
			setup: func(t *testing.T, w *world) strategy.Request {
				return strategy.Request{Token: w.cc(t, "demo")}
			}, want: []strategy.Trigger{strategy.TriggerSampled}, wantBy: strategy.DecidedByIntrospection, wantCalls: 1},
		{name: "not sampled", opts: worldOpts{tiered: strategy.TieredConfig{SampleRate: 0.5, Rand: func() float64 { return 0.9 }}},
			setup: func(t *testing.T, w *world) strategy.Request {
				return strategy.Request{Token: w.cc(t, "demo")}
			}, wantBy: strategy.DecidedByLocal},
		{name: "opaque token", opts: worldOpts{opaque: true},
			setup: func(t *testing.T, w *world) strategy.Request {
				return strategy.Request{Token: "opaque-0123456789abcdef"}
			}, want: []strategy.Trigger{strategy.TriggerOpaque}, wantErr: strategy.ErrInactive, wantCalls: 1},
		{name: "keys unavailable, introspection on",
			opts: worldOpts{tiered: strategy.TieredConfig{IntrospectWhenKeysUnavailable: true}},
			setup: func(t *testing.T, w *world) strategy.Request {
				w.idp.SetFault(idpsim.EndpointCerts, idpsim.Fault{ErrorRate: 1, ErrorStatus: 503})
				return strategy.Request{Token: w.cc(t, "demo")}
			}, want: []strategy.Trigger{strategy.TriggerKeyUnavailable}, wantBy: strategy.DecidedByIntrospection, wantCalls: 1},
		{name: "keys unavailable, introspection off",
			opts: worldOpts{},
			setup: func(t *testing.T, w *world) strategy.Request {
				w.idp.SetFault(idpsim.EndpointCerts, idpsim.Fault{ErrorRate: 1, ErrorStatus: 503})
				return strategy.Request{Token: w.cc(t, "demo")}
			}, wantErr: strategy.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, tt.opts)
			req := tt.setup(t, w)
			before := w.calls()
			counts := map[strategy.Trigger]float64{}
			for _, tr := range allTriggers {
				counts[tr] = w.triggerCount(tr)
			}
			res, err := w.tiered.Validate(ctx, req)
			var got []strategy.Trigger
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				var se *strategy.Error
				if errors.As(err, &se) {
					got = se.Triggers
				}
			case err != nil:
				t.Fatalf("refused: %v", err)
			default:
				got = res.Triggers
				if res.DecidedBy != tt.wantBy {
					t.Fatalf("decided by %s, want %s", res.DecidedBy, tt.wantBy)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("triggers %v, want %v", got, tt.want)
			}
			if n := w.calls() - before; n != tt.wantCalls {
				t.Fatalf("IdP calls %d, want %d", n, tt.wantCalls)
			}
			for _, tr := range allTriggers {
				want := counts[tr]
				if slices.Contains(tt.want, tr) {
					want++
				}
				if got := w.triggerCount(tr); got != want {
					t.Fatalf("%s{trigger=%q} = %v, want %v", metricnames.IntrospectionTriggersTotal, tr, got, want)
				}
			}
			if tt.name == "lightweight token (no sub)" && res.Subject == "" {
				t.Fatal("lightweight token: subject not filled from introspection")
			}
		})
	}
}

// TestTieredRestartWindow: after a restart the store is empty, so tokens
// issued before the process started are asked about until the window passes.
func TestTieredRestartWindow(t *testing.T) {
	ctx := context.Background()
	first := newWorld(t, worldOpts{})
	tok := first.cc(t, "demo")
	first.clock.Advance(2 * time.Second)
	w := newWorld(t, worldOpts{restart: true, idp: first.idp, idpClock: first.clock}) // "restarted"
	res, err := w.tiered.Validate(ctx, strategy.Request{Token: tok})
	if err != nil || !slices.Equal(res.Triggers, []strategy.Trigger{strategy.TriggerRestartWindow}) {
		t.Fatalf("old token after restart: %v %+v", err, res)
	}
	fresh := w.cc(t, "demo")
	if res, err := w.tiered.Validate(ctx, strategy.Request{Token: fresh}); err != nil || len(res.Triggers) != 0 {
		t.Fatalf("token issued after restart: %v %+v", err, res)
	}
	// A watch entry of ours on the old token's subject: both rules fired.
	w.clock.Advance(time.Second)
	if err := w.store.Add(ctx, revocation.Event{Issuer: res.Issuer, Kind: revocation.KindSubject, Value: res.Subject,
		Action: revocation.ActionWatch, At: w.clock.Now(), Source: revocation.SourceAdmin}); err != nil {
		t.Fatal(err)
	}
	res, err = w.tiered.Validate(ctx, strategy.Request{Token: tok})
	want := []strategy.Trigger{strategy.TriggerRevocationWindow, strategy.TriggerRestartWindow}
	if err != nil || !slices.Equal(res.Triggers, want) {
		t.Fatalf("old token in both windows: %v %+v, want %v", err, res, want)
	}
}

// TestTieredFailModes: sensitive, window and restart-window requests fail
// closed when the IdP is down; other triggers follow on_unavailable.
func TestTieredFailModes(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		onUnav   strategy.OnUnavailable
		req      func(w *world, tok string) strategy.Request
		age      bool
		wantErr  error
		degraded bool
	}{
		{"sensitive, fail_closed", strategy.FailClosed, func(w *world, tok string) strategy.Request { return strategy.Request{Token: tok, Sensitive: true} }, false, strategy.ErrUnavailable, false},
		{"sensitive, local: still closed", strategy.FailLocal, func(w *world, tok string) strategy.Request { return strategy.Request{Token: tok, Sensitive: true} }, false, strategy.ErrUnavailable, false},
		{"token_age, fail_closed", strategy.FailClosed, func(w *world, tok string) strategy.Request { return strategy.Request{Token: tok} }, true, strategy.ErrUnavailable, false},
		{"token_age, local: degraded accept", strategy.FailLocal, func(w *world, tok string) strategy.Request { return strategy.Request{Token: tok} }, true, nil, true},
		{"lightweight, local: cannot degrade", strategy.FailLocal, func(w *world, tok string) strategy.Request { return strategy.Request{Token: tok, Roles: []string{"x"}} }, false, strategy.ErrUnavailable, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, worldOpts{tiered: strategy.TieredConfig{MaxLocalAge: time.Minute, OnUnavailable: tt.onUnav}, introTimeout: 300 * time.Millisecond})
			tok := w.cc(t, "demo")
			if tt.name == "lightweight, local: cannot degrade" {
				tok = w.cc(t, "lw")
			}
			if tt.age {
				w.clock.Advance(2 * time.Minute)
			}
			w.idp.SetFault(idpsim.EndpointIntrospect, idpsim.Fault{ErrorRate: 1, ErrorStatus: 503})
			res, err := w.tiered.Validate(ctx, tt.req(w, tok))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || strategy.ReasonOf(err) != strategy.ReasonIDPUnavailable {
					t.Fatalf("got %v, want %v idp_unavailable", err, tt.wantErr)
				}
				return
			}
			if err != nil || res.Degraded != tt.degraded || res.DecidedBy != strategy.DecidedByLocal {
				t.Fatalf("got %v %+v", err, res)
			}
			if got := testutil.ToFloat64(w.metrics.DecisionCounter("tiered", "degraded", "local")); got != 1 {
				t.Fatalf("degraded decisions counted %v", got)
			}
		})
	}
	t.Run("window, local: still closed", func(t *testing.T) {
		w := newWorld(t, worldOpts{tiered: strategy.TieredConfig{OnUnavailable: strategy.FailLocal}, introTimeout: 300 * time.Millisecond})
		tok := w.cc(t, "demo")
		res, _ := w.local.Validate(ctx, strategy.Request{Token: tok})
		w.clock.Advance(time.Second)
		_ = w.store.Add(ctx, revocation.Event{Issuer: res.Issuer, Kind: revocation.KindSession, Value: res.SessionID, Action: revocation.ActionWatch, At: w.clock.Now(), Source: revocation.SourceAdmin})
		w.idp.SetFault(idpsim.EndpointIntrospect, idpsim.Fault{Hang: true})
		if _, err := w.tiered.Validate(ctx, strategy.Request{Token: tok}); !errors.Is(err, strategy.ErrUnavailable) {
			t.Fatalf("a token in a watch window never fails open: %v", err)
		}
	})
}

// TestTieredRevokedNotPushed: a token revoked at the IdP (no push) is never
// accepted on a sensitive request after the revocation; on standard requests
// it is accepted locally until max_local_age passes; then the IdP's answer is
// learned and the next refusal needs no call.
func TestTieredRevokedNotPushed(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, worldOpts{tiered: strategy.TieredConfig{MaxLocalAge: time.Minute, SensitiveScopes: []string{"payments:write"}}})
	tok := w.cc(t, "demo", "payments:write")
	if _, err := w.tiered.Validate(ctx, strategy.Request{Token: tok, Scopes: []string{"payments:write"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.idp.Revoke("dev", tok); err != nil {
		t.Fatal(err)
	}
	if _, err := w.tiered.Validate(ctx, strategy.Request{Token: tok, Scopes: []string{"payments:write"}}); !errors.Is(err, strategy.ErrInactive) {
		t.Fatalf("sensitive request after revocation: %v", err)
	}
	// Learned: the jti is denied now, every strategy refuses with no call.
	before := w.calls()
	for name, s := range map[string]strategy.Strategy{"local": w.local, "tiered": w.tiered, "introspection": w.intro} {
		_, err := s.Validate(ctx, strategy.Request{Token: tok})
		if !errors.Is(err, strategy.ErrInactive) || strategy.ReasonOf(err) != strategy.ReasonRevoked {
			t.Fatalf("%s after a learned revocation: %v", name, err)
		}
	}
	if w.calls() != before {
		t.Fatalf("learned refusals made %d IdP calls", w.calls()-before)
	}

	// Another token revoked, never asked about on a sensitive route.
	other := w.cc(t, "demo")
	if err := w.idp.Revoke("dev", other); err != nil {
		t.Fatal(err)
	}
	if res, err := w.tiered.Validate(ctx, strategy.Request{Token: other}); err != nil || res.DecidedBy != strategy.DecidedByLocal {
		t.Fatalf("standard request within max_local_age is local (the exposure tiered accepts): %v %+v", err, res)
	}
	w.clock.Advance(61 * time.Second)
	if _, err := w.tiered.Validate(ctx, strategy.Request{Token: other}); !errors.Is(err, strategy.ErrInactive) {
		t.Fatalf("past max_local_age: %v", err)
	}
}

// TestLogoutRefusedEverywhereWithoutCalls: a back-channel logout delivered by
// the IdP denies the session: Local, Introspect (with a warm cache) and
// Tiered refuse the very next request with zero IdP calls; the user's other
// session is in a watch window.
func TestLogoutRefusedEverywhereWithoutCalls(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, worldOpts{})
	lv, err := revocation.NewLogoutValidator(revocation.LogoutConfig{
		Issuers: map[string]revocation.KeySource{w.idp.Issuer("dev"): w.keys}, Audiences: []string{"demo"},
	}, revocation.WithClock(w.clock))
	if err != nil {
		t.Fatal(err)
	}
	s1, _ := w.idp.PasswordGrant("dev", "demo", "alice")
	s2, _ := w.idp.PasswordGrant("dev", "demo", "alice")
	for _, s := range []strategy.Strategy{w.local, w.intro, w.tiered} {
		if _, err := s.Validate(ctx, strategy.Request{Token: s1.AccessToken}); err != nil {
			t.Fatal(err)
		}
	}
	// The logout token as the IdP sends it (signed, for client demo).
	r1, _ := w.local.Validate(ctx, strategy.Request{Token: s1.AccessToken})
	w.clock.Advance(time.Second)
	logoutTok, err := w.idp.Sign("dev", map[string]any{"typ": "logout+jwt"}, map[string]any{
		"iss": w.idp.Issuer("dev"), "aud": "demo", "iat": w.clock.Now().Unix(), "exp": w.clock.Now().Add(2 * time.Minute).Unix(),
		"jti": "bcl-1", "sub": r1.Subject, "sid": r1.SessionID, "typ": "Logout",
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	lc, err := lv.Validate(ctx, logoutTok)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range lv.Events(lc) {
		if err := w.store.Add(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	before := w.calls()
	for name, s := range map[string]strategy.Strategy{"local": w.local, "introspection": w.intro, "tiered": w.tiered} {
		_, err := s.Validate(ctx, strategy.Request{Token: s1.AccessToken})
		if !errors.Is(err, strategy.ErrInactive) || strategy.ReasonOf(err) != strategy.ReasonRevoked {
			t.Fatalf("%s: logged-out token: %v", name, err)
		}
	}
	if n := w.calls() - before; n != 0 {
		t.Fatalf("logout refusals made %d IdP calls", n)
	}
	res, err := w.tiered.Validate(ctx, strategy.Request{Token: s2.AccessToken})
	if err != nil || !slices.Contains(res.Triggers, strategy.TriggerRevocationWindow) {
		t.Fatalf("her other session should be in a watch window: %v %+v", err, res)
	}
}

// TestTieredOnUnavailableOverride: a route may relax or tighten the fail
// mode; the copy shares caches and stays instrumented.
func TestTieredOnUnavailableOverride(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, worldOpts{tiered: strategy.TieredConfig{MaxLocalAge: time.Minute}, introTimeout: 300 * time.Millisecond})
	o, ok := w.tiered.(interface {
		WithOnUnavailable(string) (strategy.Strategy, error)
	})
	if !ok {
		t.Fatal("instrumented tiered has no WithOnUnavailable")
	}
	relaxed, err := o.WithOnUnavailable("local")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.WithOnUnavailable("open"); err == nil {
		t.Fatal("unknown mode accepted")
	}
	tok := w.cc(t, "demo")
	w.clock.Advance(2 * time.Minute)
	w.idp.SetFault(idpsim.EndpointIntrospect, idpsim.Fault{ErrorRate: 1, ErrorStatus: 500})
	if _, err := w.tiered.Validate(ctx, strategy.Request{Token: tok}); !errors.Is(err, strategy.ErrUnavailable) {
		t.Fatalf("default fail_closed: %v", err)
	}
	res, err := relaxed.Validate(ctx, strategy.Request{Token: tok})
	if err != nil || !res.Degraded {
		t.Fatalf("override local: %v %+v", err, res)
	}
	if got := testutil.ToFloat64(w.metrics.DecisionCounter("tiered", "degraded", "local")); got != 1 {
		t.Fatalf("override not instrumented: %v", got)
	}
}
