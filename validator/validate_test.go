package validator_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/strategy"
	"github.com/tokenwarden/tokenwarden/validator"
)

var t0 = time.Unix(1700000000, 0)

// fake is a strategy whose verdict depends on the token, and which records
// the requests it saw.
type fake struct {
	name string
	mu   sync.Mutex
	seen []strategy.Request
}

func (f *fake) Validate(_ context.Context, req strategy.Request) (*strategy.Result, error) {
	f.mu.Lock()
	f.seen = append(f.seen, req)
	f.mu.Unlock()
	switch req.Token {
	case "good":
		return &strategy.Result{
			Issuer:      "https://idp.example/realms/demo",
			Subject:     "u1",
			ClientID:    "app",
			SessionID:   "s1",
			TokenID:     "jti-1",
			Scopes:      []string{"openid", "read"},
			RealmRoles:  []string{"user"},
			ClientRoles: map[string][]string{"app": {"admin"}},
			ExpiresAt:   t0.Add(5 * time.Minute),
			IssuedAt:    t0,
			Claims:      []byte(`{"sub":"u1","email":"a@example.com","preferred_username":"alice","secret_claim":"x","nested":{"a":[1,2]}}`),
			Strategy:    f.name,
			DecidedBy:   strategy.DecidedByLocal,
		}, nil
	case "lightweight": // no sub, sid, iat, roles, claims; introspected
		return &strategy.Result{
			Issuer:    "https://idp.example/realms/demo",
			ClientID:  "app",
			ExpiresAt: t0.Add(5 * time.Minute),
			DecidedBy: strategy.DecidedByIntrospection,
			Cached:    true,
			Triggers:  []strategy.Trigger{strategy.TriggerLightweight},
			Degraded:  false,
		}, nil
	case "exp-tok":
		return nil, strategy.NewError(strategy.ErrInactive, strategy.ReasonExpired, "token expired", nil)
	case "revoked":
		return nil, strategy.NewError(strategy.ErrInactive, strategy.ReasonRevoked, "", nil)
	case "badsig":
		return nil, strategy.NewError(strategy.ErrInvalid, strategy.ReasonSignature, "", errors.New("crypto/rsa: verification error"))
	case "quote":
		return nil, strategy.NewError(strategy.ErrInvalid, strategy.ReasonKID, "unknown kid \"k1\" \\ \n é", nil)
	case "opaque":
		return nil, strategy.NewError(strategy.ErrNotApplicable, strategy.ReasonOpaque, "", nil)
	case "noscope":
		return nil, strategy.NewError(strategy.ErrForbidden, strategy.ReasonScope, "missing scope write", nil)
	case "norole":
		return nil, strategy.NewError(strategy.ErrForbidden, strategy.ReasonRole, "", nil)
	case "down":
		return nil, &strategy.Error{Kind: strategy.ErrUnavailable, Reason: strategy.ReasonIDPUnavailable, Detail: "identity provider unavailable", RetryAfter: 1500 * time.Millisecond}
	case "keysdown":
		return nil, fmt.Errorf("wrapped: %w", strategy.NewError(strategy.ErrUnavailable, strategy.ReasonKeysUnavailable, "", nil))
	case "weird":
		return nil, errors.New("boom")
	case "nilnil":
		return nil, nil
	case "both":
		return &strategy.Result{Subject: "u1"}, strategy.NewError(strategy.ErrInvalid, strategy.ReasonAudience, "", nil)
	}
	return nil, strategy.NewError(strategy.ErrInvalid, strategy.ReasonMalformed, "", nil)
}

func (f *fake) requests() []strategy.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]strategy.Request(nil), f.seen...)
}

type fixture struct {
	srv        *httptest.Server
	local, alt *fake
	svc        *validator.Service
}

func newFixture(t *testing.T, mod func(*validator.Config), opts ...validator.Option) *fixture {
	t.Helper()
	fx := &fixture{local: &fake{name: "local"}, alt: &fake{name: "strict"}}
	cfg := validator.Config{
		Strategies:      map[string]strategy.Strategy{"local": fx.local, "strict": fx.alt},
		DefaultStrategy: "local",
		ExposeClaims:    []string{"email", "preferred_username", "not_in_token"},
		MaxBodyBytes:    256,
	}
	if mod != nil {
		mod(&cfg)
	}
	svc, err := validator.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	fx.svc = svc
	fx.srv = httptest.NewServer(svc.Handler())
	t.Cleanup(fx.srv.Close)
	return fx
}

type call struct {
	method  string
	path    string
	header  http.Header
	body    string
	ctype   string // default application/json when body is set
	chunked bool   // send the body without Content-Length
}

type answer struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, c *http.Client, base string, in call) answer {
	t.Helper()
	got, err := doErr(c, base, in)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// doErr is do for goroutines other than the test's, which must not call t.Fatal.
func doErr(c *http.Client, base string, in call) (answer, error) {
	if in.method == "" {
		in.method = http.MethodPost
	}
	if in.path == "" {
		in.path = "/v1/validate"
	}
	var body io.Reader
	if in.body != "" {
		body = strings.NewReader(in.body)
		if in.chunked {
			body = io.MultiReader(body) // hides the length: chunked encoding
		}
	}
	req, err := http.NewRequest(in.method, base+in.path, body)
	if err != nil {
		return answer{}, err
	}
	for k, vs := range in.header {
		req.Header[k] = vs
	}
	if in.body != "" {
		ct := in.ctype
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: strings.TrimSuffix(string(b), "\n")}, nil
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

const goodBody = `{"active":true,"sub":"u1","client_id":"app","sid":"s1","scope":"openid read","realm_roles":["user"],"client_roles":{"app":["admin"]},"exp":1700000300,"iat":1700000000,"iss":"https://idp.example/realms/demo","strategy":"local","decided_by":"local","cached":false,"triggers":[],"degraded":false,"claims":{"email":"a@example.com","preferred_username":"alice"}}`

func TestValidate(t *testing.T) {
	const (
		noTokenChallenge = `Bearer realm="tokenwarden"`
		badRequest       = `Bearer realm="tokenwarden", error="invalid_request", error_description=`
	)
	tests := []struct {
		name       string
		cfg        func(*validator.Config)
		call       call
		wantStatus int
		wantHeader map[string]string // "" asserts absence
		wantBody   string
	}{
		{
			name:       "accepted",
			call:       call{header: bearer("good")},
			wantStatus: 200,
			wantHeader: map[string]string{"WWW-Authenticate": "", "Retry-After": ""},
			wantBody:   goodBody,
		},
		{
			name:       "accepted, lowercase scheme",
			call:       call{header: http.Header{"Authorization": {"bearer good"}}},
			wantStatus: 200,
			wantBody:   goodBody,
		},
		{
			name:       "accepted, token in body",
			call:       call{body: `{"token":"good"}`},
			wantStatus: 200,
			wantBody:   goodBody,
		},
		{
			name:       "accepted, content type with parameters",
			call:       call{body: `{"token":"good"}`, ctype: "application/json; charset=utf-8"},
			wantStatus: 200,
			wantBody:   goodBody,
		},
		{
			name:       "accepted, header token and body requirements",
			call:       call{header: bearer("good"), body: `{"scopes":["read"],"roles":["user"],"sensitive":true}`},
			wantStatus: 200,
			wantBody:   goodBody,
		},
		{
			name:       "accepted, sparse result keeps the shape",
			call:       call{header: bearer("lightweight")},
			wantStatus: 200,
			wantBody:   `{"active":true,"sub":"","client_id":"app","scope":"","realm_roles":[],"client_roles":{},"exp":1700000300,"iss":"https://idp.example/realms/demo","strategy":"local","decided_by":"introspection","cached":true,"triggers":["lightweight"],"degraded":false,"claims":{}}`,
		},
		{
			name:       "accepted, no exposed claims configured",
			cfg:        func(c *validator.Config) { c.ExposeClaims = nil },
			call:       call{header: bearer("good")},
			wantStatus: 200,
			wantBody:   strings.Replace(goodBody, `{"email":"a@example.com","preferred_username":"alice"}`, `{}`, 1),
		},
		{
			name:       "accepted, nested claim exposed",
			cfg:        func(c *validator.Config) { c.ExposeClaims = []string{"nested"} },
			call:       call{header: bearer("good")},
			wantStatus: 200,
			wantBody:   strings.Replace(goodBody, `{"email":"a@example.com","preferred_username":"alice"}`, `{"nested":{"a":[1,2]}}`, 1),
		},
		{
			name:       "no token",
			call:       call{},
			wantStatus: 401,
			wantHeader: map[string]string{"WWW-Authenticate": noTokenChallenge},
			wantBody:   `{"active":false}`,
		},
		{
			name:       "other auth scheme counts as no token",
			call:       call{header: http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}},
			wantStatus: 401,
			wantHeader: map[string]string{"WWW-Authenticate": noTokenChallenge},
			wantBody:   `{"active":false}`,
		},
		{
			name:       "body without token",
			call:       call{body: `{"scopes":["read"]}`},
			wantStatus: 401,
			wantHeader: map[string]string{"WWW-Authenticate": noTokenChallenge},
			wantBody:   `{"active":false}`,
		},
		{
			name:       "invalid, generic description",
			call:       call{header: bearer("badsig")},
			wantStatus: 401,
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="tokenwarden", error="invalid_token", error_description="the access token is invalid"`},
			wantBody:   `{"active":false,"error":"invalid_token","error_description":"the access token is invalid","reason":"signature"}`,
		},
		{
			name:       "invalid, description made header-safe",
			call:       call{header: bearer("quote")},
			wantStatus: 401,
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="tokenwarden", error="invalid_token", error_description="unknown kid 'k1' / ? ??"`},
			wantBody:   `{"active":false,"error":"invalid_token","error_description":"unknown kid \"k1\" \\ \n é","reason":"kid"}`,
		},
		{
			name:       "inactive, expired",
			call:       call{header: bearer("exp-tok")},
			wantStatus: 401,
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="tokenwarden", error="invalid_token", error_description="token expired"`},
			wantBody:   `{"active":false,"error":"invalid_token","error_description":"token expired","reason":"exp"}`,
		},
		{
			name:       "inactive, revoked",
			call:       call{header: bearer("revoked")},
			wantStatus: 401,
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="tokenwarden", error="invalid_token", error_description="the access token is not active"`},
			wantBody:   `{"active":false,"error":"invalid_token","error_description":"the access token is not active","reason":"revoked"}`,
		},
		{
			name:       "not applicable",
			call:       call{header: bearer("opaque")},
			wantStatus: 401,
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="tokenwarden", error="invalid_token", error_description="the access token cannot be validated"`},
			wantBody:   `{"active":false,"error":"invalid_token","error_description":"the access token cannot be validated","reason":"opaque"}`,
		},
		{
			name:       "forbidden, required scopes in challenge",
			call:       call{header: bearer("noscope"), body: `{"scopes":["read","write"]}`},
			wantStatus: 403,
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="tokenwarden", error="insufficient_scope", error_description="missing scope write", scope="read write"`},
			wantBody:   `{"active":false,"error":"insufficient_scope","error_description":"missing scope write","reason":"scope","scope":"read write"}`,
		},
		{
			name:       "forbidden, role only: no scope attribute",
			call:       call{header: bearer("norole"), body: `{"roles":["app:admin"]}`},
			wantStatus: 403,
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="tokenwarden", error="insufficient_scope", error_description="the access token lacks a required scope or role"`},
			wantBody:   `{"active":false,"error":"insufficient_scope","error_description":"the access token lacks a required scope or role","reason":"role"}`,
		},
		{
			name:       "unavailable, Retry-After rounded up",
			call:       call{header: bearer("down")},
			wantStatus: 503,
			wantHeader: map[string]string{"WWW-Authenticate": "", "Retry-After": "2"},
			wantBody:   `{"active":false,"error":"temporarily_unavailable","error_description":"identity provider unavailable","reason":"idp_unavailable"}`,
		},
		{
			name:       "unavailable, wrapped, default Retry-After",
			call:       call{header: bearer("keysdown")},
			wantStatus: 503,
			wantHeader: map[string]string{"WWW-Authenticate": "", "Retry-After": "1"},
			wantBody:   `{"active":false,"error":"temporarily_unavailable","error_description":"token validation is temporarily unavailable","reason":"keys_unavailable"}`,
		},
		{
			name:       "unknown error is invalid",
			call:       call{header: bearer("weird")},
			wantStatus: 401,
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="tokenwarden", error="invalid_token", error_description="the access token is invalid"`},
			wantBody:   `{"active":false,"error":"invalid_token","error_description":"the access token is invalid"}`,
		},
		{
			name:       "nil result and nil error is invalid",
			call:       call{header: bearer("nilnil")},
			wantStatus: 401,
			wantBody:   `{"active":false,"error":"invalid_token","error_description":"the access token is invalid"}`,
		},
		{
			name:       "result with error: the error wins",
			call:       call{header: bearer("both")},
			wantStatus: 401,
			wantBody:   `{"active":false,"error":"invalid_token","error_description":"the access token is invalid","reason":"aud"}`,
		},
		{
			name:       "two Authorization headers",
			call:       call{header: http.Header{"Authorization": {"Bearer good", "Bearer good"}}},
			wantStatus: 400,
			wantHeader: map[string]string{"WWW-Authenticate": badRequest + `"multiple Authorization headers"`},
			wantBody:   `{"active":false,"error":"invalid_request","error_description":"multiple Authorization headers"}`,
		},
		{
			name:       "malformed bearer token",
			call:       call{header: http.Header{"Authorization": {`Bearer "good"`}}},
			wantStatus: 400,
			wantHeader: map[string]string{"WWW-Authenticate": badRequest + `"malformed Authorization header"`},
			wantBody:   `{"active":false,"error":"invalid_request","error_description":"malformed Authorization header"}`,
		},
		{
			name:       "malformed body token",
			call:       call{body: `{"token":"go od"}`},
			wantStatus: 400,
			wantBody:   `{"active":false,"error":"invalid_request","error_description":"malformed token"}`,
		},
		{
			name:       "token in header and body",
			call:       call{header: bearer("good"), body: `{"token":"good"}`},
			wantStatus: 400,
			wantHeader: map[string]string{"WWW-Authenticate": badRequest + `"token in both Authorization header and body"`},
			wantBody:   `{"active":false,"error":"invalid_request","error_description":"token in both Authorization header and body"}`,
		},
		{
			name:       "strategy override disabled",
			call:       call{header: bearer("good"), body: `{"strategy":"strict"}`},
			wantStatus: 400,
			wantBody:   `{"active":false,"error":"invalid_request","error_description":"strategy override disabled"}`,
		},
		{
			name:       "strategy override enabled",
			cfg:        func(c *validator.Config) { c.AllowStrategyOverride = true },
			call:       call{header: bearer("good"), body: `{"strategy":"strict"}`},
			wantStatus: 200,
			wantBody:   strings.Replace(goodBody, `"strategy":"local"`, `"strategy":"strict"`, 1),
		},
		{
			name:       "strategy override to unknown strategy",
			cfg:        func(c *validator.Config) { c.AllowStrategyOverride = true },
			call:       call{header: bearer("good"), body: `{"strategy":"nope"}`},
			wantStatus: 400,
			wantBody:   `{"active":false,"error":"invalid_request","error_description":"unknown strategy"}`,
		},
		{
			name:       "unknown JSON field",
			call:       call{body: `{"token":"good","tokn":"x"}`},
			wantStatus: 400,
			wantBody:   `{"active":false,"error":"invalid_request","error_description":"malformed JSON body: unknown field \"tokn\""}`,
		},
		{
			name:       "trailing data",
			call:       call{body: `{"token":"good"}{}`},
			wantStatus: 400,
			wantBody:   `{"active":false,"error":"invalid_request","error_description":"trailing data after JSON body"}`,
		},
		{
			name:       "not JSON",
			call:       call{body: `{"token":`},
			wantStatus: 400,
			wantBody:   `{"active":false,"error":"invalid_request","error_description":"malformed JSON body: unexpected EOF"}`,
		},
		{
			name:       "wrong JSON type",
			call:       call{body: `{"scopes":"read"}`, header: bearer("good")},
			wantStatus: 400,
			wantBody:   `{"active":false,"error":"invalid_request","error_description":"malformed JSON body: cannot unmarshal string into Go struct field ValidateRequest.scopes of type []string"}`,
		},
		{
			name:       "invalid scope token",
			call:       call{body: `{"scopes":["a b"]}`, header: bearer("good")},
			wantStatus: 400,
			wantBody:   `{"active":false,"error":"invalid_request","error_description":"scopes must be scope-tokens (RFC 6749 §3.3)"}`,
		},
		{
			name:       "body not JSON content type",
			call:       call{body: `token=good`, ctype: "application/x-www-form-urlencoded"},
			wantStatus: 415,
			wantHeader: map[string]string{"WWW-Authenticate": ""},
			wantBody:   `{"active":false,"error":"invalid_request","error_description":"request body must be application/json"}`,
		},
		{
			name:       "oversized body with length",
			call:       call{body: `{"token":"` + strings.Repeat("a", 300) + `"}`},
			wantStatus: 413,
			wantHeader: map[string]string{"WWW-Authenticate": ""},
			wantBody:   `{"active":false,"error":"invalid_request","error_description":"request body too large"}`,
		},
		{
			name:       "oversized body, chunked",
			call:       call{body: `{"token":"` + strings.Repeat("a", 300) + `"}`, chunked: true},
			wantStatus: 413,
			wantBody:   `{"active":false,"error":"invalid_request","error_description":"request body too large"}`,
		},
		{
			name:       "GET is not allowed",
			call:       call{method: http.MethodGet, header: bearer("good")},
			wantStatus: 405,
			wantHeader: map[string]string{"Allow": "POST"},
			wantBody:   `{"active":false,"error":"invalid_request","error_description":"method not allowed"}`,
		},
		{
			name:       "custom realm",
			cfg:        func(c *validator.Config) { c.Realm = "api" },
			call:       call{},
			wantStatus: 401,
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="api"`},
			wantBody:   `{"active":false}`,
		},
		{
			name:       "unknown path",
			call:       call{path: "/v1/nope"},
			wantStatus: 404,
			wantBody:   `{"active":false,"error":"not_found"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, tt.cfg)
			got := do(t, fx.srv.Client(), fx.srv.URL, tt.call)
			checkAnswer(t, got, tt.wantStatus, tt.wantHeader, tt.wantBody)
		})
	}
}

func checkAnswer(t *testing.T, got answer, wantStatus int, wantHeader map[string]string, wantBody string) {
	t.Helper()
	if got.status != wantStatus {
		t.Errorf("status = %d, want %d", got.status, wantStatus)
	}
	want := map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"}
	for k, v := range wantHeader {
		want[k] = v
	}
	for k, v := range want {
		if vs := got.header.Values(k); v == "" && len(vs) != 0 || v != "" && (len(vs) != 1 || vs[0] != v) {
			t.Errorf("header %s = %q, want %q", k, vs, v)
		}
	}
	if got.body != wantBody {
		t.Errorf("body =\n%s\nwant\n%s", got.body, wantBody)
	}
}

func TestValidatePassesRequest(t *testing.T) {
	fx := newFixture(t, func(c *validator.Config) { c.AllowStrategyOverride = true })
	c := fx.srv.Client()
	do(t, c, fx.srv.URL, call{header: bearer("good"), body: `{"scopes":["read","write"],"roles":["user","app:admin"],"sensitive":true}`})
	do(t, c, fx.srv.URL, call{body: `{"token":"good","strategy":"strict"}`})

	got := fx.local.requests()
	if len(got) != 1 {
		t.Fatalf("default strategy saw %d requests, want 1", len(got))
	}
	r := got[0]
	if r.Token != "good" || strings.Join(r.Scopes, ",") != "read,write" || strings.Join(r.Roles, ",") != "user,app:admin" || !r.Sensitive {
		t.Errorf("request = %+v", r)
	}
	if alt := fx.alt.requests(); len(alt) != 1 || alt[0].Token != "good" || alt[0].Sensitive {
		t.Errorf("override strategy saw %+v", alt)
	}
}

func TestValidateRejectsBeforeStrategy(t *testing.T) {
	fx := newFixture(t, nil)
	c := fx.srv.Client()
	for _, in := range []call{
		{},
		{header: http.Header{"Authorization": {"Bearer a", "Bearer b"}}},
		{header: bearer("good"), body: `{"token":"good"}`},
		{header: bearer("good"), body: `{"strategy":"strict"}`},
		{method: http.MethodPut, header: bearer("good")},
	} {
		do(t, c, fx.srv.URL, in)
	}
	if n := len(fx.local.requests()) + len(fx.alt.requests()); n != 0 {
		t.Errorf("strategies called %d times for bad requests", n)
	}
}

func TestAPIKeys(t *testing.T) {
	fx := newFixture(t, func(c *validator.Config) { c.APIKeys = [][]byte{[]byte("key-one"), []byte("key-two")} })
	const unauthorized = `{"active":false,"error":"unauthorized_caller"}`
	tests := []struct {
		name       string
		keys       []string
		wantStatus int
		wantBody   string
	}{
		{name: "missing", keys: nil, wantStatus: 401, wantBody: unauthorized},
		{name: "empty", keys: []string{""}, wantStatus: 401, wantBody: unauthorized},
		{name: "wrong", keys: []string{"key-three"}, wantStatus: 401, wantBody: unauthorized},
		{name: "prefix of a key", keys: []string{"key-"}, wantStatus: 401, wantBody: unauthorized},
		{name: "two headers", keys: []string{"key-one", "key-one"}, wantStatus: 401, wantBody: unauthorized},
		{name: "first key", keys: []string{"key-one"}, wantStatus: 200, wantBody: goodBody},
		{name: "second key", keys: []string{"key-two"}, wantStatus: 200, wantBody: goodBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := bearer("good")
			for _, k := range tt.keys {
				h.Add("X-API-Key", k)
			}
			got := do(t, fx.srv.Client(), fx.srv.URL, call{header: h})
			wantHeader := map[string]string{"WWW-Authenticate": ""}
			if tt.wantStatus == 401 {
				wantHeader["WWW-Authenticate"] = `APIKey realm="tokenwarden"`
			}
			checkAnswer(t, got, tt.wantStatus, wantHeader, tt.wantBody)
		})
	}
	if n := len(fx.local.requests()); n != 2 {
		t.Errorf("strategy called %d times, want 2 (only with a right key)", n)
	}
	// Health stays open for probes.
	got := do(t, fx.srv.Client(), fx.srv.URL, call{method: http.MethodGet, path: "/healthz"})
	checkAnswer(t, got, 200, nil, `{"status":"ok"}`)
}

func TestHealth(t *testing.T) {
	var mu sync.Mutex
	ready := false
	fx := newFixture(t, func(c *validator.Config) {
		c.Ready = func() bool { mu.Lock(); defer mu.Unlock(); return ready }
		c.Metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "# metrics\n") })
	})
	admin := httptest.NewServer(fx.svc.AdminHandler())
	t.Cleanup(admin.Close)
	fx.svc.HandleAdmin("POST /v1/revocations", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))

	for _, base := range []string{fx.srv.URL, admin.URL} {
		c := fx.srv.Client()
		checkAnswer(t, do(t, c, base, call{method: http.MethodGet, path: "/healthz"}), 200, nil, `{"status":"ok"}`)
		checkAnswer(t, do(t, c, base, call{method: http.MethodGet, path: "/readyz"}), 503, nil, `{"status":"not ready"}`)
		checkAnswer(t, do(t, c, base, call{method: http.MethodPost, path: "/healthz"}), 405, map[string]string{"Allow": "GET, HEAD"},
			`{"active":false,"error":"invalid_request","error_description":"method not allowed"}`)
	}
	mu.Lock()
	ready = true
	mu.Unlock()
	for _, base := range []string{fx.srv.URL, admin.URL} {
		checkAnswer(t, do(t, fx.srv.Client(), base, call{method: http.MethodGet, path: "/readyz"}), 200, nil, `{"status":"ok"}`)
	}

	// Admin only: metrics and registered handlers; main has neither.
	got := do(t, fx.srv.Client(), admin.URL, call{method: http.MethodGet, path: "/metrics"})
	if got.status != 200 || got.body != "# metrics" || got.header.Get("Cache-Control") != "no-store" {
		t.Errorf("admin /metrics = %d %q %v", got.status, got.body, got.header)
	}
	if got := do(t, fx.srv.Client(), admin.URL, call{path: "/v1/revocations"}); got.status != http.StatusAccepted {
		t.Errorf("admin registered handler = %d", got.status)
	}
	for _, p := range []string{"/metrics", "/v1/revocations"} {
		checkAnswer(t, do(t, fx.srv.Client(), fx.srv.URL, call{method: http.MethodGet, path: p}), 404, nil, `{"active":false,"error":"not_found"}`)
	}
	if got := do(t, fx.srv.Client(), admin.URL, call{path: "/v1/validate", header: bearer("good")}); got.status != 404 {
		t.Errorf("admin /v1/validate = %d, want 404", got.status)
	}
}

func TestMetricsNil(t *testing.T) {
	fx := newFixture(t, nil)
	admin := httptest.NewServer(fx.svc.AdminHandler())
	t.Cleanup(admin.Close)
	checkAnswer(t, do(t, admin.Client(), admin.URL, call{method: http.MethodGet, path: "/metrics"}), 404, nil, `{"active":false,"error":"not_found"}`)
}

func TestNew(t *testing.T) {
	st := strategy.Func(func(context.Context, strategy.Request) (*strategy.Result, error) { return nil, nil })
	one := map[string]strategy.Strategy{"only": st}
	tests := []struct {
		name    string
		cfg     validator.Config
		wantErr bool
	}{
		{name: "single strategy is the default", cfg: validator.Config{Strategies: one}},
		{name: "no strategies", cfg: validator.Config{}, wantErr: true},
		{name: "nil strategy", cfg: validator.Config{Strategies: map[string]strategy.Strategy{"a": nil}, DefaultStrategy: "a"}, wantErr: true},
		{name: "unknown default", cfg: validator.Config{Strategies: one, DefaultStrategy: "other"}, wantErr: true},
		{name: "ambiguous default", cfg: validator.Config{Strategies: map[string]strategy.Strategy{"a": st, "b": st}}, wantErr: true},
		{name: "negative body bound", cfg: validator.Config{Strategies: one, MaxBodyBytes: -1}, wantErr: true},
		{name: "empty API key", cfg: validator.Config{Strategies: one, APIKeys: [][]byte{{}}}, wantErr: true},
		{name: "empty claim name", cfg: validator.Config{Strategies: one, ExposeClaims: []string{""}}, wantErr: true},
		{name: "quote in realm", cfg: validator.Config{Strategies: one, Realm: `a"b`}, wantErr: true},
		{name: "newline in realm", cfg: validator.Config{Strategies: one, Realm: "a\nb"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := validator.New(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}
