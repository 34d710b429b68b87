package idpsim

import (
	"net/url"
	"testing"
)

const revokePath = oidcPath + "/revoke"

func TestRevoke(t *testing.T) {
	e := newEnv(t, testConfig("RS256"))
	set := e.jwks(t)
	demo := basic("demo", "demo-secret")

	t.Run("access token: introspection inactive, JWT still verifies", func(t *testing.T) {
		tr := mustTok(t)(e.s.PasswordGrant("dev", "demo", "alice"))
		r := e.post(t, revokePath, url.Values{"token": {tr.AccessToken}, "token_type_hint": {"access_token"}}, demo)
		if r.status != 200 || r.body != "" {
			t.Fatalf("revoke: %d %q", r.status, r.body)
		}
		if r := e.introspect(t, tr.AccessToken); r.body != `{"active":false}` {
			t.Errorf("introspect after revoke: %s", r.body)
		}
		verify(t, set, tr.AccessToken) // local check still passes: that is the point
		// The session itself is untouched: refresh still works.
		tr2 := mustTok(t)(e.s.Refresh("dev", "demo", tr.RefreshToken))
		if m := jsonBody(t, e.introspect(t, tr2.AccessToken)); m["active"] != true {
			t.Errorf("new token after access revoke: %v", m)
		}
	})

	t.Run("revocation lasts max(exp-now+1, 10)s", func(t *testing.T) {
		tr := mustTok(t)(e.s.ClientCredentials("dev", "demo"))
		if err := e.s.Revoke("dev", tr.AccessToken); err != nil {
			t.Fatal(err)
		}
		rl := e.s.realms["dev"]
		_, p := parts(t, tr.AccessToken)
		rl.mu.Lock()
		until := rl.revoked[p["jti"].(string)]
		rl.mu.Unlock()
		if want := e.clk.Now().Unix() + 301; until != want {
			t.Errorf("revoked until %d, want %d", until, want)
		}
	})

	t.Run("refresh token detaches the client session", func(t *testing.T) {
		tr := mustTok(t)(e.s.PasswordGrant("dev", "demo", "bob"))
		r := e.post(t, revokePath, url.Values{"token": {tr.RefreshToken}, "token_type_hint": {"refresh_token"}}, demo)
		if r.status != 200 || r.body != "" {
			t.Fatalf("revoke: %d %q", r.status, r.body)
		}
		if r := e.introspect(t, tr.AccessToken); r.body != `{"active":false}` {
			t.Errorf("access token after refresh revoke: %s", r.body)
		}
		if _, err := e.s.Refresh("dev", "demo", tr.RefreshToken); err == nil {
			t.Error("refresh after revoke succeeded")
		}
	})

	t.Run("public client revokes with client_id", func(t *testing.T) {
		tr := mustTok(t)(e.s.PasswordGrant("dev", "web", "alice"))
		r := e.post(t, revokePath, url.Values{"token": {tr.AccessToken}, "client_id": {"web"}}, nil)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})

	other := mustTok(t)(e.s.ClientCredentials("dev", "api")).AccessToken
	own := mustTok(t)(e.s.ClientCredentials("dev", "demo")).AccessToken
	id := mustTok(t)(e.s.PasswordGrant("dev", "demo", "alice")).IDToken
	tests := []struct {
		name   string
		form   url.Values
		hdr    map[string]string
		status int
		body   string
	}{
		{"other client's token", url.Values{"token": {other}}, demo, 400, `{"error":"invalid_request","error_description":"Unmatching clients"}`},
		{"invalid token", url.Values{"token": {"garbage"}}, demo, 200, `{"error":"invalid_token","error_description":"Invalid token"}`},
		{"unsupported hint", url.Values{"token": {own}, "token_type_hint": {"id_token"}}, demo, 400, `{"error":"unsupported_token_type","error_description":"Unsupported token type"}`},
		{"ID token", url.Values{"token": {id}}, demo, 400, `{"error":"unsupported_token_type","error_description":"Unsupported token type"}`},
		{"token missing", url.Values{}, demo, 400, `{"error":"invalid_request","error_description":"Token not provided"}`},
		{"bad client secret", url.Values{"token": {own}}, basic("demo", "x"), 401, `{"error":"unauthorized_client","error_description":"Invalid client or Invalid client credentials"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.post(t, revokePath, tc.form, tc.hdr)
			if r.status != tc.status || r.body != tc.body {
				t.Errorf("got %d %s, want %d %s", r.status, r.body, tc.status, tc.body)
			}
		})
	}
	if m := jsonBody(t, e.introspect(t, other)); m["active"] != true {
		t.Error("failed revocation must not revoke")
	}
}

func TestKeyRotation(t *testing.T) {
	e := newEnv(t, testConfig("ES256"))
	old := e.s.ActiveKID("dev")
	tok1 := mustTok(t)(e.s.ClientCredentials("dev", "demo")).AccessToken

	kid2, err := e.s.RotateKey("dev")
	if err != nil {
		t.Fatal(err)
	}
	if kid2 == old || e.s.ActiveKID("dev") != kid2 {
		t.Fatalf("rotate: old %s new %s active %s", old, kid2, e.s.ActiveKID("dev"))
	}
	set := e.jwks(t)
	for _, kid := range []string{old, kid2} {
		if k, ok := set.LookupKeyID(kid); !ok || k.KeyUsage() != "sig" {
			t.Errorf("kid %s not listed as sig key", kid)
		}
	}
	if set.Len() != 3 {
		t.Errorf("JWKS has %d keys, want 2 sig + 1 enc", set.Len())
	}
	tok2 := mustTok(t)(e.s.ClientCredentials("dev", "demo")).AccessToken
	if h, _ := verify(t, set, tok2); h["kid"] != kid2 {
		t.Errorf("new token kid %v", h["kid"])
	}
	verify(t, set, tok1) // passive key still verifies
	if m := jsonBody(t, e.introspect(t, tok1)); m["active"] != true {
		t.Errorf("token of passive key: %v", m)
	}

	if err := e.s.RemoveKey("dev", old); err != nil {
		t.Fatal(err)
	}
	set = e.jwks(t)
	if _, ok := set.LookupKeyID(old); ok {
		t.Error("removed key still listed")
	}
	if r := e.introspect(t, tok1); r.body != `{"active":false}` {
		t.Errorf("token of removed key: %s", r.body)
	}
	if m := jsonBody(t, e.introspect(t, tok2)); m["active"] != true {
		t.Errorf("token of active key: %v", m)
	}
}

func TestSignForAttackTests(t *testing.T) {
	e := newEnv(t, testConfig("ES256"))
	now := e.clk.Now().Unix()
	tok, err := e.s.Sign("dev", map[string]any{"typ": "at+jwt"}, map[string]any{"iss": "x", "exp": now + 60})
	if err != nil {
		t.Fatal(err)
	}
	h, p := verify(t, e.jwks(t), tok)
	if h["typ"] != "at+jwt" || h["kid"] != e.s.ActiveKID("dev") || h["alg"] != "ES256" || p["iss"] != "x" {
		t.Errorf("%v %v", h, p)
	}
	old := e.s.ActiveKID("dev")
	if _, err := e.s.RotateKey("dev"); err != nil {
		t.Fatal(err)
	}
	tok, err = e.s.SignWithKID("dev", old, nil, map[string]any{"a": 1})
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := verify(t, e.jwks(t), tok); h["kid"] != old {
		t.Errorf("kid %v", h["kid"])
	}
	// A lying header is kept verbatim; the signature uses the key's real alg.
	tok, _ = e.s.Sign("dev", map[string]any{"alg": "none"}, map[string]any{"a": 1})
	if h, _ := parts(t, tok); h["alg"] != "none" {
		t.Errorf("alg %v", h["alg"])
	}
}
