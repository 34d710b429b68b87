package strategy_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/idpsim"
	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/introspection"
	"github.com/tokenwarden/tokenwarden/jwks"
	"github.com/tokenwarden/tokenwarden/strategy"
)

type kciFixture struct {
	idp    *idpsim.Server
	clock  *clock.Manual
	v      *strategy.Verifier
	intro  *strategy.Introspect
	client *introspection.Client
}

// newKCI builds the Introspect strategy against idpsim with the demo client.
func newKCI(t testing.TB, secret string, mod func(*strategy.IssuerConfig)) *kciFixture {
	t.Helper()
	clk := clock.NewManual(time.Now().Truncate(time.Second))
	idp, err := idpsim.Start(idpsim.DefaultConfig(), "127.0.0.1:0", idpsim.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp.Close() })
	res, err := jwks.New(jwks.Config{Name: "dev", Issuer: idp.Issuer("dev"), Algorithms: []string{"RS256"}}, jwks.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(res.Close)
	ic, err := introspection.New(introspection.Config{
		Name: "dev", Endpoint: idp.Issuer("dev") + "/protocol/openid-connect/token/introspect",
		ClientID: "demo", ClientSecret: []byte(secret), Timeout: time.Second, BreakerFailures: -1,
	}, introspection.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ic.Close)
	cfg := strategy.IssuerConfig{
		Name: "dev", Issuer: idp.Issuer("dev"), AuthorizedParties: []string{"demo"}, Keys: res, Introspector: ic,
	}
	if mod != nil {
		mod(&cfg)
	}
	v, err := strategy.NewVerifier([]strategy.IssuerConfig{cfg}, strategy.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return &kciFixture{idp: idp, clock: clk, v: v, client: ic,
		intro: strategy.NewIntrospect("introspection", v, strategy.IntrospectConfig{StandardMaxAge: 30 * time.Second})}
}

func (f *kciFixture) calls() int64 { return f.idp.Calls(idpsim.EndpointIntrospect) }

func TestIntrospectKeycloak(t *testing.T) {
	f := newKCI(t, "demo-secret", nil)
	ctx := context.Background()
	cc, err := f.idp.ClientCredentials("dev", "demo", "payments:write")
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.intro.Validate(ctx, strategy.Request{Token: cc.AccessToken, Scopes: []string{"payments:write"}})
	if err != nil {
		t.Fatalf("active token: %v", err)
	}
	if res.DecidedBy != strategy.DecidedByIntrospection || res.Cached || res.ClientID != "demo" || res.Subject == "" || res.ExpiresAt.IsZero() {
		t.Fatalf("result %+v", res)
	}
	// Standard freshness: served from the cache, no IdP call.
	before := f.calls()
	res, err = f.intro.Validate(ctx, strategy.Request{Token: cc.AccessToken})
	if err != nil || !res.Cached || f.calls() != before {
		t.Fatalf("second standard request should be cached: %v %+v calls %d->%d", err, res, before, f.calls())
	}
	// Sensitive: sensitive_max_age 0 means a fresh call every time.
	res, err = f.intro.Validate(ctx, strategy.Request{Token: cc.AccessToken, Sensitive: true})
	if err != nil || res.Cached || f.calls() != before+1 {
		t.Fatalf("sensitive request must ask the IdP: %v %+v", err, res)
	}
	// Missing scope judged on the IdP's answer.
	if _, err := f.intro.Validate(ctx, strategy.Request{Token: cc.AccessToken, Scopes: []string{"admin"}}); !errors.Is(err, strategy.ErrForbidden) {
		t.Fatalf("missing scope: %v", err)
	}

	// Revoked at the IdP: the JWT still verifies locally, the IdP says inactive.
	if err := f.idp.Revoke("dev", cc.AccessToken); err != nil {
		t.Fatal(err)
	}
	_, err = f.intro.Validate(ctx, strategy.Request{Token: cc.AccessToken, Sensitive: true})
	if !errors.Is(err, strategy.ErrInactive) || strategy.ReasonOf(err) != strategy.ReasonInactive {
		t.Fatalf("revoked token: %v", err)
	}

	// Logged-out session.
	alice, err := f.idp.PasswordGrant("dev", "demo", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.intro.Validate(ctx, strategy.Request{Token: alice.AccessToken, Roles: []string{"user", "demo:reader"}}); err != nil {
		t.Fatalf("alice before logout: %v", err)
	}
	sids := f.idp.Sessions("dev", "alice")
	if len(sids) == 0 {
		t.Fatal("no session")
	}
	if err := f.idp.Logout(ctx, "dev", sids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := f.intro.Validate(ctx, strategy.Request{Token: alice.AccessToken, Sensitive: true}); !errors.Is(err, strategy.ErrInactive) {
		t.Fatalf("logged-out token: %v", err)
	}

	// A refresh token introspects active with typ Refresh: refused as an access token.
	bob, err := f.idp.PasswordGrant("dev", "demo", "bob")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.intro.Validate(ctx, strategy.Request{Token: bob.RefreshToken})
	if !errors.Is(err, strategy.ErrInvalid) || strategy.ReasonOf(err) != strategy.ReasonType {
		t.Fatalf("refresh token as access token: %v", err)
	}

	// Expired: the answer's exp is enforced by our clock too.
	fresh, _ := f.idp.ClientCredentials("dev", "demo")
	f.clock.Advance(10 * time.Minute)
	if _, err := f.intro.Validate(ctx, strategy.Request{Token: fresh.AccessToken}); !errors.Is(err, strategy.ErrInactive) {
		t.Fatalf("expired: %v", err)
	}
}

func TestIntrospectAudienceIsOurs(t *testing.T) {
	// Any confidential client of a realm may introspect any realm token:
	// the IdP says active, the audience check is ours.
	f := newKCI(t, "demo-secret", func(ic *strategy.IssuerConfig) { ic.AuthorizedParties = []string{"web"} })
	cc, _ := f.idp.ClientCredentials("dev", "demo")
	_, err := f.intro.Validate(context.Background(), strategy.Request{Token: cc.AccessToken})
	if !errors.Is(err, strategy.ErrInvalid) || strategy.ReasonOf(err) != strategy.ReasonAZP {
		t.Fatalf("other-audience token: %v", err)
	}
}

func TestIntrospectOpaque(t *testing.T) {
	ctx := context.Background()
	off := newKCI(t, "demo-secret", nil)
	on := newKCI(t, "demo-secret", func(ic *strategy.IssuerConfig) { ic.IntrospectOpaque = true })
	tests := []struct {
		name       string
		f          *kciFixture
		token      string
		wantKind   error
		wantReason strategy.Reason
		wantCalls  int64
	}{
		{"opaque off: no call", off, "ory_at_0123456789abcdefABCDEF", strategy.ErrInvalid, strategy.ReasonOpaque, 0},
		{"opaque on: asked, unknown to the IdP", on, "ory_at_0123456789abcdefABCDEF", strategy.ErrInactive, strategy.ReasonInactive, 1},
		{"opaque on: garbage charset, no call", on, "not a token at all <script>", strategy.ErrInvalid, strategy.ReasonMalformed, 0},
		{"opaque on: too short, no call", on, "abc", strategy.ErrInvalid, strategy.ReasonMalformed, 0},
		{"JWT of an unknown issuer: no call", on, mint(hdr("RS256", "k"), map[string]any{"iss": "https://evil.example"}, rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonIssuer, 0},
		{"undecodable JWT: no call", on, "eyJ.e30$.x", strategy.ErrInvalid, strategy.ReasonMalformed, 0},
		{"five-part JWE is not opaque: no call", on, "eyJhbGciOiJSU0EtT0FFUCJ9.a2V5.aXY.Y2lwaGVy.dGFn", strategy.ErrInvalid, strategy.ReasonMalformed, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.f.calls()
			_, err := tc.f.intro.Validate(ctx, strategy.Request{Token: tc.token})
			if !errors.Is(err, tc.wantKind) || strategy.ReasonOf(err) != tc.wantReason {
				t.Fatalf("got %v, want %v/%s", err, tc.wantKind, tc.wantReason)
			}
			if n := tc.f.calls() - before; n != tc.wantCalls {
				t.Fatalf("IdP calls %d, want %d", n, tc.wantCalls)
			}
		})
	}
}

// TestIntrospectOutages: every way the IdP can fail is unavailable (503),
// never inactive or invalid (401).
func TestIntrospectOutages(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		fault idpsim.Fault
		sec   string
	}{
		{"500", idpsim.Fault{ErrorRate: 1, ErrorStatus: 500}, "demo-secret"},
		{"503", idpsim.Fault{ErrorRate: 1, ErrorStatus: 503}, "demo-secret"},
		{"garbage", idpsim.Fault{Garbage: true}, "demo-secret"},
		{"hang", idpsim.Fault{Hang: true}, "demo-secret"},
		{"slow past the timeout", idpsim.Fault{Latency: 3 * time.Second}, "demo-secret"},
		{"our credentials rejected (401 Authentication failed.)", idpsim.Fault{}, "wrong-secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newKCI(t, tc.sec, nil)
			cc, _ := f.idp.ClientCredentials("dev", "demo")
			f.idp.SetFault(idpsim.EndpointIntrospect, tc.fault)
			_, err := f.intro.Validate(ctx, strategy.Request{Token: cc.AccessToken})
			if !errors.Is(err, strategy.ErrUnavailable) || strategy.ReasonOf(err) != strategy.ReasonIDPUnavailable {
				t.Fatalf("got %v, want unavailable idp_unavailable", err)
			}
		})
	}
}

// TestIntrospectHydraRefreshToken: an answer whose token_use says refresh
// token (Ory Hydra) is not an access token.
func TestIntrospectHydraRefreshToken(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	fake := strategy.Introspector(introspectorFunc(func(context.Context, string, time.Duration) (*introspection.Answer, error) {
		exp := now.Add(time.Hour)
		return &introspection.Answer{Response: &introspection.Response{Active: true, Iss: "https://hydra.example", Sub: "svc",
			ClientID: "svc", Aud: []string{"urn:api"}, Exp: &exp, TokenUse: "refresh_token"}, FetchedAt: now}, nil
	}))
	v, err := strategy.NewVerifier([]strategy.IssuerConfig{{
		Name: "hydra", Issuer: "https://hydra.example", Audiences: []string{"urn:api"}, Profile: strategy.ProfileGeneric,
		Keys:         strategy.KeySourceFunc(func(context.Context, string, string) (jwks.Key, error) { return jwks.Key{}, jwks.ErrUnknownKID }),
		Introspector: fake, IntrospectOpaque: true,
	}}, strategy.WithClock(clock.NewManual(now)))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	s := strategy.NewIntrospect("introspection", v, strategy.IntrospectConfig{})
	_, err = s.Validate(context.Background(), strategy.Request{Token: "ory_rt_0123456789abcdef.sig"})
	if !errors.Is(err, strategy.ErrInvalid) || strategy.ReasonOf(err) != strategy.ReasonType {
		t.Fatalf("refresh token by token_use: %v, want invalid typ", err)
	}
}

type introspectorFunc func(ctx context.Context, token string, maxAge time.Duration) (*introspection.Answer, error)

func (f introspectorFunc) Introspect(ctx context.Context, token string, maxAge time.Duration) (*introspection.Answer, error) {
	return f(ctx, token, maxAge)
}
