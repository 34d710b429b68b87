package idpsim

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

const introspectPath = oidcPath + "/token/introspect"

func TestIntrospectActive(t *testing.T) {
	e := newEnv(t, testConfig("ES256"))
	tr := mustTok(t)(e.s.PasswordGrant("dev", "demo", "alice"))
	_, p := parts(t, tr.AccessToken)

	r := e.introspect(t, tr.AccessToken)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	m := jsonBody(t, r)
	for k, v := range map[string]any{
		"active": true, "client_id": "demo", "username": "alice", "token_type": "Bearer", "typ": "Bearer",
		"azp": "demo", "iss": e.s.Issuer("dev"), "scope": "openid profile email", "sid": tr.SessionState,
		"jti": p["jti"], "sub": p["sub"], "iat": p["iat"], "exp": p["exp"], "preferred_username": "alice", "email": "alice@example.com",
	} {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	for _, k := range []string{"realm_access", "resource_access"} {
		if m[k] == nil {
			t.Errorf("missing %s", k)
		}
	}

	t.Run("any confidential client, no audience check", func(t *testing.T) {
		r := e.post(t, introspectPath, url.Values{"token": {tr.AccessToken}}, basic("api", "api-secret"))
		if jsonBody(t, r)["active"] != true {
			t.Errorf("%s", r.body)
		}
	})
	t.Run("refresh token", func(t *testing.T) {
		for _, hint := range []string{"refresh_token", "access_token"} {
			r := e.post(t, introspectPath, url.Values{"token": {tr.RefreshToken}, "token_type_hint": {hint}}, basic("rs", "rs-secret"))
			m := jsonBody(t, r)
			if m["active"] != true || m["typ"] != "Refresh" || m["token_type"] != "Refresh" {
				t.Errorf("hint %s: %v", hint, m)
			}
		}
	})
	t.Run("offline token", func(t *testing.T) {
		off := mustTok(t)(e.s.PasswordGrant("dev", "demo", "bob", "offline_access"))
		m := jsonBody(t, e.introspect(t, off.RefreshToken))
		if m["active"] != true || m["token_type"] != "Offline" {
			t.Errorf("%v", m)
		}
	})
	t.Run("token signed via Sign is verified, not looked up", func(t *testing.T) {
		// Same claims re-signed: unknown to the issued-token index, so the
		// signature path judges it.
		tok, err := e.s.Sign("dev", nil, p)
		if err != nil {
			t.Fatal(err)
		}
		if m := jsonBody(t, e.introspect(t, tok)); m["active"] != true {
			t.Errorf("%v", m)
		}
	})
}

func TestIntrospectInactive(t *testing.T) {
	type setup func(t *testing.T, e *env) string
	tests := []struct {
		name string
		tok  setup
	}{
		{"not a JWT", func(t *testing.T, e *env) string { return "not-a-jwt" }},
		{"JWE-shaped", func(t *testing.T, e *env) string { return "a.b.c.d.e" }},
		{"bad signature", func(t *testing.T, e *env) string {
			tok := mustTok(t)(e.s.ClientCredentials("dev", "demo")).AccessToken
			i := strings.LastIndexByte(tok, '.')
			sig := []byte(tok[i+1:])
			sig[5] ^= 1
			if sig[5] == '-' || sig[5] == '_' { // keep it base64url
				sig[5] = 'A'
			}
			return tok[:i+1] + string(sig)
		}},
		{"payload swapped", func(t *testing.T, e *env) string {
			a := strings.Split(mustTok(t)(e.s.ClientCredentials("dev", "demo")).AccessToken, ".")
			b := strings.Split(mustTok(t)(e.s.ClientCredentials("dev", "api")).AccessToken, ".")
			return a[0] + "." + b[1] + "." + a[2]
		}},
		{"unknown kid", func(t *testing.T, e *env) string {
			_, p := parts(t, mustTok(t)(e.s.ClientCredentials("dev", "demo")).AccessToken)
			tok, _ := e.s.Sign("dev", map[string]any{"kid": "unknown"}, p)
			return tok
		}},
		{"alg not the key's", func(t *testing.T, e *env) string {
			_, p := parts(t, mustTok(t)(e.s.ClientCredentials("dev", "demo")).AccessToken)
			tok, _ := e.s.Sign("dev", map[string]any{"alg": "ES384"}, p)
			return tok
		}},
		{"removed kid", func(t *testing.T, e *env) string {
			tok := mustTok(t)(e.s.ClientCredentials("dev", "demo")).AccessToken
			old := e.s.ActiveKID("dev")
			if _, err := e.s.RotateKey("dev"); err != nil {
				t.Fatal(err)
			}
			if err := e.s.RemoveKey("dev", old); err != nil {
				t.Fatal(err)
			}
			return tok
		}},
		{"expired", func(t *testing.T, e *env) string {
			tok := mustTok(t)(e.s.ClientCredentials("dev", "demo")).AccessToken
			e.clk.Advance(2*time.Hour + time.Second)
			return tok
		}},
		{"revoked jti", func(t *testing.T, e *env) string {
			tok := mustTok(t)(e.s.ClientCredentials("dev", "demo")).AccessToken
			if err := e.s.Revoke("dev", tok); err != nil {
				t.Fatal(err)
			}
			return tok
		}},
		{"before realm not-before", func(t *testing.T, e *env) string {
			tok := mustTok(t)(e.s.ClientCredentials("dev", "demo")).AccessToken
			e.clk.Advance(time.Second)
			e.s.SetNotBefore("dev", "", e.clk.Now())
			return tok
		}},
		{"before client not-before", func(t *testing.T, e *env) string {
			tok := mustTok(t)(e.s.ClientCredentials("dev", "demo")).AccessToken
			e.clk.Advance(time.Second)
			e.s.SetNotBefore("dev", "demo", e.clk.Now())
			return tok
		}},
		{"session logged out", func(t *testing.T, e *env) string {
			tr := mustTok(t)(e.s.PasswordGrant("dev", "demo", "alice"))
			if err := e.s.Logout(t.Context(), "dev", tr.SessionState); err != nil {
				t.Fatal(err)
			}
			return tr.AccessToken
		}},
		{"user logged out", func(t *testing.T, e *env) string {
			tr := mustTok(t)(e.s.PasswordGrant("dev", "demo", "alice"))
			if err := e.s.LogoutUser(t.Context(), "dev", "alice"); err != nil {
				t.Fatal(err)
			}
			return tr.AccessToken
		}},
		{"session idle expired", func(t *testing.T, e *env) string {
			tr := mustTok(t)(e.s.PasswordGrant("dev", "demo", "alice"))
			e.clk.Advance(31 * time.Minute) // token lives 2h, session idle is 30m
			return tr.AccessToken
		}},
		{"client session detached", func(t *testing.T, e *env) string {
			tr := mustTok(t)(e.s.PasswordGrant("dev", "demo", "alice"))
			if err := e.s.Revoke("dev", tr.RefreshToken); err != nil {
				t.Fatal(err)
			}
			return tr.AccessToken
		}},
		{"user disabled", func(t *testing.T, e *env) string {
			tr := mustTok(t)(e.s.PasswordGrant("dev", "demo", "alice"))
			if err := e.s.SetUserEnabled("dev", "alice", false); err != nil {
				t.Fatal(err)
			}
			return tr.AccessToken
		}},
		{"wrong issuer", func(t *testing.T, e *env) string {
			_, p := parts(t, mustTok(t)(e.s.ClientCredentials("dev", "demo")).AccessToken)
			p["iss"] = "https://evil.example/realms/dev"
			tok, _ := e.s.Sign("dev", nil, p)
			return tok
		}},
		{"other realm's token", func(t *testing.T, e *env) string {
			return mustTok(t)(e.s.ClientCredentials("other", "o")).AccessToken
		}},
		{"ID token", func(t *testing.T, e *env) string {
			return mustTok(t)(e.s.PasswordGrant("dev", "demo", "alice")).IDToken
		}},
		{"refresh token after logout", func(t *testing.T, e *env) string {
			tr := mustTok(t)(e.s.PasswordGrant("dev", "demo", "alice"))
			if err := e.s.Logout(t.Context(), "dev", tr.SessionState); err != nil {
				t.Fatal(err)
			}
			return tr.RefreshToken
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig("ES256")
			cfg.Realms[0].AccessTokenLifespan = 2 * time.Hour
			cfg.Realms[0].SSOSessionIdle = 30 * time.Minute
			cfg.Realms = append(cfg.Realms, RealmConfig{Name: "other", SigningAlg: "ES256",
				Clients: []ClientConfig{{ClientID: "o", Secret: "o", ServiceAccounts: true}}})
			e := newEnv(t, cfg)
			tok := tc.tok(t, e)
			r := e.introspect(t, tok)
			if r.status != 200 || r.body != `{"active":false}` {
				t.Errorf("got %d %s, want exactly {\"active\":false}", r.status, r.body)
			}
		})
	}
}

func TestIntrospectErrors(t *testing.T) {
	e := newEnv(t, testConfig("ES256"))
	tok := mustTok(t)(e.s.ClientCredentials("dev", "demo")).AccessToken
	form := url.Values{"token": {tok}}
	const (
		authFailed = `{"error":"invalid_request","error_description":"Authentication failed."}`
		notAllowed = `{"error":"invalid_request","error_description":"Client not allowed."}`
	)
	tests := []struct {
		name   string
		form   url.Values
		hdr    map[string]string
		status int
		body   string
	}{
		{"no credentials", form, nil, 401, authFailed},
		{"bad secret", form, basic("rs", "wrong"), 401, authFailed},
		{"unknown client", form, basic("ghost", "x"), 401, authFailed},
		{"secret missing", url.Values{"token": {tok}, "client_id": {"rs"}}, nil, 401, authFailed},
		{"bearer token as authorization", form, map[string]string{"Authorization": "Bearer " + tok}, 401, authFailed},
		{"public client", url.Values{"token": {tok}, "client_id": {"web"}}, nil, 403, notAllowed},
		{"duplicated parameter", url.Values{"token": {tok, tok}}, basic("rs", "rs-secret"), 400,
			`{"error":"invalid_request","error_description":"duplicated parameter"}`},
		{"token missing", url.Values{}, basic("rs", "rs-secret"), 400,
			`{"error":"invalid_request","error_description":"Token not provided."}`},
		{"unsupported hint", url.Values{"token": {tok}, "token_type_hint": {"id_token"}}, basic("rs", "rs-secret"), 400,
			`{"error":"invalid_request","error_description":"Unsupported token type."}`},
		{"client_secret_post works", url.Values{"token": {tok}, "client_id": {"rs"}, "client_secret": {"rs-secret"}}, nil, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.post(t, introspectPath, tc.form, tc.hdr)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.body != "" && r.body != tc.body {
				t.Errorf("body %s, want %s", r.body, tc.body)
			}
			if r.header.Get("WWW-Authenticate") != "" {
				t.Errorf("unexpected challenge %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("jwt member with Accept application/jwt", func(t *testing.T) {
		cfg := testConfig("ES256")
		cfg.Realms[0].Clients[len(cfg.Realms[0].Clients)-2].IntrospectionJWTClaim = true // rs
		e := newEnv(t, cfg)
		tok := mustTok(t)(e.s.ClientCredentials("dev", "demo")).AccessToken
		h := basic("rs", "rs-secret")
		h["Accept"] = "application/jwt"
		m := jsonBody(t, e.post(t, introspectPath, url.Values{"token": {tok}}, h))
		if m["jwt"] != tok || m["active"] != true {
			t.Errorf("%v", m)
		}
		if m := jsonBody(t, e.introspect(t, tok)); m["jwt"] != nil {
			t.Error("jwt member without Accept")
		}
	})
}

func TestClockDrivesExpiry(t *testing.T) {
	e := newEnv(t, testConfig("ES256"))
	tr := mustTok(t)(e.s.PasswordGrant("dev", "demo", "alice"))
	e.clk.Advance(300 * time.Second) // exp == now: still active, as Keycloak (now > exp expires)
	if m := jsonBody(t, e.introspect(t, tr.AccessToken)); m["active"] != true {
		t.Fatalf("at exp: %v", m)
	}
	e.clk.Advance(time.Second)
	if r := e.introspect(t, tr.AccessToken); r.body != `{"active":false}` {
		t.Fatalf("past exp: %s", r.body)
	}
	// The session outlives the access token: refresh works until SSO idle.
	tr2 := mustTok(t)(e.s.Refresh("dev", "demo", tr.RefreshToken))
	if !slices.Contains(e.s.Sessions("dev", "alice"), tr.SessionState) {
		t.Fatal("session missing")
	}
	e.clk.Advance(1801 * time.Second)
	_, err := e.s.Refresh("dev", "demo", tr2.RefreshToken)
	if oe, ok := err.(*OAuthError); !ok || oe.Code != "invalid_grant" {
		t.Fatalf("refresh after idle: %v", err)
	}
	if len(e.s.Sessions("dev", "alice")) != 0 {
		t.Error("expired session still listed")
	}
}
