package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// TestGateways drives real nginx and caddy, configured from the shipped
// files, in front of tokenwarden's /v1/auth.
func TestGateways(t *testing.T) {
	e := newEnv(t)
	tw, up := hostPort(e.tw.URL), hostPort(e.up.srv.URL)
	for _, gw := range []struct {
		name  string
		start func(t *testing.T, tw, up string) *gateway
		// down is the status when tokenwarden cannot be reached.
		down int
	}{
		{"nginx", startNginx, http.StatusServiceUnavailable},
		{"caddy", startCaddy, http.StatusBadGateway},
	} {
		t.Run(gw.name, func(t *testing.T) {
			g := gw.start(t, tw, up)
			testGateway(t, e, g)

			t.Run("tokenwarden down", func(t *testing.T) {
				dead := gw.start(t, freePort(t), up) // nothing listens there
				before := e.up.count()
				r := dead.do(t, request{method: "POST", path: "/api/payments/1", token: e.token(t, "payments:write")})
				if r.status != gw.down {
					t.Errorf("status %d, want %d\n%s", r.status, gw.down, dead.logs())
				}
				if e.up.count() != before {
					t.Error("upstream reached while tokenwarden is down")
				}
				if gw.name == "nginx" && r.header.Get("Retry-After") != "1" {
					t.Errorf("Retry-After %q, want 1", r.header.Get("Retry-After"))
				}
			})
		})
	}
}

func testGateway(t *testing.T, e *env, g *gateway) {
	forged := map[string]string{
		"X-Auth-Subject": "admin", "X-Auth-Client-Id": "admin-app", "X-Auth-Scope": "payments:write",
		"X-Auth-Roles": "admin", "X-Auth-Decided-By": "forged", "X-Auth-Rule": "public",
	}

	t.Run("valid token reaches upstream with identity headers", func(t *testing.T) {
		tok := e.token(t, "payments:write")
		before := e.up.count()
		r := g.do(t, request{method: "POST", path: "/api/payments/1?x=y", token: tok, header: forged})
		if r.status != 200 || r.body != "upstream ok" {
			t.Fatalf("status %d body %q\n%s", r.status, r.body, g.logs())
		}
		if e.up.count() != before+1 {
			t.Fatalf("upstream saw %d requests, want 1", e.up.count()-before)
		}
		s := e.up.last()
		if s.method != "POST" || s.uri != "/api/payments/1?x=y" {
			t.Errorf("upstream saw %s %s", s.method, s.uri)
		}
		want := map[string]string{
			"X-Auth-Subject":    claim(t, tok, "sub"),
			"X-Auth-Client-Id":  "demo",
			"X-Auth-Decided-By": "introspection", // tiered, sensitive route
			"X-Auth-Rule":       "payments",
		}
		for k, v := range want {
			if got := s.header.Values(k); len(got) != 1 || got[0] != v {
				t.Errorf("upstream %s = %q, want exactly %q", k, got, v)
			}
		}
		if got := s.header.Values("X-Auth-Scope"); len(got) != 1 || !strings.Contains(" "+got[0]+" ", " payments:write ") {
			t.Errorf("upstream X-Auth-Scope = %q", got)
		}
		if got := s.header.Values("X-Auth-Roles"); len(got) > 1 || (len(got) == 1 && strings.Contains(got[0], "admin")) {
			t.Errorf("upstream X-Auth-Roles = %q: the client's forged value survived", got)
		}
		if want["X-Auth-Subject"] == "" || want["X-Auth-Subject"] == "admin" {
			t.Fatalf("bad test token subject %q", want["X-Auth-Subject"])
		}
	})

	t.Run("user roles reach upstream", func(t *testing.T) {
		tr, err := e.idp.PasswordGrant("dev", "demo", "alice")
		if err != nil {
			t.Fatal(err)
		}
		r := g.do(t, request{path: "/api/orders", token: tr.AccessToken, header: forged})
		if r.status != 200 {
			t.Fatalf("status %d\n%s", r.status, g.logs())
		}
		s := e.up.last()
		roles := "," + s.header.Get("X-Auth-Roles") + ","
		if !strings.Contains(roles, ",user,") || !strings.Contains(roles, ",demo:reader,") || strings.Contains(roles, ",admin,") {
			t.Errorf("upstream X-Auth-Roles = %q", s.header.Values("X-Auth-Roles"))
		}
		if got := s.header.Get("X-Auth-Rule"); got != "api" {
			t.Errorf("rule %q", got)
		}
	})

	t.Run("public route needs no token and strips forged identity", func(t *testing.T) {
		r := g.do(t, request{path: "/public/info", header: forged})
		if r.status != 200 {
			t.Fatalf("status %d\n%s", r.status, g.logs())
		}
		s := e.up.last()
		for _, k := range []string{"X-Auth-Subject", "X-Auth-Client-Id", "X-Auth-Scope", "X-Auth-Roles"} {
			if got := s.header.Values(k); len(got) > 1 || (len(got) == 1 && got[0] != "") {
				t.Errorf("upstream %s = %q, want absent or empty", k, got)
			}
		}
		if got := s.header.Get("X-Auth-Decided-By"); got != "public" {
			t.Errorf("X-Auth-Decided-By %q", got)
		}
	})

	refusals := []struct {
		name       string
		req        request
		wantStatus int
		wantChal   string // substring of WWW-Authenticate
		wantRetry  string
	}{
		{"no token", request{method: "POST", path: "/api/payments/1"}, 401, `Bearer realm="tokenwarden"`, ""},
		{"garbage token", request{method: "POST", path: "/api/payments/1", token: "not.a.jwt"}, 401, `error="invalid_token"`, ""},
		{"tampered signature", request{method: "POST", path: "/api/payments/1", token: tamper(e.token(t, "payments:write"))}, 401, `error="invalid_token"`, ""},
		{"expired token", request{method: "POST", path: "/api/payments/1", token: e.expiredToken(t)}, 401, `error="invalid_token"`, ""},
		{"insufficient scope", request{method: "POST", path: "/api/payments/1", token: e.token(t)}, 403, `error="insufficient_scope", error_description="required scope missing", scope="payments:write"`, ""},
		{"bypass: double slash", request{method: "POST", path: "/api//payments/1", token: e.token(t)}, 403, "insufficient_scope", ""},
		{"bypass: encoded letter", request{method: "POST", path: "/api/%70ayments/1", token: e.token(t)}, 403, "insufficient_scope", ""},
		{"bypass: dot segment", request{method: "POST", path: "/api/./payments/1", token: e.token(t)}, 403, "insufficient_scope", ""},
		{"bypass: detour", request{method: "POST", path: "/api/orders/../payments/1", token: e.token(t)}, 403, "insufficient_scope", ""},
		{"bypass: encoded slash", request{method: "POST", path: "/api/payments%2F1", token: e.token(t)}, 400, "", ""},
		// An Opaque starting with // makes the client send the absolute form
		// "http://admin.example.com/api/payments/1"; both gateways forward
		// its origin form, which the payments rule matches.
		{"absolute-form target", request{method: "POST", path: "//admin.example.com/api/payments/1", token: e.token(t)}, 403, "insufficient_scope", ""},
		{"bypass: path parameter", request{method: "POST", path: "/api/payments;x=1/1", token: e.token(t)}, 400, "", ""},
		{"strategy unavailable", request{path: "/maintenance/x", token: e.token(t)}, 503, "", "7"},
		// The auth request carries the client's headers; the shipped configs
		// replace or drop every forward-auth header the client may send.
		{"forged forward-auth headers", request{method: "POST", path: "/api/payments/1", header: map[string]string{
			"X-Original-URI": "/public/x", "X-Original-Method": "GET", "X-Forwarded-Uri": "/public/x", "X-Forwarded-Method": "GET",
		}}, 401, `Bearer realm="tokenwarden"`, ""},
		{"host rule", request{path: "/admin/users", token: e.token(t), host: "admin.example.com"}, 403, "insufficient_scope", ""},
		{"forged forwarded host", request{path: "/admin/users", token: e.token(t), host: "admin.example.com", header: map[string]string{
			"X-Forwarded-Host": "www.example.com",
		}}, 403, "insufficient_scope", ""},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			before := e.up.count()
			r := g.do(t, tc.req)
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d (%v)\n%s", r.status, tc.wantStatus, r.header, g.logs())
			}
			if e.up.count() != before {
				t.Fatal("upstream reached")
			}
			if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, tc.wantChal) {
				t.Errorf("WWW-Authenticate %q, want it to contain %q", got, tc.wantChal)
			}
			if got := r.header.Get("Retry-After"); got != tc.wantRetry {
				t.Errorf("Retry-After %q, want %q", got, tc.wantRetry)
			}
		})
	}

	t.Run("revoked token on a sensitive route", func(t *testing.T) {
		tok := e.token(t, "payments:write")
		if r := g.do(t, request{method: "POST", path: "/api/payments/1", token: tok}); r.status != 200 {
			t.Fatalf("before revocation: status %d\n%s", r.status, g.logs())
		}
		if err := e.idp.Revoke("dev", tok); err != nil {
			t.Fatal(err)
		}
		before := e.up.count()
		r := g.do(t, request{method: "POST", path: "/api/payments/1", token: tok})
		if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("revoked token on the sensitive route: status %d %q", r.status, r.header.Get("WWW-Authenticate"))
		}
		if e.up.count() != before {
			t.Error("upstream reached with a revoked token")
		}
		// The local strategy cannot know: on a non-sensitive route the
		// signature still verifies. This is the gap sensitive routes close.
		if r := g.do(t, request{path: "/api/orders", token: tok}); r.status != 200 {
			t.Errorf("non-sensitive route (local strategy): status %d", r.status)
		}
	})
}

// tamper flips a bit in the signature.
func tamper(tok string) string {
	i := strings.LastIndexByte(tok, '.') + 5
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}
