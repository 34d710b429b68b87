package validator_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/tokenhash"
	"github.com/tokenwarden/tokenwarden/strategy"
	"github.com/tokenwarden/tokenwarden/validator"
)

// authStrat is a strategy that grants per token and records what it was asked.
type authStrat struct {
	name string
	mu   sync.Mutex
	seen []strategy.Request
}

var authGrants = map[string]*strategy.Result{
	"good": {
		Subject: "u-1", ClientID: "app", Scopes: []string{"openid", "read"},
		RealmRoles: []string{"user"}, ClientRoles: map[string][]string{"app": {"reader"}}, DecidedBy: strategy.DecidedByLocal,
	},
	"payer": {
		Subject: "payer-1", ClientID: "app", Scopes: []string{"openid", "read", "payments:write"},
		RealmRoles: []string{"user", "admin", "ops"}, DecidedBy: strategy.DecidedByIntrospection,
	},
	"weird": {
		Subject: "ü ser,1:x\r\n", ClientID: "my app", Scopes: []string{"read", `bad"scope`, "a\\b", "x"},
		RealmRoles:  []string{"role with space", "a,b", "c:d", "ünï", "50%"},
		ClientRoles: map[string][]string{"z-app": {"r"}, "my:client": {"x,y", "p q"}, "a": {""}},
		DecidedBy:   strategy.DecidedByLocal,
	},
}

func (f *authStrat) Validate(_ context.Context, req strategy.Request) (*strategy.Result, error) {
	f.mu.Lock()
	f.seen = append(f.seen, req)
	f.mu.Unlock()
	switch req.Token {
	case "stale":
		return nil, strategy.NewError(strategy.ErrInactive, strategy.ReasonExpired, "token expired", nil)
	case "down":
		return nil, &strategy.Error{Kind: strategy.ErrUnavailable, Reason: strategy.ReasonIDPUnavailable, RetryAfter: 2500 * time.Millisecond}
	case "nilnil":
		return nil, nil
	}
	res, ok := authGrants[req.Token]
	if !ok {
		return nil, strategy.NewError(strategy.ErrInvalid, strategy.ReasonSignature, "", nil)
	}
	for _, s := range req.Scopes {
		if !slices.Contains(res.Scopes, s) {
			return nil, strategy.NewError(strategy.ErrForbidden, strategy.ReasonScope, "required scope missing", nil)
		}
	}
	for _, r := range req.Roles {
		if !slices.Contains(res.RealmRoles, r) {
			return nil, strategy.NewError(strategy.ErrForbidden, strategy.ReasonRole, "", nil)
		}
	}
	out := *res
	out.Strategy = f.name
	return &out, nil
}

func (f *authStrat) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}

func (f *authStrat) last() (strategy.Request, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) == 0 {
		return strategy.Request{}, false
	}
	return f.seen[len(f.seen)-1], true
}

type authFixture struct {
	srv           *httptest.Server
	local, strict *authStrat
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// testRoutes covers public, method, host, glob and prefix rules.
var testRoutes = []validator.Route{
	{Name: "health", Path: "/healthz", Public: true},
	{Name: "payments", Methods: []string{"POST", "PUT", "DELETE"}, Path: "/api/payments/", Scopes: []string{"payments:write"}, Strategy: "strict", Sensitive: true},
	{Name: "admin-host", Host: "admin.example.com", Path: "/", Roles: []string{"admin"}},
	{Name: "ops", Path: "/api/*/admin/**", Roles: []string{"ops"}},
	{Name: "api-read", Methods: []string{"GET"}, Path: "/api", Scopes: []string{"read"}},
}

func newAuthFixture(t *testing.T, cfg validator.AuthConfig, opts ...validator.Option) *authFixture {
	t.Helper()
	fx := &authFixture{local: &authStrat{name: "local"}, strict: &authStrat{name: "strict"}}
	if cfg.DefaultStrategy == "" {
		cfg.DefaultStrategy = "local"
	}
	h, err := validator.NewAuthHandler(map[string]strategy.Strategy{"local": fx.local, "strict": fx.strict}, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/auth", h)
	fx.srv = httptest.NewServer(mux)
	t.Cleanup(fx.srv.Close)
	return fx
}

// get calls /v1/auth with method m and headers given as name, value pairs.
func (fx *authFixture) call(t *testing.T, m string, kv ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(m, fx.srv.URL+"/v1/auth", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Add(kv[i], kv[i+1])
	}
	resp, err := fx.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func nginxHdr(method, uri string) []string {
	return []string{"X-Original-Method", method, "X-Original-URI", uri}
}

func traefikHdr(method, uri string) []string {
	return []string{"X-Forwarded-Method", method, "X-Forwarded-Uri", uri}
}

func with(kv []string, more ...string) []string { return append(slices.Clone(kv), more...) }

func TestAuthRouting(t *testing.T) {
	trusted := newAuthFixture(t, validator.AuthConfig{Routes: testRoutes, TrustedProxies: loopback})
	untrusted := newAuthFixture(t, validator.AuthConfig{Routes: testRoutes,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	host := func(h string) []string { return []string{"X-Forwarded-Host", h} }

	tests := []struct {
		name      string
		fx        *authFixture
		hdr       []string
		token     string
		wantCode  int
		wantRule  string
		wantStrat string // strategy that was asked; "" none
		wantSens  bool
	}{
		{"nginx names", trusted, nginxHdr("POST", "/api/payments/p1"), "payer", 200, "payments", "strict", true},
		{"traefik/caddy names", trusted, traefikHdr("POST", "/api/payments/p1"), "payer", 200, "payments", "strict", true},
		{"both names agreeing", trusted, with(nginxHdr("POST", "/api/payments/p1"), traefikHdr("POST", "/api/payments/p1")...), "payer", 200, "payments", "strict", true},
		{"both names disagreeing on uri", trusted, with(nginxHdr("POST", "/api/payments/p1"), "X-Forwarded-Uri", "/public"), "payer", 400, "", "", false},
		{"both names disagreeing on method", trusted, with(traefikHdr("POST", "/api/payments/p1"), "X-Original-Method", "GET"), "payer", 400, "", "", false},
		{"payments needs its scope", trusted, nginxHdr("POST", "/api/payments/p1"), "good", 403, "", "strict", true},
		{"lower-case method", trusted, nginxHdr("post", "/api/payments/p1"), "payer", 200, "payments", "strict", true},
		{"GET falls to api-read", trusted, nginxHdr("GET", "/api/payments/p1"), "good", 200, "api-read", "local", false},
		{"GET implies HEAD", trusted, nginxHdr("HEAD", "/api/orders"), "good", 200, "api-read", "local", false},
		{"exact prefix without slash", trusted, nginxHdr("GET", "/api"), "good", 200, "api-read", "local", false},
		{"prefix is segment-wise", trusted, nginxHdr("GET", "/apix"), "good", 200, "default", "local", false},
		{"method not in any rule", trusted, nginxHdr("PATCH", "/api/orders"), "good", 200, "default", "local", false},
		{"glob one segment and suffix", trusted, nginxHdr("GET", "/api/v1/admin/users"), "payer", 200, "ops", "local", false},
		{"glob suffix may be empty", trusted, nginxHdr("GET", "/api/v2/admin"), "payer", 200, "ops", "local", false},
		{"glob needs the role", trusted, nginxHdr("GET", "/api/v2/admin"), "good", 403, "", "local", false},
		{"glob star is one segment", trusted, nginxHdr("GET", "/api/v1/x/admin"), "good", 200, "api-read", "local", false},
		{"public without token", trusted, nginxHdr("GET", "/healthz"), "", 200, "health", "", false},
		{"public subtree", trusted, nginxHdr("POST", "/healthz/deep?x=1"), "", 200, "health", "", false},
		{"public only where it matches", trusted, nginxHdr("GET", "/healthz/../api/x"), "", 401, "", "", false},
		{"host rule", trusted, with(nginxHdr("GET", "/anything"), host("Admin.Example.com:8443")...), "payer", 200, "admin-host", "local", false},
		{"host rule trailing dot", trusted, with(nginxHdr("GET", "/anything"), host("admin.example.com.")...), "good", 403, "", "local", false},
		{"host rule after payments", trusted, with(nginxHdr("POST", "/api/payments/x"), host("admin.example.com")...), "payer", 200, "payments", "strict", true},
		{"other host", trusted, with(nginxHdr("GET", "/anything"), host("www.example.com")...), "good", 200, "default", "local", false},
		{"host required when rules use it", trusted, nginxHdr("GET", "/anything"), "good", 400, "", "", false},
		{"host list refused", trusted, with(nginxHdr("GET", "/x"), host("admin.example.com, www.example.com")...), "good", 400, "", "", false},
		{"host malformed", trusted, with(nginxHdr("GET", "/x"), host("a b")...), "good", 400, "", "", false},
		{"repeated uri header", trusted, with(nginxHdr("GET", "/api/x"), "X-Original-URI", "/public"), "good", 400, "", "", false},
		{"method without uri", trusted, []string{"X-Original-Method", "POST"}, "good", 400, "", "", false},
		{"uri without method", trusted, []string{"X-Forwarded-Uri", "/api/payments/x"}, "good", 400, "", "", false},
		{"bad method token", trusted, nginxHdr("PO ST", "/api/x"), "good", 400, "", "", false},
		{"ingress-nginx URL", trusted, []string{"X-Original-Method", "POST", "X-Original-URL", "http://www.example.com/api/payments/p1?x=1"}, "payer", 200, "payments", "strict", true},
		{"ingress-nginx URL host", trusted, []string{"X-Original-Method", "GET", "X-Original-URL", "HTTPS://Admin.Example.com:8443/x"}, "payer", 200, "admin-host", "local", false},
		{"ingress-nginx URL query only", trusted, []string{"X-Original-Method", "GET", "X-Original-URL", "http://www.example.com?x=/api"}, "good", 200, "default", "local", false},
		{"URL and host agreeing", trusted, []string{"X-Original-Method", "GET", "X-Original-URL", "http://admin.example.com/x", "X-Forwarded-Host", "ADMIN.example.com:443"}, "payer", 200, "admin-host", "local", false},
		{"URL and host disagreeing", trusted, []string{"X-Original-Method", "GET", "X-Original-URL", "http://admin.example.com/x", "X-Forwarded-Host", "www.example.com"}, "payer", 400, "", "", false},
		{"URL and URI disagreeing", trusted, []string{"X-Original-Method", "POST", "X-Original-URL", "http://www.example.com/api/payments/1", "X-Forwarded-Uri", "/public"}, "payer", 400, "", "", false},
		{"URL not http", trusted, []string{"X-Original-Method", "GET", "X-Original-URL", "ftp://www.example.com/x"}, "good", 400, "", "", false},
		{"URL with userinfo", trusted, []string{"X-Original-Method", "GET", "X-Original-URL", "http://admin.example.com@www.example.com/x"}, "good", 400, "", "", false},
		{"URL path refused", trusted, []string{"X-Original-Method", "GET", "X-Original-URL", "http://www.example.com/api%2fx"}, "good", 400, "", "", false},
		{"trusted without forwarded headers", trusted, nil, "good", 200, "default", "local", false},
		{"untrusted: headers ignored", untrusted, nginxHdr("POST", "/api/payments/p1"), "good", 200, "default", "local", false},
		{"untrusted: public rule not applied", untrusted, nginxHdr("GET", "/healthz"), "", 401, "", "", false},
		{"untrusted: malformed headers ignored too", untrusted, nginxHdr("GET", "/api%2fx"), "good", 200, "default", "local", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := tt.fx
			nLocal, nStrict := fx.local.count(), fx.strict.count()
			hdr := tt.hdr
			if len(hdr) > 0 && !slices.Contains(hdr, "X-Forwarded-Host") && !slices.Contains(hdr, "X-Original-URL") && !strings.HasPrefix(tt.name, "host required") {
				hdr = with(hdr, host("www.example.com")...)
			}
			if tt.token != "" {
				hdr = with(hdr, "Authorization", "Bearer "+tt.token)
			}
			resp := fx.call(t, http.MethodGet, hdr...)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status %d, want %d (%v)", resp.StatusCode, tt.wantCode, resp.Header)
			}
			if got := resp.Header.Get("X-Auth-Rule"); got != tt.wantRule {
				t.Errorf("X-Auth-Rule %q, want %q", got, tt.wantRule)
			}
			var asked []*authStrat
			if fx.local.count() > nLocal {
				asked = append(asked, fx.local)
			}
			if fx.strict.count() > nStrict {
				asked = append(asked, fx.strict)
			}
			switch {
			case tt.wantStrat == "" && len(asked) > 0:
				t.Errorf("strategy %s was asked; want none", asked[0].name)
			case tt.wantStrat != "" && (len(asked) != 1 || asked[0].name != tt.wantStrat):
				t.Errorf("asked %d strategies, want exactly %s", len(asked), tt.wantStrat)
			case len(asked) == 1:
				if r, _ := asked[0].last(); r.Sensitive != tt.wantSens {
					t.Errorf("Sensitive %v, want %v", r.Sensitive, tt.wantSens)
				}
			}
		})
	}
}

// TestAuthPathBypass: every spelling of a protected path either reaches the
// protected rule or is refused; none reaches the default rule, which needs
// no scope.
func TestAuthPathBypass(t *testing.T) {
	fx := newAuthFixture(t, validator.AuthConfig{Routes: testRoutes, TrustedProxies: loopback})
	tests := []struct {
		uri      string
		wantCode int    // with a token lacking payments:write
		wantRule string // with a token holding it
	}{
		{"/api/payments/x", 403, "payments"},
		{"/api/payments", 403, "payments"},
		{"/api/payments/", 403, "payments"},
		{"/api/payments/../payments/x", 403, "payments"},
		{"/api/orders/../payments/x", 403, "payments"},
		{"/api//payments/x", 403, "payments"},
		{"//api/payments/x", 403, "payments"},
		{"/api/%70ayments/x", 403, "payments"},
		{"/%61pi/payments/x", 403, "payments"},
		{"/api/./payments/x", 403, "payments"},
		{"/api/payments/x/.", 403, "payments"},
		{"/api/payments/.", 403, "payments"},
		{"/api/payments?x=/public", 403, "payments"},
		{"/api/payments#x", 403, "payments"},
		{"/../api/payments/x", 403, "payments"},
		{"/api/payments%2fx", 400, ""},
		{"/api%2Fpayments/x", 400, ""},
		{"/api%5Cpayments/x", 400, ""},
		{"/api\\payments\\x", 400, ""},
		{"/api/%2570ayments/x", 400, ""},
		{"/api/payments%00/x", 400, ""},
		{"/api/payments;x/y", 400, ""},
		{"/api;/payments/x", 400, ""},
		{"/api/payments./x", 400, ""},
		{"/api/payments%2e/x", 400, ""},
		{"/api/payments%20/x", 400, ""},
		{"/api/pay%zzments", 400, ""},
		{"http://admin.example.com/api/payments/x", 400, ""},
		// Case is significant: /API is another path, judged by the default
		// rule. Upstreams behind the gateway must be case-sensitive.
		{"/API/payments/x", 200, "default"},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			hdr := with(nginxHdr("POST", tt.uri), "X-Forwarded-Host", "www.example.com")
			resp := fx.call(t, http.MethodGet, with(hdr, "Authorization", "Bearer good")...)
			if resp.StatusCode != tt.wantCode {
				t.Errorf("without the scope: status %d, want %d", resp.StatusCode, tt.wantCode)
			}
			resp = fx.call(t, http.MethodGet, with(hdr, "Authorization", "Bearer payer")...)
			if got := resp.Header.Get("X-Auth-Rule"); got != tt.wantRule {
				t.Errorf("with the scope: rule %q (status %d), want %q", got, resp.StatusCode, tt.wantRule)
			}
		})
	}
}

func TestAuthResponses(t *testing.T) {
	fx := newAuthFixture(t, validator.AuthConfig{Routes: testRoutes, TrustedProxies: loopback, Realm: "shop"})
	pay := with(nginxHdr("POST", "/api/payments/1"), "X-Forwarded-Host", "shop.example")
	tests := []struct {
		name     string
		hdr      []string
		wantCode int
		want     map[string]string // header -> exact value; "" = absent
	}{
		{"accepted", with(pay, "Authorization", "Bearer payer"), 200, map[string]string{
			"X-Auth-Subject": "payer-1", "X-Auth-Client-Id": "app", "X-Auth-Scope": "openid read payments:write",
			"X-Auth-Roles": "user,admin,ops", "X-Auth-Decided-By": "introspection", "X-Auth-Rule": "payments",
			"Cache-Control": "no-store", "WWW-Authenticate": "",
		}},
		{"no token", pay, 401, map[string]string{
			"WWW-Authenticate": `Bearer realm="shop"`, "X-Auth-Subject": "",
		}},
		{"other scheme is no token", with(pay, "Authorization", "Basic dTpw"), 401, map[string]string{
			"WWW-Authenticate": `Bearer realm="shop"`,
		}},
		{"bad token", with(pay, "Authorization", "Bearer forged"), 401, map[string]string{
			"WWW-Authenticate": `Bearer realm="shop", error="invalid_token", error_description="the access token is invalid"`,
		}},
		{"expired token", with(pay, "Authorization", "Bearer stale"), 401, map[string]string{
			"WWW-Authenticate": `Bearer realm="shop", error="invalid_token", error_description="token expired"`,
		}},
		{"insufficient scope", with(pay, "Authorization", "Bearer good"), 403, map[string]string{
			"WWW-Authenticate": `Bearer realm="shop", error="insufficient_scope", error_description="required scope missing", scope="payments:write"`,
			"X-Auth-Subject":   "",
		}},
		{"unavailable", with(pay, "Authorization", "Bearer down"), 503, map[string]string{
			"Retry-After": "3", "WWW-Authenticate": "",
		}},
		{"strategy broke its contract", with(pay, "Authorization", "Bearer nilnil"), 401, map[string]string{
			"X-Auth-Rule": "",
		}},
		{"malformed authorization", with(pay, "Authorization", "Bearer a b"), 400, map[string]string{
			"WWW-Authenticate": `Bearer realm="shop", error="invalid_request", error_description="malformed Authorization header"`,
		}},
		{"bad path", with(nginxHdr("POST", "/api/payments%2f1"), "X-Forwarded-Host", "shop.example", "Authorization", "Bearer payer"), 400, map[string]string{
			"WWW-Authenticate": `Bearer realm="shop", error="invalid_request", error_description="request path not accepted: encoded path separator"`,
		}},
		{"public rule", with(nginxHdr("GET", "/healthz"), "X-Forwarded-Host", "shop.example"), 200, map[string]string{
			"X-Auth-Decided-By": "public", "X-Auth-Rule": "health", "X-Auth-Roles": "", "X-Auth-Subject": "",
		}},
		{"identity values are encoded", with(nginxHdr("GET", "/api/x"), "X-Forwarded-Host", "shop.example", "Authorization", "Bearer weird"), 200, map[string]string{
			"X-Auth-Subject":   "%C3%BC%20ser%2C1%3Ax%0D%0A",
			"X-Auth-Client-Id": "my%20app",
			"X-Auth-Scope":     "read x",
			"X-Auth-Roles":     "role%20with%20space,a%2Cb,c%3Ad,%C3%BCn%C3%AF,50%25,my%3Aclient:x%2Cy,my%3Aclient:p%20q,z-app:r",
			"X-Auth-Rule":      "api-read",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodHead} {
				resp := fx.call(t, m, tt.hdr...)
				if resp.StatusCode != tt.wantCode {
					t.Fatalf("%s: status %d, want %d", m, resp.StatusCode, tt.wantCode)
				}
				for k, v := range tt.want {
					if got := resp.Header.Values(k); (v == "" && len(got) > 0 && got[0] != "") || (v != "" && (len(got) != 1 || got[0] != v)) {
						t.Errorf("%s: %s = %q, want %q", m, k, got, v)
					}
				}
			}
		})
	}
	// Every identity header is present on a 200, even when empty, so that a
	// gateway copying them overwrites whatever the client sent.
	resp := fx.call(t, http.MethodGet, with(nginxHdr("GET", "/healthz"), "X-Forwarded-Host", "shop.example")...)
	for _, k := range []string{"X-Auth-Subject", "X-Auth-Client-Id", "X-Auth-Scope", "X-Auth-Roles", "X-Auth-Decided-By", "X-Auth-Rule"} {
		if _, ok := resp.Header[k]; !ok {
			t.Errorf("200 lacks %s", k)
		}
	}
}

func TestAuthHeaderPrefix(t *testing.T) {
	fx := newAuthFixture(t, validator.AuthConfig{HeaderPrefix: "x-user-"})
	resp := fx.call(t, http.MethodGet, "Authorization", "Bearer good")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	want := map[string]string{"X-User-Subject": "u-1", "X-User-Client-Id": "app", "X-User-Scope": "openid read",
		"X-User-Roles": "user,app:reader", "X-User-Decided-By": "local", "X-User-Rule": "default"}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if got := resp.Header.Get("X-Auth-Subject"); got != "" {
		t.Errorf("default-prefixed header still set: %q", got)
	}
}

func TestAuthOnUnavailableOverride(t *testing.T) {
	base := strategy.Func(func(context.Context, strategy.Request) (*strategy.Result, error) {
		return nil, &strategy.Error{Kind: strategy.ErrUnavailable, Reason: strategy.ReasonIDPUnavailable}
	})
	st := &failModeStrat{base: base}
	h, err := validator.NewAuthHandler(map[string]strategy.Strategy{"tiered": st}, validator.AuthConfig{
		TrustedProxies: loopback,
		Routes: []validator.Route{
			{Name: "lenient", Path: "/read/", OnUnavailable: validator.OnUnavailableLocal},
			{Name: "strict", Path: "/pay/", OnUnavailable: validator.OnUnavailableFailClosed},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for uri, want := range map[string]int{"/read/x": 200, "/pay/x": 503, "/other": 503} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set("Authorization", "Bearer t")
		req.Header.Set("X-Forwarded-Method", "GET")
		req.Header.Set("X-Forwarded-Uri", uri)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: status %d, want %d", uri, resp.StatusCode, want)
		}
	}
	if !slices.Equal(st.modes, []string{"local", "fail_closed"}) {
		t.Errorf("WithOnUnavailable calls %v, want one per overriding route", st.modes)
	}
}

// failModeStrat refuses as unavailable unless derived with mode "local".
type failModeStrat struct {
	base  strategy.Strategy
	mode  string
	modes []string
}

func (f *failModeStrat) Validate(ctx context.Context, req strategy.Request) (*strategy.Result, error) {
	if f.mode == "local" {
		return &strategy.Result{Subject: "s", Degraded: true, DecidedBy: strategy.DecidedByLocal}, nil
	}
	return f.base.Validate(ctx, req)
}

func (f *failModeStrat) WithOnUnavailable(mode string) (strategy.Strategy, error) {
	f.modes = append(f.modes, mode)
	return &failModeStrat{base: f.base, mode: mode}, nil
}

func TestNewAuthHandlerErrors(t *testing.T) {
	ok := strategy.Func(func(context.Context, strategy.Request) (*strategy.Result, error) { return &strategy.Result{}, nil })
	two := map[string]strategy.Strategy{"a": ok, "b": ok}
	tests := []struct {
		name       string
		strategies map[string]strategy.Strategy
		cfg        validator.AuthConfig
		want       string
	}{
		{"no strategies", nil, validator.AuthConfig{}, "no strategies"},
		{"nil strategy", map[string]strategy.Strategy{"a": nil}, validator.AuthConfig{}, `"a"`},
		{"ambiguous default", two, validator.AuthConfig{}, "default strategy"},
		{"unknown default", two, validator.AuthConfig{DefaultStrategy: "c"}, "default strategy"},
		{"bad prefix", two, validator.AuthConfig{DefaultStrategy: "a", HeaderPrefix: "X Auth"}, "header prefix"},
		{"bad realm", two, validator.AuthConfig{DefaultStrategy: "a", Realm: `a"b`}, "realm"},
		{"bad proxy", two, validator.AuthConfig{DefaultStrategy: "a", TrustedProxies: []netip.Prefix{{}}}, "trusted proxy"},
		{"override unsupported", two, validator.AuthConfig{DefaultStrategy: "a", Routes: []validator.Route{{Path: "/", OnUnavailable: "local"}}}, "cannot override"},
		{"shadowed", two, validator.AuthConfig{DefaultStrategy: "a", Routes: []validator.Route{{Name: "api", Path: "/api/"}, {Name: "payments", Path: "/api/payments/", Methods: []string{"POST"}}}},
			`routes[1] ("payments") is shadowed by routes[0] ("api")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := validator.NewAuthHandler(tt.strategies, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestAuthLogs: a refusal is logged at info with reason, rule, strategy and
// the token's fingerprint, never the token.
func TestAuthLogs(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewJSONHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	fx := newAuthFixture(t, validator.AuthConfig{Routes: testRoutes, TrustedProxies: loopback}, validator.WithLogger(log))
	const tok = "good"
	resp := fx.call(t, http.MethodGet, with(nginxHdr("DELETE", "/api/payments/9"), "X-Forwarded-Host", "x.example", "Authorization", "Bearer "+tok)...)
	if resp.StatusCode != 403 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	fx.call(t, http.MethodGet, with(nginxHdr("GET", "/api/x"), "X-Forwarded-Host", "x.example", "Authorization", "Bearer "+tok)...)
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	for _, want := range []string{`"level":"INFO"`, `"msg":"forward-auth rejected"`, `"reason":"scope"`, `"rule":"payments"`,
		`"strategy":"strict"`, `"status":403`, `"method":"DELETE"`, `"path":"/api/payments/9"`, `"token_fp":"` + tokenhash.Fingerprint(tok) + `"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Count(out, "\n") != 1 {
		t.Errorf("want exactly one info line (acceptances are debug):\n%s", out)
	}
	if strings.Contains(out, `"`+tok+`"`) || strings.Contains(out, "Bearer") {
		t.Errorf("log contains the token:\n%s", out)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestRolesEncoding(t *testing.T) {
	tests := []struct {
		name   string
		realm  []string
		client map[string][]string
		want   string
	}{
		{"none", nil, nil, ""},
		{"plain", []string{"user", "admin"}, map[string][]string{"app": {"reader", "writer"}}, "user,admin,app:reader,app:writer"},
		{"spaces", []string{"role with space"}, map[string][]string{"my app": {"a b"}}, "role%20with%20space,my%20app:a%20b"},
		{"commas", []string{"a,b"}, map[string][]string{"c,d": {"e,f"}}, "a%2Cb,c%2Cd:e%2Cf"},
		{"colons", []string{"realm:looking"}, map[string][]string{"urn:app": {"x:y"}}, "realm%3Alooking,urn%3Aapp:x%3Ay"},
		{"unicode and percent", []string{"ünï", "100%"}, nil, "%C3%BCn%C3%AF,100%25"},
		{"plus and quotes", []string{`a+b"c'`}, nil, "a%2Bb%22c%27"},
		{"clients sorted", nil, map[string][]string{"b": {"1"}, "a": {"2"}}, "a:2,b:1"},
		{"unreserved kept", []string{"A-z_0.9~"}, nil, "A-z_0.9~"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := validator.EncodeRoles(tt.realm, tt.client)
			if got != tt.want {
				t.Fatalf("EncodeRoles = %q, want %q", got, tt.want)
			}
			realm, client, err := validator.DecodeRoles(got)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(realm, tt.realm) || len(client) != len(tt.client) {
				t.Fatalf("round trip: %q %v, want %q %v", realm, client, tt.realm, tt.client)
			}
			for c, roles := range tt.client {
				if !slices.Equal(client[c], roles) {
					t.Errorf("client %q roles %q, want %q", c, client[c], roles)
				}
			}
		})
	}
	for _, bad := range []string{",", "a,,b", "a:b:c", ":x", "x:", "a%zz", "a b", "a+b"} {
		if _, _, err := validator.DecodeRoles(bad); !errors.Is(err, validator.ErrRolesEncoding) {
			t.Errorf("DecodeRoles(%q) = %v, want ErrRolesEncoding", bad, err)
		}
	}
}
