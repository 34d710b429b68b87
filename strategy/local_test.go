package strategy_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/jwks"
	"github.com/tokenwarden/tokenwarden/strategy"
)

type fixture struct {
	idp   *idp
	clock *clock.Manual
	v     *strategy.Verifier
	local *strategy.Local
	keys  *jwks.Resolver
}

var t0 = time.Unix(1_800_000_000, 0)

func newFixture(t testing.TB, mod func(*strategy.IssuerConfig)) *fixture {
	t.Helper()
	p := newIDP(t)
	clk := clock.NewManual(t0)
	res, err := jwks.New(jwks.Config{
		Name: "test", Issuer: p.issuer,
		Algorithms:            []string{"RS256", "PS256", "ES256", "EdDSA"},
		UnknownKIDMinInterval: time.Second,
	}, jwks.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(res.Close)
	ic := strategy.IssuerConfig{
		Name: "test", Issuer: p.issuer, AuthorizedParties: []string{"demo"},
		Algorithms: []string{"RS256", "PS256", "ES256", "EdDSA"}, Keys: res,
	}
	if mod != nil {
		mod(&ic)
	}
	v, err := strategy.NewVerifier([]strategy.IssuerConfig{ic}, strategy.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return &fixture{idp: p, clock: clk, v: v, local: strategy.NewLocal("local", v), keys: res}
}

// TestAttackCorpus runs the known JWT attacks (RFC 8725 §2) against Local;
// each must be refused with its reason code, never accepted, never a panic.
func TestAttackCorpus(t *testing.T) {
	f := newFixture(t, nil)
	iss := f.idp.issuer
	c := kcClaims(iss, t0)

	// An attacker's key server for jku/x5u: it must never be contacted.
	var attackerHits atomic.Int64
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { attackerHits.Add(1) }))
	defer attacker.Close()

	good := mint(hdr("RS256", "rsa1"), c, rs256(keys.rsa))
	parts := strings.Split(good, ".")
	big8k := strings.Repeat("k", 8<<10)

	tests := []struct {
		name       string
		token      string
		wantKind   error
		wantReason strategy.Reason
	}{
		{"alg none", mint(map[string]any{"alg": "none", "typ": "JWT"}, c, nil), strategy.ErrInvalid, strategy.ReasonAlg},
		{"alg None", mint(map[string]any{"alg": "None", "typ": "JWT"}, c, nil), strategy.ErrInvalid, strategy.ReasonAlg},
		{"alg NONE", mint(map[string]any{"alg": "NONE", "typ": "JWT"}, c, nil), strategy.ErrInvalid, strategy.ReasonAlg},
		{"alg none with signature", mint(map[string]any{"alg": "none", "kid": "rsa1"}, c, rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonAlg},
		{"HS256 with RSA public key PEM", mint(hdr("HS256", "rsa1"), c, hs256(rsaPublicPEM(&keys.rsa.PublicKey))), strategy.ErrInvalid, strategy.ReasonAlg},
		{"HS256 with RSA modulus", mint(hdr("HS256", "rsa1"), c, hs256(modulus(&keys.rsa.PublicKey))), strategy.ErrInvalid, strategy.ReasonAlg},
		{"kid of EC key on RS256 token", mint(hdr("RS256", "ec1"), c, rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonAlg},
		{"PS256 against RS256-bound key", mint(hdr("PS256", "rsa1"), c, ps256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonAlg},
		{"RS256 against PS256-bound key", mint(hdr("RS256", "ps1"), c, rs256(keys.ps)), strategy.ErrInvalid, strategy.ReasonAlg},
		{"enc key used for signature", mint(hdr("RS256", "enc1"), c, rs256(keys.enc)), strategy.ErrInvalid, strategy.ReasonKID},
		{"kid traversal", mint(hdr("RS256", "../../../../etc/passwd"), c, rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonKID},
		{"kid SQL", mint(hdr("RS256", "' OR '1'='1' --"), c, rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonKID},
		{"kid 8 KiB", mint(hdr("RS256", big8k), c, rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonKID},
		{"jku names attacker keys", mint(with(hdr("RS256", "attacker"), "jku", attacker.URL+"/jwks"), c, rs256(keys.rsaOther)), strategy.ErrInvalid, strategy.ReasonHeader},
		{"x5u names attacker cert", mint(with(hdr("RS256", "attacker"), "x5u", attacker.URL+"/cert.pem"), c, rs256(keys.rsaOther)), strategy.ErrInvalid, strategy.ReasonHeader},
		{"embedded jwk", mint(with(hdr("RS256", "rsa1"), "jwk", map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"}), c, rs256(keys.rsaOther)), strategy.ErrInvalid, strategy.ReasonHeader},
		{"embedded x5c", mint(with(hdr("RS256", "rsa1"), "x5c", []string{"MIIB"}), c, rs256(keys.rsaOther)), strategy.ErrInvalid, strategy.ReasonHeader},
		{"unknown crit", mint(with(hdr("RS256", "rsa1"), "crit", []string{"exp"}, "exp", 1), c, rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonCrit},
		{"b64 false", mint(with(hdr("RS256", "rsa1"), "b64", false), c, rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonCrit},
		{"five-part JWE", "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn", strategy.ErrInvalid, strategy.ReasonMalformed},
		{"JWE header in three parts", mint(map[string]any{"alg": "RSA-OAEP", "enc": "A256GCM"}, c, rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonMalformed},
		{"JSON serialisation", `{"payload":"` + parts[1] + `","signatures":[{"protected":"` + parts[0] + `","signature":"` + parts[2] + `"}]}`, strategy.ErrInvalid, strategy.ReasonMalformed},
		{"wrong iss", mint(hdr("RS256", "rsa1"), with(c, "iss", "https://evil.example/realms/test"), rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonIssuer},
		{"iss trailing slash", mint(hdr("RS256", "rsa1"), with(c, "iss", iss+"/"), rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonIssuer},
		{"iss missing", mint(hdr("RS256", "rsa1"), with(c, "iss", nil), rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonIssuer},
		{"iss not a string", mint(hdr("RS256", "rsa1"), with(c, "iss", 42), rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonClaims},
		{"azp not authorized", mint(hdr("RS256", "rsa1"), with(c, "azp", "other"), rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonAZP},
		{"typ Refresh", mint(hdr("RS256", "rsa1"), with(c, "typ", "Refresh"), rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonType},
		{"typ Offline", mint(hdr("RS256", "rsa1"), with(c, "typ", "Offline"), rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonType},
		{"typ ID", mint(hdr("RS256", "rsa1"), with(c, "typ", "ID"), rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonType},
		{"typ Logout", mint(hdr("RS256", "rsa1"), with(c, "typ", "Logout"), rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonType},
		{"typ missing (keycloak profile)", mint(hdr("RS256", "rsa1"), with(c, "typ", nil), rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonType},
		{"header typ logout+jwt", mint(with(hdr("RS256", "rsa1"), "typ", "logout+jwt"), c, rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonType},
		{"header typ secevent+jwt", mint(with(hdr("RS256", "rsa1"), "typ", "secevent+jwt"), c, rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonType},
		{"exp missing", mint(hdr("RS256", "rsa1"), with(c, "exp", nil), rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonExpired},
		{"exp past", mint(hdr("RS256", "rsa1"), with(c, "exp", t0.Add(-time.Minute).Unix()), rs256(keys.rsa)), strategy.ErrInactive, strategy.ReasonExpired},
		{"exp a string", mint(hdr("RS256", "rsa1"), with(c, "exp", "2099999999"), rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonExpired},
		{"exp absurdly large", mint(hdr("RS256", "rsa1"), with(c, "exp", 1e300), rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonExpired},
		{"exp negative", mint(hdr("RS256", "rsa1"), with(c, "exp", -1), rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonExpired},
		{"nbf in the future", mint(hdr("RS256", "rsa1"), with(c, "nbf", t0.Add(time.Hour).Unix()), rs256(keys.rsa)), strategy.ErrInactive, strategy.ReasonNotBefore},
		{"iat in the future", mint(hdr("RS256", "rsa1"), with(c, "iat", t0.Add(time.Hour).Unix()), rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonIssuedAt},
		{"iat missing", mint(hdr("RS256", "rsa1"), with(c, "iat", nil), rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonIssuedAt},
		{"over the size cap", mint(hdr("RS256", "rsa1"), with(c, "pad", strings.Repeat("x", 17<<10)), rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonTooLarge},
		{"invalid base64url", parts[0] + "." + parts[1][:10] + "*" + parts[1][11:] + "." + parts[2], strategy.ErrInvalid, strategy.ReasonMalformed},
		{"padding", parts[0] + "=." + parts[1] + "." + parts[2], strategy.ErrInvalid, strategy.ReasonMalformed},
		{"whitespace", parts[0] + ". " + parts[1] + "." + parts[2], strategy.ErrInvalid, strategy.ReasonMalformed},
		{"standard base64 alphabet", parts[0] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[1]) + "x+/." + parts[2], strategy.ErrInvalid, strategy.ReasonMalformed},
		{"non-UTF-8 claims", mintRaw([]byte(`{"alg":"RS256","kid":"rsa1","typ":"JWT"}`), []byte("{\"iss\":\""+iss+"\",\"sub\":\"\xff\xfe\"}"), rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonMalformed},
		{"signature stripped", parts[0] + "." + parts[1] + ".", strategy.ErrInvalid, strategy.ReasonSignature},
		{"signature truncated", parts[0] + "." + parts[1] + "." + truncate(parts[2], 16), strategy.ErrInvalid, strategy.ReasonSignature},
		{"signature by another key with the same kid", mint(hdr("RS256", "rsa1"), c, rs256(keys.rsaOther)), strategy.ErrInvalid, strategy.ReasonSignature},
		{"claims swapped under a valid signature", parts[0] + "." + enc.EncodeToString([]byte(`{"iss":"`+iss+`","sub":"admin"}`)) + "." + parts[2], strategy.ErrInvalid, strategy.ReasonSignature},
		{"1024-bit RSA key", mint(hdr("RS256", "weak"), c, rs256(keys.rsa1024)), strategy.ErrInvalid, strategy.ReasonKID},
		{"cnf jkt (DPoP-bound)", mint(hdr("RS256", "rsa1"), with(c, "cnf", map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}), rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonBoundToken},
		{"cnf x5t#S256 (mTLS-bound)", mint(hdr("RS256", "rsa1"), with(c, "cnf", map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}), rs256(keys.rsa)), strategy.ErrInvalid, strategy.ReasonBoundToken},
		{"opaque token", "ory_at_8kM2vBf1", strategy.ErrNotApplicable, strategy.ReasonOpaque},
		{"opaque token with one dot (Hydra)", "ory_at_8kM2vBf1xq.Zx9rT0b", strategy.ErrNotApplicable, strategy.ReasonOpaque},
		{"empty", "", strategy.ErrInvalid, strategy.ReasonMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Each case gets its own refresh budget for unknown kids.
			f.clock.Advance(time.Second + time.Millisecond)
			res, err := f.local.Validate(context.Background(), strategy.Request{Token: tc.token})
			if err == nil {
				t.Fatalf("accepted: %+v", res)
			}
			if !errors.Is(err, tc.wantKind) {
				t.Fatalf("kind: got %v, want %v", err, tc.wantKind)
			}
			if got := strategy.ReasonOf(err); got != tc.wantReason {
				t.Fatalf("reason: got %q, want %q (%v)", got, tc.wantReason, err)
			}
			if strings.Contains(err.Error(), tc.token) && tc.token != "" {
				t.Fatal("error message contains the token")
			}
		})
	}
	if n := attackerHits.Load(); n != 0 {
		t.Fatalf("attacker's key server was contacted %d times", n)
	}
}

func TestAccepted(t *testing.T) {
	f := newFixture(t, nil)
	aud := newFixture(t, func(ic *strategy.IssuerConfig) {
		ic.Audiences = []string{"my-api"}
		ic.AuthorizedParties = nil
	})
	c := kcClaims(f.idp.issuer, t0)
	tests := []struct {
		name  string
		f     *fixture
		token string
	}{
		{"RS256", f, mint(hdr("RS256", "rsa1"), c, rs256(keys.rsa))},
		{"PS256", f, mint(hdr("PS256", "ps1"), c, ps256(keys.ps))},
		{"ES256", f, mint(hdr("ES256", "ec1"), c, es256(keys.ec))},
		{"EdDSA", f, mint(hdr("EdDSA", "ed1"), c, eddsa(keys.ed))},
		{"at+jwt header", f, mint(with(hdr("RS256", "rsa1"), "typ", "at+jwt"), c, rs256(keys.rsa))},
		{"nbf and iat within skew", f, mint(hdr("RS256", "rsa1"), with(c, "nbf", t0.Add(10*time.Second).Unix(), "iat", t0.Add(10*time.Second).Unix()), rs256(keys.rsa))},
		{"aud array containing ours", aud, mint(hdr("RS256", "rsa1"), with(kcClaims(aud.idp.issuer, t0), "aud", []string{"account", "my-api"}), rs256(keys.rsa))},
		{"aud string ours", aud, mint(hdr("RS256", "rsa1"), with(kcClaims(aud.idp.issuer, t0), "aud", "my-api"), rs256(keys.rsa))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := tc.f.local.Validate(context.Background(), strategy.Request{Token: tc.token, Scopes: []string{"payments:write"}, Roles: []string{"user", "demo:reader"}})
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if res.Subject != "user-1" || res.ClientID != "demo" || res.SessionID != "sess-1" || res.DecidedBy != strategy.DecidedByLocal || res.Strategy != "local" {
				t.Fatalf("unexpected result %+v", res)
			}
			if !res.ExpiresAt.Equal(t0.Add(5 * time.Minute)) {
				t.Fatalf("exp %v", res.ExpiresAt)
			}
		})
	}
}

func TestAudienceRefused(t *testing.T) {
	f := newFixture(t, func(ic *strategy.IssuerConfig) {
		ic.Audiences = []string{"my-api"}
		ic.AuthorizedParties = nil
	})
	c := kcClaims(f.idp.issuer, t0)
	for name, claims := range map[string]map[string]any{
		"aud other":   with(c, "aud", "other-api"),
		"aud missing": c,
		"aud array":   with(c, "aud", []string{"a", "b"}),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.local.Validate(context.Background(), strategy.Request{Token: mint(hdr("RS256", "rsa1"), claims, rs256(keys.rsa))})
			if !errors.Is(err, strategy.ErrInvalid) || strategy.ReasonOf(err) != strategy.ReasonAudience {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestProfiles(t *testing.T) {
	rfc := newFixture(t, func(ic *strategy.IssuerConfig) { ic.Profile = strategy.ProfileRFC9068 })
	gen := newFixture(t, func(ic *strategy.IssuerConfig) { ic.Profile = strategy.ProfileGeneric })
	atjwt := func(f *fixture, claims map[string]any, typ string) string {
		return mint(with(hdr("RS256", "rsa1"), "typ", typ), claims, rs256(keys.rsa))
	}
	rc := with(kcClaims(rfc.idp.issuer, t0), "client_id", "demo")
	gc := with(kcClaims(gen.idp.issuer, t0), "typ", nil)
	tests := []struct {
		name       string
		f          *fixture
		token      string
		wantReason strategy.Reason
	}{
		{"rfc9068 at+jwt", rfc, atjwt(rfc, rc, "at+jwt"), ""},
		{"rfc9068 application/at+jwt", rfc, atjwt(rfc, rc, "application/at+jwt"), ""},
		{"rfc9068 JWT header", rfc, atjwt(rfc, rc, "JWT"), strategy.ReasonType},
		{"rfc9068 no client_id", rfc, atjwt(rfc, with(rc, "client_id", nil), "at+jwt"), strategy.ReasonClaims},
		{"rfc9068 no jti", rfc, atjwt(rfc, with(rc, "jti", nil), "at+jwt"), strategy.ReasonClaims},
		{"generic JWT without payload typ", gen, atjwt(gen, gc, "JWT"), ""},
		{"generic no header typ", gen, mint(map[string]any{"alg": "RS256", "kid": "rsa1"}, gc, rs256(keys.rsa)), ""},
		{"generic logout+jwt", gen, atjwt(gen, gc, "logout+jwt"), strategy.ReasonType},
		{"generic payload typ Refresh", gen, atjwt(gen, with(gc, "typ", "Refresh"), "JWT"), strategy.ReasonType},
		{"generic payload typ ID", gen, atjwt(gen, with(gc, "typ", "ID"), "JWT"), strategy.ReasonType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.f.local.Validate(context.Background(), strategy.Request{Token: tc.token})
			if got := strategy.ReasonOf(err); got != tc.wantReason {
				t.Fatalf("reason %q, want %q (%v)", got, tc.wantReason, err)
			}
		})
	}
}

func TestScopesAndRoles(t *testing.T) {
	f := newFixture(t, nil)
	tok := mint(hdr("RS256", "rsa1"), kcClaims(f.idp.issuer, t0), rs256(keys.rsa))
	scp := mint(hdr("RS256", "rsa1"), with(kcClaims(f.idp.issuer, t0), "scope", nil, "scp", []string{"read", "write"}), rs256(keys.rsa))
	tests := []struct {
		name       string
		token      string
		req        strategy.Request
		wantReason strategy.Reason
	}{
		{"scope granted", tok, strategy.Request{Scopes: []string{"openid", "payments:write"}}, ""},
		{"scope missing", tok, strategy.Request{Scopes: []string{"admin"}}, strategy.ReasonScope},
		{"scope prefix is not the scope", tok, strategy.Request{Scopes: []string{"payments"}}, strategy.ReasonScope},
		{"scp array granted", scp, strategy.Request{Scopes: []string{"write"}}, ""},
		{"realm role", tok, strategy.Request{Roles: []string{"user"}}, ""},
		{"realm role missing", tok, strategy.Request{Roles: []string{"admin"}}, strategy.ReasonRole},
		{"client role", tok, strategy.Request{Roles: []string{"demo:reader"}}, ""},
		{"client role of another client", tok, strategy.Request{Roles: []string{"other:reader"}}, strategy.ReasonRole},
		{"client role name as realm role", tok, strategy.Request{Roles: []string{"reader"}}, strategy.ReasonRole},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Token = tc.token
			// Twice: the second answer comes from the verified-claims
			// cache and must apply the request's own scopes and roles.
			for i := 0; i < 2; i++ {
				_, err := f.local.Validate(context.Background(), tc.req)
				if got := strategy.ReasonOf(err); got != tc.wantReason {
					t.Fatalf("pass %d: reason %q, want %q", i, got, tc.wantReason)
				}
				if tc.wantReason != "" && !errors.Is(err, strategy.ErrForbidden) {
					t.Fatalf("kind %v", err)
				}
			}
		})
	}
}

// TestCacheRechecksTime: a cached verification is a fact, not a decision;
// expiry is re-judged on every hit against the injected clock.
func TestCacheRechecksTime(t *testing.T) {
	f := newFixture(t, nil)
	tok := mint(hdr("RS256", "rsa1"), kcClaims(f.idp.issuer, t0), rs256(keys.rsa))
	res, err := f.local.Validate(context.Background(), strategy.Request{Token: tok})
	if err != nil || res.Cached {
		t.Fatalf("first: %v %+v", err, res)
	}
	res, err = f.local.Validate(context.Background(), strategy.Request{Token: tok})
	if err != nil || !res.Cached {
		t.Fatalf("second should be a cache hit: %v %+v", err, res)
	}
	f.clock.Advance(5*time.Minute + 31*time.Second) // past exp + skew
	_, err = f.local.Validate(context.Background(), strategy.Request{Token: tok})
	if !errors.Is(err, strategy.ErrInactive) || strategy.ReasonOf(err) != strategy.ReasonExpired {
		t.Fatalf("expired token from cache: %v", err)
	}
}

// TestKeysUnavailableIsNot401: an unreachable JWKS is an outage (503), never 401.
func TestKeysUnavailableIsNot401(t *testing.T) {
	f := newFixture(t, nil)
	f.idp.srv.Close() // IdP down before keys were ever loaded
	tok := mint(hdr("RS256", "rsa1"), kcClaims(f.idp.issuer, t0), rs256(keys.rsa))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := f.local.Validate(ctx, strategy.Request{Token: tok})
	if !errors.Is(err, strategy.ErrUnavailable) || strategy.ReasonOf(err) != strategy.ReasonKeysUnavailable {
		t.Fatalf("got %v, want unavailable keys_unavailable", err)
	}
}

// truncate drops n bytes from a base64url signature, keeping it well-formed.
func truncate(seg string, n int) string {
	b, err := enc.DecodeString(seg)
	if err != nil {
		panic(err)
	}
	return enc.EncodeToString(b[:len(b)-n])
}
