package idpsim

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestDiscovery(t *testing.T) {
	e := newEnv(t, testConfig("RS256"))
	r := e.get(t, "dev", "/.well-known/openid-configuration")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d ct %q", r.status, r.header.Get("Content-Type"))
	}
	d := jsonBody(t, r)
	iss := e.ts.URL + "/realms/dev"
	oidc := iss + oidcPath
	want := map[string]any{
		"issuer":                               iss,
		"token_endpoint":                       oidc + "/token",
		"introspection_endpoint":               oidc + "/token/introspect",
		"jwks_uri":                             oidc + "/certs",
		"end_session_endpoint":                 oidc + "/logout",
		"revocation_endpoint":                  oidc + "/revoke",
		"authorization_endpoint":               oidc + "/auth",
		"backchannel_logout_supported":         true,
		"backchannel_logout_session_supported": true,
	}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("%s = %v, want %v", k, d[k], v)
		}
	}
	if e.s.Issuer("dev") != iss {
		t.Errorf("Issuer = %q", e.s.Issuer("dev"))
	}
	methods := []any{"private_key_jwt", "client_secret_basic", "client_secret_post", "tls_client_auth", "client_secret_jwt"}
	for _, k := range []string{"token_endpoint_auth_methods_supported", "introspection_endpoint_auth_methods_supported", "revocation_endpoint_auth_methods_supported"} {
		if got, _ := d[k].([]any); !slices.Equal(got, methods) {
			t.Errorf("%s = %v", k, d[k])
		}
	}
	for _, k := range []string{"grant_types_supported", "id_token_signing_alg_values_supported"} {
		if _, ok := d[k].([]any); !ok {
			t.Errorf("%s missing", k)
		}
	}
	if _, ok := d["introspection_signing_alg_values_supported"]; ok {
		t.Error("Keycloak does not advertise RFC 9701")
	}

	nf := e.get(t, "nope", "/.well-known/openid-configuration")
	if nf.status != 404 || nf.body != `{"error":"Realm does not exist"}` {
		t.Errorf("unknown realm: %d %s", nf.status, nf.body)
	}
	if r := e.get(t, "nope", oidcPath+"/certs"); r.status != 404 || r.body != `{"error":"Realm does not exist"}` {
		t.Errorf("unknown realm certs: %d %s", r.status, r.body)
	}
}

func TestJWKSPerAlgorithm(t *testing.T) {
	for _, tc := range []struct{ alg, kty string }{
		{"RS256", "RSA"}, {"PS256", "RSA"}, {"ES256", "EC"}, {"EdDSA", "OKP"},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			e := newEnv(t, testConfig(tc.alg))
			r := e.get(t, "dev", oidcPath+"/certs")
			if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d ct %q", r.status, r.header.Get("Content-Type"))
			}
			raw := jsonBody(t, r)["keys"].([]any)
			if len(raw) != 2 {
				t.Fatalf("want 1 sig + 1 enc key, got %d", len(raw))
			}
			var sig, enc map[string]any
			for _, k := range raw {
				m := k.(map[string]any)
				switch m["use"] {
				case "sig":
					sig = m
				case "enc":
					enc = m
				}
			}
			if sig == nil || enc == nil {
				t.Fatalf("keys %v", raw)
			}
			if sig["kid"] != e.s.ActiveKID("dev") || sig["alg"] != tc.alg || sig["kty"] != tc.kty {
				t.Errorf("sig key %v", sig)
			}
			for _, member := range map[string][]string{"RSA": {"n", "e"}, "EC": {"crv", "x", "y"}, "OKP": {"crv", "x"}}[tc.kty] {
				if _, ok := sig[member]; !ok {
					t.Errorf("sig key lacks %s", member)
				}
			}
			if _, ok := sig["d"]; ok {
				t.Fatal("private key material published")
			}
			if _, ok := sig["x5c"]; !ok {
				t.Error("sig key lacks x5c")
			}
			if enc["alg"] != "RSA-OAEP" || enc["kty"] != "RSA" || enc["kid"] == sig["kid"] {
				t.Errorf("enc key %v", enc)
			}
			tr := mustTok(t)(e.s.ClientCredentials("dev", "demo"))
			hdr, _ := verify(t, e.jwks(t), tr.AccessToken)
			if hdr["alg"] != tc.alg {
				t.Errorf("token alg %v", hdr["alg"])
			}
		})
	}
}

func TestTokenEndpoint(t *testing.T) {
	e := newEnv(t, testConfig("ES256"))
	const tokenPath = oidcPath + "/token"
	cc := url.Values{"grant_type": {"client_credentials"}}
	pw := func(extra ...string) url.Values {
		v := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice"}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v
	}
	with := func(v url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, vs := range v {
			out[k] = append([]string(nil), vs...)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name     string
		form     url.Values
		hdr      map[string]string
		status   int
		wantBody string // exact, when set
		wantAzp  string
	}{
		{name: "client_credentials basic", form: cc, hdr: basic("demo", "demo-secret"), status: 200, wantAzp: "demo"},
		{name: "client_credentials post", form: with(cc, "client_id", "demo", "client_secret", "demo-secret"), status: 200, wantAzp: "demo"},
		{name: "basic is form-url-decoded (RFC 6749 2.3.1)", form: cc, hdr: basic("we ird:id", "s:e&c+r%t"), status: 200, wantAzp: "we ird:id"},
		{name: "password confidential", form: pw(), hdr: basic("demo", "demo-secret"), status: 200, wantAzp: "demo"},
		{name: "password public client_id only", form: pw("client_id", "web"), status: 200, wantAzp: "web"},
		{name: "bad secret", form: cc, hdr: basic("demo", "wrong"), status: 401,
			wantBody: `{"error":"unauthorized_client","error_description":"Invalid client or Invalid client credentials"}`},
		{name: "missing secret", form: with(cc, "client_id", "demo"), status: 401,
			wantBody: `{"error":"unauthorized_client","error_description":"Invalid client or Invalid client credentials"}`},
		{name: "unknown client", form: cc, hdr: basic("ghost", "x"), status: 401,
			wantBody: `{"error":"invalid_client","error_description":"Invalid client or Invalid client credentials"}`},
		{name: "missing client_id", form: cc, status: 400,
			wantBody: `{"error":"invalid_client","error_description":"Missing client_id parameter"}`},
		{name: "bearer instead of client auth", form: cc, hdr: map[string]string{"Authorization": "Bearer abc"}, status: 401, wantBody: ""},
		{name: "missing grant_type", form: url.Values{}, hdr: basic("demo", "demo-secret"), status: 400,
			wantBody: `{"error":"invalid_request","error_description":"Missing form parameter: grant_type"}`},
		{name: "unsupported grant", form: url.Values{"grant_type": {"urn:x"}}, hdr: basic("demo", "demo-secret"), status: 400,
			wantBody: `{"error":"unsupported_grant_type","error_description":"Unsupported grant_type"}`},
		{name: "public client_credentials", form: with(cc, "client_id", "web"), status: 401,
			wantBody: `{"error":"unauthorized_client","error_description":"Public client not allowed to retrieve service account"}`},
		{name: "service accounts off", form: cc, hdr: basic("nosa", "nosa-secret"), status: 401,
			wantBody: `{"error":"unauthorized_client","error_description":"Client not enabled to retrieve service account"}`},
		{name: "direct grants off", form: pw(), hdr: basic("api", "api-secret"), status: 400,
			wantBody: `{"error":"unauthorized_client","error_description":"Client not allowed for direct access grants"}`},
		{name: "wrong password", form: pw("password", "nope"), hdr: basic("demo", "demo-secret"), status: 401,
			wantBody: `{"error":"invalid_grant","error_description":"Invalid user credentials"}`},
		{name: "unknown user", form: pw("username", "eve"), hdr: basic("demo", "demo-secret"), status: 401,
			wantBody: `{"error":"invalid_grant","error_description":"Invalid user credentials"}`},
		{name: "invalid scope", form: with(cc, "scope", "admin"), hdr: basic("demo", "demo-secret"), status: 400,
			wantBody: `{"error":"invalid_scope","error_description":"Invalid scopes: admin"}`},
		{name: "refresh missing token", form: url.Values{"grant_type": {"refresh_token"}}, hdr: basic("demo", "demo-secret"), status: 400,
			wantBody: `{"error":"invalid_request","error_description":"Missing parameter: refresh_token"}`},
		{name: "refresh garbage", form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x.y.z"}}, hdr: basic("demo", "demo-secret"), status: 400,
			wantBody: `{"error":"invalid_grant","error_description":"Invalid refresh token"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.post(t, tokenPath, tc.form, tc.hdr)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status != 200 {
				if r.body != tc.wantBody {
					t.Errorf("body %s, want %s", r.body, tc.wantBody)
				}
				return
			}
			m := jsonBody(t, r)
			if m["token_type"] != "Bearer" || m["expires_in"] != float64(300) {
				t.Errorf("response %v", m)
			}
			_, p := parts(t, m["access_token"].(string))
			if p["azp"] != tc.wantAzp {
				t.Errorf("azp %v", p["azp"])
			}
		})
	}

	t.Run("bearer challenge", func(t *testing.T) {
		r := e.post(t, tokenPath, cc, map[string]string{"Authorization": "Bearer abc"})
		if r.header.Get("WWW-Authenticate") != `Basic realm="dev"` {
			t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
		}
	})

	t.Run("refresh grant", func(t *testing.T) {
		r := e.post(t, tokenPath, pw("scope", "payments:write"), basic("demo", "demo-secret"))
		m := jsonBody(t, r)
		if m["refresh_expires_in"] != float64(1800) || m["session_state"] == "" || m["id_token"] == nil || m["not-before-policy"] != float64(0) {
			t.Fatalf("password response %v", m)
		}
		e.clk.Advance(60e9)
		r2 := e.post(t, tokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {m["refresh_token"].(string)}}, basic("demo", "demo-secret"))
		if r2.status != 200 {
			t.Fatalf("refresh: %d %s", r2.status, r2.body)
		}
		m2 := jsonBody(t, r2)
		_, p := parts(t, m2["access_token"].(string))
		if p["scope"] != "openid profile email payments:write" || m2["session_state"] != m["session_state"] {
			t.Errorf("refreshed %v / %v", p, m2)
		}
		// Another client cannot use demo's refresh token.
		r3 := e.post(t, tokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {m["refresh_token"].(string)}, "client_id": {"web"}}, nil)
		if r3.status != 400 || r3.body != `{"error":"invalid_grant","error_description":"Invalid refresh token. Token client and authorized client don't match"}` {
			t.Errorf("cross-client refresh: %d %s", r3.status, r3.body)
		}
	})

	t.Run("disabled user", func(t *testing.T) {
		if err := e.s.SetUserEnabled("dev", "bob", false); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = e.s.SetUserEnabled("dev", "bob", true) }()
		r := e.post(t, tokenPath, url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {"bob"}}, basic("demo", "demo-secret"))
		if r.status != 400 || r.body != `{"error":"invalid_grant","error_description":"Account disabled"}` {
			t.Errorf("%d %s", r.status, r.body)
		}
	})

	t.Run("body is bounded", func(t *testing.T) {
		big := url.Values{"grant_type": {"client_credentials"}, "pad": {strings.Repeat("x", 70<<10)}}
		if r := e.post(t, tokenPath, big, basic("demo", "demo-secret")); r.status != 413 {
			t.Errorf("status %d", r.status)
		}
	})

	t.Run("method", func(t *testing.T) {
		if r := e.get(t, "dev", tokenPath); r.status != 405 {
			t.Errorf("GET token: %d", r.status)
		}
	})
}

func TestGoAPIErrors(t *testing.T) {
	s, err := New(testConfig("ES256"))
	if err != nil {
		t.Fatal(err)
	}
	var oe *OAuthError
	tests := []struct {
		name    string
		err     error
		wantErr error
		code    string
	}{
		{name: "unknown realm", err: second(s.ClientCredentials("x", "demo")), wantErr: ErrUnknownRealm},
		{name: "unknown client", err: second(s.ClientCredentials("dev", "x")), wantErr: ErrUnknownClient},
		{name: "unknown user", err: second(s.PasswordGrant("dev", "demo", "eve")), wantErr: ErrUnknownUser},
		{name: "no service account", err: second(s.ClientCredentials("dev", "nosa")), code: "unauthorized_client"},
		{name: "invalid scope", err: second(s.PasswordGrant("dev", "demo", "alice", "admin")), code: "invalid_scope"},
		{name: "unknown session", err: s.Logout(t.Context(), "dev", "nope"), wantErr: ErrUnknownSession},
		{name: "remove unknown key", err: s.RemoveKey("dev", "nope"), wantErr: ErrUnknownKey},
		{name: "remove active key", err: s.RemoveKey("dev", s.ActiveKID("dev")), wantErr: ErrActiveKey},
		{name: "revoke garbage", err: s.Revoke("dev", "garbage"), code: "invalid_token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wantErr != nil && !errors.Is(tc.err, tc.wantErr) {
				t.Fatalf("err %v, want %v", tc.err, tc.wantErr)
			}
			if tc.code != "" && (!errors.As(tc.err, &oe) || oe.Code != tc.code) {
				t.Fatalf("err %v, want code %s", tc.err, tc.code)
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }
