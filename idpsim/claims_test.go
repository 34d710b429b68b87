package idpsim

import (
	"slices"
	"testing"
)

func TestAccessTokenClaims(t *testing.T) {
	e := newEnv(t, testConfig("RS256"))
	set := e.jwks(t)
	iss := e.s.Issuer("dev")

	t.Run("user token", func(t *testing.T) {
		tr := mustTok(t)(e.s.PasswordGrant("dev", "demo", "alice", "payments:write"))
		hdr, p := verify(t, set, tr.AccessToken)
		if hdr["typ"] != "JWT" || hdr["kid"] != e.s.ActiveKID("dev") || hdr["alg"] != "RS256" {
			t.Errorf("header %v", hdr)
		}
		want := map[string]any{"typ": "Bearer", "azp": "demo", "iss": iss, "preferred_username": "alice",
			"email": "alice@example.com", "scope": "openid profile email payments:write", "sid": tr.SessionState}
		for k, v := range want {
			if p[k] != v {
				t.Errorf("%s = %v, want %v", k, p[k], v)
			}
		}
		if _, ok := p["aud"]; ok {
			t.Errorf("aud %v: Keycloak adds none without an audience mapper", p["aud"])
		}
		for _, k := range []string{"exp", "iat", "jti", "sub"} {
			if _, ok := p[k]; !ok {
				t.Errorf("missing %s", k)
			}
		}
		if p["exp"].(float64)-p["iat"].(float64) != 300 || p["iat"] != float64(t0.Unix()) {
			t.Errorf("iat %v exp %v", p["iat"], p["exp"])
		}
		if roles := p["realm_access"].(map[string]any)["roles"].([]any); !slices.Equal(roles, []any{"user"}) {
			t.Errorf("realm roles %v", roles)
		}
		ra := p["resource_access"].(map[string]any)["demo"].(map[string]any)["roles"].([]any)
		if !slices.Equal(ra, []any{"reader"}) {
			t.Errorf("client roles %v", ra)
		}

		rh, rp := parts(t, tr.RefreshToken)
		if rp["typ"] != "Refresh" || rp["aud"] != iss || rp["azp"] != "demo" || rp["sid"] != tr.SessionState || rh["alg"] != "HS512" {
			t.Errorf("refresh %v %v", rh, rp)
		}
		if _, ok := set.LookupKeyID(rh["kid"].(string)); ok {
			t.Error("refresh token key must not be published")
		}
		idh, idp := verify(t, set, tr.IDToken)
		if idp["typ"] != "ID" || idp["aud"] != "demo" || idp["sub"] != p["sub"] || idh["typ"] != "JWT" || idp["at_hash"] == nil {
			t.Errorf("id token %v %v", idh, idp)
		}
	})

	t.Run("offline", func(t *testing.T) {
		tr := mustTok(t)(e.s.PasswordGrant("dev", "demo", "alice", "offline_access"))
		_, rp := parts(t, tr.RefreshToken)
		if rp["typ"] != "Offline" || tr.RefreshExpiresIn != 0 {
			t.Errorf("offline refresh %v, refresh_expires_in %d", rp, tr.RefreshExpiresIn)
		}
		// An offline session is not an online SSO session.
		if slices.Contains(e.s.Sessions("dev", "alice"), tr.SessionState) {
			t.Error("offline session listed as online")
		}
		tr2 := mustTok(t)(e.s.Refresh("dev", "demo", tr.RefreshToken))
		if _, rp2 := parts(t, tr2.RefreshToken); rp2["typ"] != "Offline" {
			t.Errorf("refreshed offline typ %v", rp2["typ"])
		}
	})

	t.Run("rfc9068 header and single audience", func(t *testing.T) {
		tr := mustTok(t)(e.s.ClientCredentials("dev", "api"))
		hdr, p := verify(t, set, tr.AccessToken)
		if hdr["typ"] != "at+jwt" || p["typ"] != "Bearer" || p["aud"] != "orders-api" {
			t.Errorf("header %v payload %v", hdr, p)
		}
		if p["preferred_username"] != "service-account-api" || p["client_id"] != "api" || p["sub"] == nil {
			t.Errorf("service account claims %v", p)
		}
		if tr.RefreshToken != "" || tr.IDToken != "" || p["scope"] != "profile email" && p["scope"] != "openid profile email" {
			t.Errorf("client_credentials response %+v scope %v", tr, p["scope"])
		}
	})

	t.Run("several audiences", func(t *testing.T) {
		_, p := parts(t, mustTok(t)(e.s.ClientCredentials("dev", "multi")).AccessToken)
		if aud, _ := p["aud"].([]any); !slices.Equal(aud, []any{"a", "b"}) {
			t.Errorf("aud %v", p["aud"])
		}
	})

	t.Run("lightweight", func(t *testing.T) {
		tr := mustTok(t)(e.s.PasswordGrant("dev", "light", "alice"))
		_, p := verify(t, set, tr.AccessToken)
		for _, k := range []string{"sub", "realm_access", "resource_access", "preferred_username", "email"} {
			if _, ok := p[k]; ok {
				t.Errorf("lightweight token has %s", k)
			}
		}
		for _, k := range []string{"exp", "iat", "jti", "iss", "typ", "azp", "sid", "scope"} {
			if _, ok := p[k]; !ok {
				t.Errorf("lightweight token lacks %s", k)
			}
		}
		// Introspection restores the claims from the session's user.
		m := jsonBody(t, e.introspect(t, tr.AccessToken))
		if m["active"] != true || m["preferred_username"] != "alice" || m["username"] != "alice" || m["sub"] == nil || m["realm_access"] == nil {
			t.Errorf("introspection of lightweight token %v", m)
		}
	})
}
