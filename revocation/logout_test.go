package revocation_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/idpsim"
	"github.com/tokenwarden/tokenwarden/jwks"
	"github.com/tokenwarden/tokenwarden/revocation"
)

func (f *fixture) logoutValidator(t *testing.T, ks revocation.KeySource) *revocation.LogoutValidator {
	t.Helper()
	if ks == nil {
		ks = f.keys
	}
	v, err := revocation.NewLogoutValidator(revocation.LogoutConfig{
		Issuers:   map[string]revocation.KeySource{f.srv.Issuer("dev"): ks},
		Audiences: []string{"demo"},
	}, revocation.WithClock(f.clk))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestLogoutFromIdP: a real back-channel logout delivered by idpsim validates
// and becomes deny(sid) + watch(sub), which then refuse the session's tokens.
func TestLogoutFromIdP(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	v := f.logoutValidator(t, nil)
	store, err := revocation.NewMemory(revocation.Config{}, revocation.WithClock(f.clk), revocation.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}

	other := f.login(t, "demo") // alice on another device
	f.clk.Advance(2 * time.Second)
	tr := f.login(t, "demo")
	at := factsOf(t, tr.AccessToken)
	if at.SessionID == "" || at.Subject == "" {
		t.Fatalf("access token lacks sid or sub: %+v", at)
	}
	f.clk.Advance(time.Second)
	if err := f.srv.Logout(ctx, "dev", at.SessionID); err != nil {
		t.Fatal(err)
	}
	lt := received(t, f.logouts)

	c, err := v.Validate(ctx, lt)
	if err != nil {
		t.Fatalf("Validate(real logout token): %v", err)
	}
	if c.Issuer != f.srv.Issuer("dev") || c.SessionID != at.SessionID || c.Subject != at.Subject ||
		len(c.Audience) != 1 || c.Audience[0] != "demo" || c.TokenID == "" || !c.ReceivedAt.Equal(f.clk.Now()) {
		t.Fatalf("claims = %+v", c)
	}
	evs := v.Events(c)
	if len(evs) != 2 ||
		evs[0].Kind != revocation.KindSession || evs[0].Value != at.SessionID || evs[0].Action != revocation.ActionDeny ||
		evs[1].Kind != revocation.KindSubject || evs[1].Value != at.Subject || evs[1].Action != revocation.ActionWatch {
		t.Fatalf("Events = %+v, want deny(sid) + watch(sub)", evs)
	}
	for _, e := range evs {
		if e.Source != revocation.SourceBackchannelLogout || e.Issuer != c.Issuer || e.At.Before(c.ReceivedAt) {
			t.Fatalf("event %+v", e)
		}
		if err := store.Add(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if got := store.Check(at); !got.Denied || got.Reason != "sid" {
		t.Fatalf("Check(logged-out session's token) = %+v, want denied by sid", got)
	}
	if got := store.Check(factsOf(t, other.AccessToken)); got.Denied || !got.Watch || got.Reason != "sub" {
		t.Fatalf("Check(other session's token) = %+v, want watch by sub", got)
	}
	f.clk.Advance(time.Second)
	fresh := f.login(t, "demo")
	if got := store.Check(factsOf(t, fresh.AccessToken)); got != (revocation.Verdict{}) {
		t.Fatalf("Check(token of a new login) = %+v, want nothing", got)
	}

	// §2.6: the same token again is a replay.
	if _, err := v.Validate(ctx, lt); err == nil {
		t.Fatal("replayed logout token accepted")
	} else {
		wantErr(t, err, revocation.ErrLogoutToken, revocation.ReasonReplay)
	}
}

// TestLogoutSubOnly: a logout token without sid denies the subject.
func TestLogoutSubOnly(t *testing.T) {
	f := newFixture(t)
	v := f.logoutValidator(t, nil)
	c := f.logoutClaims()
	delete(c, "sid")
	tok, err := f.srv.Sign("dev", map[string]any{"typ": "logout+jwt"}, c)
	if err != nil {
		t.Fatal(err)
	}
	lc, err := v.Validate(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	evs := v.Events(lc)
	if len(evs) != 1 || evs[0].Kind != revocation.KindSubject || evs[0].Action != revocation.ActionDeny || evs[0].Value != "user-1" {
		t.Fatalf("Events = %+v, want deny(sub)", evs)
	}
}

// logoutClaims is a valid logout token's claim set for client demo.
func (f *fixture) logoutClaims() map[string]any {
	now := f.clk.Now().Unix()
	jti := make([]byte, 12)
	_, _ = rand.Read(jti)
	return map[string]any{
		"iss":    f.srv.Issuer("dev"),
		"aud":    "demo",
		"iat":    now,
		"exp":    now + 120,
		"jti":    base64.RawURLEncoding.EncodeToString(jti),
		"sub":    "user-1",
		"sid":    "session-1",
		"typ":    "Logout",
		"events": map[string]any{revocation.BackchannelLogoutEvent: map[string]any{}},
	}
}

// TestLogoutForged: one forged input per §2.6 check, each refused with its
// typed error and no claims (so no event).
func TestLogoutForged(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	devKID := f.srv.ActiveKID("dev")
	now := f.clk.Now().Unix()
	logoutHdr := map[string]any{"typ": "logout+jwt"}

	type forge struct {
		realm  string
		header map[string]any
		mutate func(c map[string]any)
		raw    func(t *testing.T) string // overrides signing
	}
	tr := f.login(t, "demo")
	tests := []struct {
		name   string
		forge  forge
		reason revocation.Reason
	}{
		{"valid control, aud in a list", forge{mutate: func(c map[string]any) { c["aud"] = []string{"web", "demo"} }}, ""},
		{"valid control, no typ header", forge{header: map[string]any{}}, ""},
		{"valid control, application/logout+jwt", forge{header: map[string]any{"typ": "application/logout+jwt"}}, ""},
		{"unsigned (alg none)", forge{raw: func(t *testing.T) string {
			return unsigned(map[string]any{"alg": "none", "typ": "logout+jwt"}, f.logoutClaims())
		}}, revocation.ReasonAlg},
		{"HMAC alg", forge{header: map[string]any{"alg": "HS256", "typ": "logout+jwt"}}, revocation.ReasonAlg},
		{"signature stripped", forge{raw: func(t *testing.T) string {
			tok, _ := f.srv.Sign("dev", logoutHdr, f.logoutClaims())
			return tok[:strings.LastIndexByte(tok, '.')+1]
		}}, revocation.ReasonSignature},
		{"another realm's key under our kid", forge{realm: "other", header: map[string]any{"typ": "logout+jwt", "kid": devKID}}, revocation.ReasonSignature},
		{"another realm's key and kid", forge{realm: "other"}, revocation.ReasonSignature},
		{"wrong iss", forge{mutate: func(c map[string]any) { c["iss"] = "https://evil.example/realms/dev" }}, revocation.ReasonIssuer},
		{"no iss", forge{mutate: func(c map[string]any) { delete(c, "iss") }}, revocation.ReasonIssuer},
		{"wrong aud", forge{mutate: func(c map[string]any) { c["aud"] = "web" }}, revocation.ReasonAudience},
		{"no aud", forge{mutate: func(c map[string]any) { delete(c, "aud") }}, revocation.ReasonAudience},
		{"expired", forge{mutate: func(c map[string]any) { c["iat"], c["exp"] = now-60, now-45 }}, revocation.ReasonExp},
		{"iat too old", forge{mutate: func(c map[string]any) { c["iat"], c["exp"] = now-600, now+60 }}, revocation.ReasonIssuedAt},
		{"iat in the future", forge{mutate: func(c map[string]any) { c["iat"] = now + 300 }}, revocation.ReasonIssuedAt},
		{"iat missing", forge{mutate: func(c map[string]any) { delete(c, "iat") }}, revocation.ReasonIssuedAt},
		{"iat a string", forge{mutate: func(c map[string]any) { c["iat"] = "now" }}, revocation.ReasonIssuedAt},
		{"nonce present", forge{mutate: func(c map[string]any) { c["nonce"] = "n-0S6_WzA2Mj" }}, revocation.ReasonNonce},
		{"events missing", forge{mutate: func(c map[string]any) { delete(c, "events") }}, revocation.ReasonEvents},
		{"events without the logout event", forge{mutate: func(c map[string]any) {
			c["events"] = map[string]any{"https://schemas.openid.net/secevent/caep/event-type/session-revoked": map[string]any{}}
		}}, revocation.ReasonEvents},
		{"logout event not an object", forge{mutate: func(c map[string]any) {
			c["events"] = map[string]any{revocation.BackchannelLogoutEvent: true}
		}}, revocation.ReasonEvents},
		{"neither sub nor sid", forge{mutate: func(c map[string]any) { delete(c, "sub"); delete(c, "sid") }}, revocation.ReasonSubject},
		{"jti missing", forge{mutate: func(c map[string]any) { delete(c, "jti") }}, revocation.ReasonJTI},
		{"header typ JWT", forge{header: map[string]any{"typ": "JWT"}}, revocation.ReasonType},
		{"payload typ Bearer", forge{mutate: func(c map[string]any) { c["typ"] = "Bearer" }}, revocation.ReasonType},
		{"access token posted as logout token", forge{raw: func(*testing.T) string { return tr.AccessToken }}, revocation.ReasonType},
		{"ID token posted as logout token", forge{raw: func(*testing.T) string { return tr.IDToken }}, revocation.ReasonType},
		{"access token without typ header", forge{header: map[string]any{}, mutate: func(c map[string]any) {
			maps.Copy(c, claimsOf(t, tr.AccessToken))
			delete(c, "typ")
			delete(c, "events")
			c["aud"] = "demo"
		}}, revocation.ReasonEvents},
		{"crit header", forge{header: map[string]any{"typ": "logout+jwt", "crit": []string{"exp"}, "exp": 1}}, revocation.ReasonMalformed},
		{"jku header", forge{header: map[string]any{"typ": "logout+jwt", "jku": "https://evil.example/keys"}}, revocation.ReasonMalformed},
		{"JWE", forge{raw: func(*testing.T) string { return "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d" }}, revocation.ReasonMalformed},
		{"JSON serialisation", forge{raw: func(*testing.T) string { return `{"payload":"e30","signatures":[]}` }}, revocation.ReasonMalformed},
		{"too large", forge{raw: func(*testing.T) string { return strings.Repeat("a", 17<<10) }}, revocation.ReasonTooLarge},
		{"garbage", forge{raw: func(*testing.T) string { return "not a token" }}, revocation.ReasonMalformed},
	}
	v := f.logoutValidator(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tok string
			if tt.forge.raw != nil {
				tok = tt.forge.raw(t)
			} else {
				c := f.logoutClaims()
				if tt.forge.mutate != nil {
					tt.forge.mutate(c)
				}
				h := logoutHdr
				if tt.forge.header != nil {
					h = tt.forge.header
				}
				realm := "dev"
				if tt.forge.realm != "" {
					realm = tt.forge.realm
				}
				var err error
				if tok, err = f.srv.Sign(realm, h, c); err != nil {
					t.Fatal(err)
				}
			}
			c, err := v.Validate(ctx, tok)
			if tt.reason == "" {
				if err != nil || c == nil {
					t.Fatalf("control token refused: %v", err)
				}
				return
			}
			if c != nil || v.Events(c) != nil {
				t.Fatalf("claims %+v returned with error %v", c, err)
			}
			wantErr(t, err, revocation.ErrLogoutToken, tt.reason)
			if errors.Is(err, revocation.ErrKeysUnavailable) {
				t.Fatal("a forged token must not look like an outage")
			}
		})
	}
}

// TestLogoutKeysUnavailable: a key-fetch outage is ErrKeysUnavailable (503),
// never ErrLogoutToken (400).
func TestLogoutKeysUnavailable(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, err := f.srv.Sign("dev", map[string]any{"typ": "logout+jwt"}, f.logoutClaims())
	if err != nil {
		t.Fatal(err)
	}
	t.Run("JWKS endpoint failing", func(t *testing.T) {
		f.srv.SetFault(idpsim.EndpointCerts, idpsim.Fault{ErrorRate: 1, ErrorStatus: 503})
		defer f.srv.ClearFaults()
		v := f.logoutValidator(t, f.resolver(t))
		_, err := v.Validate(ctx, tok)
		wantErr(t, err, revocation.ErrKeysUnavailable, revocation.ReasonKeysUnavailable)
		if errors.Is(err, revocation.ErrLogoutToken) {
			t.Fatal("outage reported as a bad token")
		}
	})
	t.Run("refresh suppressed", func(t *testing.T) {
		v := f.logoutValidator(t, revocation.KeySourceFunc(func(context.Context, string, string) (jwks.Key, error) {
			return jwks.Key{}, jwks.ErrRefreshSuppressed
		}))
		_, err := v.Validate(ctx, tok)
		wantErr(t, err, revocation.ErrKeysUnavailable, revocation.ReasonKeysUnavailable)
	})
	t.Run("recovers once keys are back", func(t *testing.T) {
		v := f.logoutValidator(t, f.resolver(t))
		if _, err := v.Validate(ctx, tok); err != nil {
			t.Fatalf("after the outage: %v", err)
		}
	})
}

func TestLogoutReplayCacheBound(t *testing.T) {
	ks := staticKeySource(t)
	clk := time.Unix(1_700_000_000, 0)
	v, err := revocation.NewLogoutValidator(revocation.LogoutConfig{
		Issuers:         map[string]revocation.KeySource{staticIssuer: ks},
		Audiences:       []string{"demo"},
		ReplayCacheSize: 2,
	}, revocation.WithClock(fixedClock(clk)))
	if err != nil {
		t.Fatal(err)
	}
	mk := func(jti string) string {
		return signRS256(t, rsaA, map[string]any{"alg": "RS256", "kid": "a", "typ": "logout+jwt"}, map[string]any{
			"iss": staticIssuer, "aud": "demo", "iat": clk.Unix(), "jti": jti, "sid": "s",
			"events": map[string]any{revocation.BackchannelLogoutEvent: map[string]any{}},
		})
	}
	ctx := context.Background()
	for _, jti := range []string{"1", "2", "3"} {
		if _, err := v.Validate(ctx, mk(jti)); err != nil {
			t.Fatal(err)
		}
	}
	// "3" is remembered; "1" was forgotten to stay within the bound.
	if _, err := v.Validate(ctx, mk("3")); revocation.ReasonOf(err) != revocation.ReasonReplay {
		t.Fatalf("replay of the newest jti: %v", err)
	}
	if _, err := v.Validate(ctx, mk("1")); err != nil {
		t.Fatalf("oldest jti should have been evicted: %v", err)
	}
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

func TestNewLogoutValidatorConfig(t *testing.T) {
	ks := staticKeySource(t)
	good := revocation.LogoutConfig{Issuers: map[string]revocation.KeySource{staticIssuer: ks}, Audiences: []string{"demo"}}
	mod := func(f func(c *revocation.LogoutConfig)) revocation.LogoutConfig { c := good; f(&c); return c }
	tests := []struct {
		name string
		cfg  revocation.LogoutConfig
	}{
		{"no issuers", mod(func(c *revocation.LogoutConfig) { c.Issuers = nil })},
		{"nil key source", mod(func(c *revocation.LogoutConfig) { c.Issuers = map[string]revocation.KeySource{staticIssuer: nil} })},
		{"no audiences", mod(func(c *revocation.LogoutConfig) { c.Audiences = nil })},
		{"alg none", mod(func(c *revocation.LogoutConfig) { c.Algorithms = []string{"none"} })},
		{"alg HS256", mod(func(c *revocation.LogoutConfig) { c.Algorithms = []string{"HS256"} })},
		{"negative max age", mod(func(c *revocation.LogoutConfig) { c.MaxAge = -time.Second })},
		{"huge skew", mod(func(c *revocation.LogoutConfig) { c.ClockSkew = time.Hour })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := revocation.NewLogoutValidator(tt.cfg); !errors.Is(err, revocation.ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig", err)
			}
		})
	}
	if _, err := revocation.NewLogoutValidator(good); err != nil {
		t.Fatal(err)
	}
}
