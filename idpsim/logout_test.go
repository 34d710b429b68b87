package idpsim

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// bclEnv has clients a and b (back-channel receivers), c (receiver, never in
// the session) and admin receivers for not-before pushes.
func bclEnv(t *testing.T, status int) (*env, map[string]*receiver) {
	recv := map[string]*receiver{"a": newReceiver(t, status), "b": newReceiver(t, status), "c": newReceiver(t, status)}
	cfg := testConfig("RS256")
	for _, id := range []string{"a", "b", "c"} {
		cfg.Realms[0].Clients = append(cfg.Realms[0].Clients, ClientConfig{
			ClientID: id, Secret: id + "-secret", DirectAccessGrants: true, ServiceAccounts: true,
			BackchannelLogoutURL: recv[id].ts.URL + "/logout/backchannel-logout",
			AdminURL:             recv[id].ts.URL + "/admin/",
		})
	}
	return newEnv(t, cfg), recv
}

func TestBackchannelLogout(t *testing.T) {
	e, recv := bclEnv(t, 200)
	trA := mustTok(t)(e.s.PasswordGrant("dev", "a", "alice"))
	sid := trA.SessionState
	trB := mustTok(t)(e.s.SSOLogin("dev", sid, "b"))
	_, pA := parts(t, trA.AccessToken)
	if got := e.s.Sessions("dev", "alice"); !slices.Equal(got, []string{sid}) {
		t.Fatalf("sessions %v", got)
	}
	// c has a session of its own with another user: it must not be notified.
	mustTok(t)(e.s.PasswordGrant("dev", "c", "bob"))

	if err := e.s.Logout(t.Context(), "dev", sid); err != nil {
		t.Fatal(err)
	}
	// No waiting: deliveries happen before Logout returns.
	if n := len(recv["c"].got()); n != 0 {
		t.Errorf("client without a client session got %d deliveries", n)
	}
	set := e.jwks(t)
	iss := e.s.Issuer("dev")
	for _, id := range []string{"a", "b"} {
		got := recv[id].got()
		if len(got) != 1 {
			t.Fatalf("client %s: %d deliveries", id, len(got))
		}
		d := got[0]
		if d.method != "POST" || d.path != "/logout/backchannel-logout" || d.contentType != "application/x-www-form-urlencoded" {
			t.Errorf("delivery %+v", d)
		}
		h, p := verify(t, set, d.form.Get("logout_token"))
		if h["typ"] != "logout+jwt" || h["alg"] != "RS256" || h["kid"] != e.s.ActiveKID("dev") {
			t.Errorf("header %v", h)
		}
		if p["iss"] != iss || p["aud"] != id || p["sid"] != sid || p["sub"] != pA["sub"] || p["jti"] == nil {
			t.Errorf("claims %v", p)
		}
		if p["iat"] != float64(e.clk.Now().Unix()) || p["exp"].(float64) != p["iat"].(float64)+120 {
			t.Errorf("iat %v exp %v", p["iat"], p["exp"])
		}
		ev, _ := p["events"].(map[string]any)
		if m, ok := ev["http://schemas.openid.net/event/backchannel-logout"].(map[string]any); !ok || len(m) != 0 || len(ev) != 1 {
			t.Errorf("events %v", p["events"])
		}
		if _, ok := p["nonce"]; ok {
			t.Error("logout token must not carry a nonce")
		}
	}
	for _, tok := range []string{trA.AccessToken, trB.AccessToken} {
		if r := e.introspect(t, tok); r.body != `{"active":false}` {
			t.Errorf("token after logout: %s", r.body)
		}
	}
	if len(e.s.Sessions("dev", "alice")) != 0 {
		t.Error("session survived logout")
	}
}

func TestLogoutUserAndHTTPLogout(t *testing.T) {
	e, recv := bclEnv(t, 200)
	s1 := mustTok(t)(e.s.PasswordGrant("dev", "a", "alice")).SessionState
	s2 := mustTok(t)(e.s.PasswordGrant("dev", "b", "alice")).SessionState
	off := mustTok(t)(e.s.PasswordGrant("dev", "c", "alice", "offline_access"))
	if err := e.s.LogoutUser(t.Context(), "dev", "alice"); err != nil {
		t.Fatal(err)
	}
	if got := recv["a"].got(); len(got) != 1 {
		t.Errorf("a: %v", got)
	} else if _, p := parts(t, got[0].form.Get("logout_token")); p["sid"] != s1 {
		t.Errorf("a sid %v", p["sid"])
	}
	if _, p := parts(t, recv["b"].got()[0].form.Get("logout_token")); p["sid"] != s2 {
		t.Errorf("b sid %v", p["sid"])
	}
	if len(recv["c"].got()) != 0 {
		t.Error("offline session must survive LogoutUser")
	}
	if m := jsonBody(t, e.introspect(t, off.RefreshToken)); m["active"] != true {
		t.Errorf("offline token after LogoutUser: %v", m)
	}

	t.Run("POST logout endpoint", func(t *testing.T) {
		tr := mustTok(t)(e.s.PasswordGrant("dev", "a", "bob"))
		r := e.post(t, oidcPath+"/logout", url.Values{"refresh_token": {tr.RefreshToken}}, basic("a", "a-secret"))
		if r.status != 204 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		got := recv["a"].got()
		if _, p := parts(t, got[len(got)-1].form.Get("logout_token")); p["sid"] != tr.SessionState {
			t.Errorf("sid %v", p["sid"])
		}
		if r := e.introspect(t, tr.AccessToken); r.body != `{"active":false}` {
			t.Errorf("%s", r.body)
		}
		r = e.post(t, oidcPath+"/logout", url.Values{}, basic("a", "a-secret"))
		if r.status != 400 || r.body != `{"error":"invalid_request","error_description":"No refresh token"}` {
			t.Errorf("%d %s", r.status, r.body)
		}
		r = e.post(t, oidcPath+"/logout", url.Values{"refresh_token": {tr.AccessToken}}, basic("a", "a-secret"))
		if r.status != 400 || r.body != `{"error":"invalid_grant","error_description":"Invalid refresh token"}` {
			t.Errorf("%d %s", r.status, r.body)
		}
	})
}

func TestBackchannelFailureIsNotFatal(t *testing.T) {
	e, recv := bclEnv(t, 500)
	sid := mustTok(t)(e.s.PasswordGrant("dev", "a", "alice")).SessionState
	if err := e.s.Logout(t.Context(), "dev", sid); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if len(recv["a"].got()) != 1 {
		t.Error("not delivered")
	}
}

func TestPushNotBefore(t *testing.T) {
	e, recv := bclEnv(t, 200)
	tok := mustTok(t)(e.s.ClientCredentials("dev", "a")).AccessToken
	e.clk.Advance(10 * time.Second)
	nb := e.clk.Now()
	e.s.SetNotBefore("dev", "a", nb)
	if err := e.s.PushNotBefore(t.Context(), "dev", "a"); err != nil {
		t.Fatal(err)
	}
	if len(recv["b"].got()) != 0 {
		t.Error("push for a reached b")
	}
	got := recv["a"].got()
	if len(got) != 1 {
		t.Fatalf("%d deliveries", len(got))
	}
	d := got[0]
	if d.method != "POST" || d.path != "/admin/k_push_not_before" || !strings.HasPrefix(d.contentType, "text/plain") {
		t.Errorf("delivery %+v", d)
	}
	_, p := verify(t, e.jwks(t), d.body)
	if p["action"] != "PUSH_NOT_BEFORE" || p["resource"] != "a" || p["notBefore"] != float64(nb.Unix()) ||
		p["expiration"] != float64(nb.Unix()+30) || len(p["id"].(string)) != 36 {
		t.Errorf("payload %v", p)
	}
	if r := e.introspect(t, tok); r.body != `{"active":false}` {
		t.Errorf("token before not-before: %s", r.body)
	}
	if m := jsonBody(t, e.introspect(t, mustTok(t)(e.s.ClientCredentials("dev", "a")).AccessToken)); m["active"] != true {
		t.Errorf("fresh token: %v", m)
	}

	// "" pushes to every client with an admin URL; the realm not-before wins
	// when later (max of realm and client).
	e.s.SetNotBefore("dev", "", nb.Add(time.Minute))
	if err := e.s.PushNotBefore(t.Context(), "dev", ""); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c"} {
		got := recv[id].got()
		_, p := parts(t, got[len(got)-1].body)
		if p["resource"] != id || p["notBefore"] != float64(nb.Add(time.Minute).Unix()) {
			t.Errorf("%s: %v", id, p)
		}
	}
	if err := e.s.PushNotBefore(t.Context(), "dev", "demo"); err == nil {
		t.Error("push to a client without admin URL succeeded")
	}
}
