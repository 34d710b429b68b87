package validator_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/idpsim"
	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/jwks"
	"github.com/tokenwarden/tokenwarden/revocation"
	"github.com/tokenwarden/tokenwarden/strategy"
	"github.com/tokenwarden/tokenwarden/validator"
)

// revFixture: the admin listener's revocation endpoints, with idpsim's demo
// client pointing its back-channel logout URL and admin URL at them.
type revFixture struct {
	idp   *idpsim.Server
	store *revocation.Memory
	admin *httptest.Server
	clock *clock.Manual
}

const adminSecret = "s3cret-admin-value"

func newRevFixture(t *testing.T) *revFixture {
	t.Helper()
	f := &revFixture{clock: clock.NewManual(time.Now().Truncate(time.Second))}
	// The admin server must exist before idpsim is configured with its URL.
	var handler http.Handler = http.NotFoundHandler()
	f.admin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(f.admin.Close)
	cfg := idpsim.DefaultConfig()
	for i := range cfg.Realms[0].Clients {
		if c := &cfg.Realms[0].Clients[i]; c.ClientID == "demo" {
			c.BackchannelLogoutURL = f.admin.URL + "/v1/backchannel-logout"
			c.AdminURL = f.admin.URL
		}
	}
	idp, err := idpsim.Start(cfg, "127.0.0.1:0", idpsim.WithClock(f.clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp.Close() })
	f.idp = idp
	keys, err := jwks.New(jwks.Config{Name: "dev", Issuer: idp.Issuer("dev"), Algorithms: []string{"RS256"}}, jwks.WithClock(f.clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keys.Close)
	f.store, err = revocation.NewMemory(revocation.Config{}, revocation.WithClock(f.clock))
	if err != nil {
		t.Fatal(err)
	}
	ks := map[string]revocation.KeySource{idp.Issuer("dev"): keys}
	lv, err := revocation.NewLogoutValidator(revocation.LogoutConfig{Issuers: ks, Audiences: []string{"demo"}}, revocation.WithClock(f.clock))
	if err != nil {
		t.Fatal(err)
	}
	nv, err := revocation.NewNotBeforeValidator(revocation.NotBeforeConfig{Issuers: ks, Resource: "demo"}, revocation.WithClock(f.clock))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := validator.New(validator.Config{Strategies: map[string]strategy.Strategy{"x": strategy.Func(
		func(context.Context, strategy.Request) (*strategy.Result, error) { return nil, strategy.ErrInvalid })}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.MountRevocation(validator.RevocationConfig{
		Store: f.store, Logout: lv, NotBefore: nv, AdminSecret: []byte(adminSecret),
		DefaultIssuer: idp.Issuer("dev"), Clock: f.clock,
	}); err != nil {
		t.Fatal(err)
	}
	handler = svc.AdminHandler()
	return f
}

func (f *revFixture) post(t *testing.T, path, ctype, body string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.admin.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: no Cache-Control: no-store", path)
	}
	return resp.StatusCode, string(b)
}

// TestBackchannelLogoutFromIdP: idpsim delivers the logout token to the
// endpoint before its logout call returns; the session is denied.
func TestBackchannelLogoutFromIdP(t *testing.T) {
	f := newRevFixture(t)
	tr, err := f.idp.PasswordGrant("dev", "demo", "alice")
	if err != nil {
		t.Fatal(err)
	}
	sid := f.idp.Sessions("dev", "alice")[0]
	f.clock.Advance(time.Second)
	if err := f.idp.Logout(context.Background(), "dev", sid); err != nil {
		t.Fatal(err)
	}
	// Delivered synchronously: the store knows before Logout returned.
	v := f.store.Check(revocation.TokenFacts{Issuer: f.idp.Issuer("dev"), SessionID: sid, IssuedAt: f.clock.Now().Add(-time.Second)})
	if !v.Denied || v.Reason != "sid" {
		t.Fatalf("after logout: %+v", v)
	}
	_ = tr
}

// TestNotBeforePushFromIdP: Keycloak's signed PUSH_NOT_BEFORE denies older
// tokens of the client; a token issued in the same second as notBefore is not.
func TestNotBeforePushFromIdP(t *testing.T) {
	f := newRevFixture(t)
	nb := f.clock.Now().Add(10 * time.Second)
	f.idp.SetNotBefore("dev", "demo", nb)
	if err := f.idp.PushNotBefore(context.Background(), "dev", "demo"); err != nil {
		t.Fatal(err)
	}
	iss := f.idp.Issuer("dev")
	if v := f.store.Check(revocation.TokenFacts{Issuer: iss, ClientID: "demo", IssuedAt: nb.Add(-time.Second)}); !v.Denied {
		t.Fatalf("older token: %+v", v)
	}
	if v := f.store.Check(revocation.TokenFacts{Issuer: iss, ClientID: "demo", IssuedAt: nb}); v.Denied {
		t.Fatalf("token issued at notBefore: %+v", v)
	}
}

// TestRevocationEndpointsRefuseForgeries: forged inputs get 400 (an outage
// 503), 401 for the admin API without its secret, and leave the store unchanged.
func TestRevocationEndpointsRefuseForgeries(t *testing.T) {
	f := newRevFixture(t)
	iss := f.idp.Issuer("dev")
	now := f.clock.Now()
	logout := func(claims map[string]any, header map[string]any) string {
		tok, err := f.idp.Sign("dev", header, claims)
		if err != nil {
			t.Fatal(err)
		}
		return url.Values{"logout_token": {tok}}.Encode()
	}
	good := map[string]any{"iss": iss, "aud": "demo", "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(), "jti": "j1", "sid": "s1",
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}}
	withC := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range good {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name, path, ctype, body string
		hdr                     []string
		want                    int
	}{
		{"logout: wrong aud", "/v1/backchannel-logout", form, logout(withC("aud", "other"), map[string]any{"typ": "logout+jwt"}), nil, 400},
		{"logout: nonce", "/v1/backchannel-logout", form, logout(withC("nonce", "n"), map[string]any{"typ": "logout+jwt"}), nil, 400},
		{"logout: no events", "/v1/backchannel-logout", form, logout(withC("events", nil), map[string]any{"typ": "logout+jwt"}), nil, 400},
		{"logout: access token", "/v1/backchannel-logout", form, logout(withC("events", nil, "typ", "Bearer", "azp", "demo"), map[string]any{"typ": "JWT"}), nil, 400},
		{"logout: no token", "/v1/backchannel-logout", form, "", nil, 400},
		{"not-before: garbage", "/k_push_not_before", "text/plain", "not.a.jws", nil, 400},
		{"admin: no secret", "/v1/revocations", "application/json", `{"sid":"s1","action":"deny"}`, nil, 401},
		{"admin: wrong secret", "/v1/revocations", "application/json", `{"sid":"s1","action":"deny"}`, []string{"Authorization", "Bearer wrong"}, 401},
		{"admin: bad body", "/v1/revocations", "application/json", `{"sid":"s1","action":"nuke"}`, []string{"Authorization", "Bearer " + adminSecret}, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.post(t, tc.path, tc.ctype, tc.body, tc.hdr...)
			if code != tc.want {
				t.Fatalf("%d %s, want %d", code, body, tc.want)
			}
			if strings.Contains(body, adminSecret) {
				t.Fatal("secret echoed")
			}
			if n := f.store.Len(); n != 0 {
				t.Fatalf("store changed: %d entries", n)
			}
		})
	}

	// The real thing is accepted, once: a replay is refused.
	ok := logout(good, map[string]any{"typ": "logout+jwt"})
	if code, body := f.post(t, "/v1/backchannel-logout", form, ok); code != 200 {
		t.Fatalf("valid logout token: %d %s", code, body)
	}
	n := f.store.Len()
	if code, _ := f.post(t, "/v1/backchannel-logout", form, ok); code != 400 || f.store.Len() != n {
		t.Fatalf("replayed logout token: %d", code)
	}

	// Admin API with the secret.
	code, body := f.post(t, "/v1/revocations", "application/json", `{"sub":"u9","action":"watch"}`, "Authorization", "Bearer "+adminSecret)
	if code != http.StatusCreated {
		t.Fatalf("admin POST: %d %s", code, body)
	}
	req, _ := http.NewRequest(http.MethodGet, f.admin.URL+"/v1/revocations", nil)
	req.Header.Set("Authorization", "Bearer "+adminSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Entries []struct{ Kind, Value, Action string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	found := false
	for _, e := range list.Entries {
		found = found || (e.Kind == "sub" && e.Value == "u9" && e.Action == "watch")
	}
	if !found {
		t.Fatalf("admin GET: %+v", list)
	}

	// Keys unavailable while judging a logout token: 503, so the IdP retries.
	f.idp.SetFault(idpsim.EndpointCerts, idpsim.Fault{ErrorRate: 1, ErrorStatus: 503})
	f.idp.SetFault(idpsim.EndpointDiscovery, idpsim.Fault{ErrorRate: 1, ErrorStatus: 503})
	fresh := newRevFixture(t)
	fresh.idp.SetFault(idpsim.EndpointCerts, idpsim.Fault{ErrorRate: 1, ErrorStatus: 503})
	tok, _ := fresh.idp.Sign("dev", map[string]any{"typ": "logout+jwt"}, withC("iss", fresh.idp.Issuer("dev"), "jti", "j2"))
	if code, body := fresh.post(t, "/v1/backchannel-logout", form, url.Values{"logout_token": {tok}}.Encode()); code != 503 {
		t.Fatalf("keys unavailable: %d %s, want 503", code, body)
	}
}
