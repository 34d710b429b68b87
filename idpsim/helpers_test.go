package idpsim

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"go.uber.org/goleak"

	"github.com/tokenwarden/tokenwarden/internal/clock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	s   *Server
	ts  *httptest.Server
	clk *clock.Manual
}

// newEnv serves a fresh simulator over loopback HTTP with a manual clock.
func newEnv(t *testing.T, cfg Config, opts ...Option) *env {
	t.Helper()
	clk := clock.NewManual(t0)
	s, err := New(cfg, append([]Option{WithClock(clk)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { _ = s.Close() }) // runs first: releases hanging handlers
	s.SetBaseURL(ts.URL)
	return &env{s: s, ts: ts, clk: clk}
}

// testConfig is DefaultConfig plus clients exercising every switch.
func testConfig(alg string) Config {
	cfg := DefaultConfig()
	r := &cfg.Realms[0]
	r.SigningAlg = alg
	r.Clients = append(r.Clients,
		ClientConfig{ClientID: "api", Secret: "api-secret", ServiceAccounts: true, HeaderTypeRFC9068: true,
			Audiences: []string{"orders-api"}, ServiceAccountRealmRoles: []string{"svc"}},
		ClientConfig{ClientID: "multi", Secret: "multi-secret", ServiceAccounts: true, Audiences: []string{"a", "b"}},
		ClientConfig{ClientID: "light", Secret: "light-secret", ServiceAccounts: true, DirectAccessGrants: true, Lightweight: true},
		ClientConfig{ClientID: "nosa", Secret: "nosa-secret"},
		ClientConfig{ClientID: "rs", Secret: "rs-secret"},
		ClientConfig{ClientID: "we ird:id", Secret: "s:e&c+r%t", ServiceAccounts: true},
	)
	return cfg
}

func (e *env) url(realm, path string) string { return e.ts.URL + "/realms/" + realm + path }

const oidcPath = "/protocol/openid-connect"

type resp struct {
	status int
	header http.Header
	body   string
}

// post sends a form; user/pass != "" adds client_secret_basic (already encoded
// by the caller when testing RFC 6749 encoding).
func (e *env) post(t *testing.T, path string, form url.Values, hdr map[string]string) resp {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url("dev", path), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return do(t, e.ts.Client(), req)
}

func do(t *testing.T, c *http.Client, req *http.Request) resp {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: string(b)}
}

func (e *env) get(t *testing.T, realm, path string) resp {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.url(realm, path), nil)
	return do(t, e.ts.Client(), req)
}

func basic(id, secret string) map[string]string {
	raw := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(raw))}
}

func (e *env) introspect(t *testing.T, token string) resp {
	t.Helper()
	return e.post(t, oidcPath+"/token/introspect", url.Values{"token": {token}}, basic("rs", "rs-secret"))
}

func (e *env) jwks(t *testing.T) jwk.Set {
	t.Helper()
	r := e.get(t, "dev", oidcPath+"/certs")
	set, err := jwk.Parse([]byte(r.body))
	if err != nil {
		t.Fatalf("jwks: %v", err)
	}
	return set
}

// verify checks tok's signature against the published sig key named by its
// kid, the way a resource server would, and returns header and payload.
func verify(t *testing.T, set jwk.Set, tok string) (map[string]any, map[string]any) {
	t.Helper()
	hdr, payload := parts(t, tok)
	key, ok := set.LookupKeyID(hdr["kid"].(string))
	if !ok {
		t.Fatalf("kid %v not in JWKS", hdr["kid"])
	}
	if key.KeyUsage() != "sig" {
		t.Fatalf("key use %q", key.KeyUsage())
	}
	if key.Algorithm().String() != hdr["alg"] {
		t.Fatalf("key alg %v, header alg %v", key.Algorithm(), hdr["alg"])
	}
	if _, err := jws.Verify([]byte(tok), jws.WithKey(jwa.SignatureAlgorithm(key.Algorithm().String()), key)); err != nil {
		t.Fatalf("verify: %v", err)
	}
	return hdr, payload
}

func parts(t *testing.T, tok string) (map[string]any, map[string]any) {
	t.Helper()
	p := strings.Split(tok, ".")
	if len(p) != 3 {
		t.Fatalf("not a compact JWS: %q", tok)
	}
	dec := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	return dec(p[0]), dec(p[1])
}

func jsonBody(t *testing.T, r resp) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

func mustTok(t *testing.T) func(*TokenResponse, error) *TokenResponse {
	return func(tr *TokenResponse, err error) *TokenResponse {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
}

// receiver records back-channel / admin deliveries.
type receiver struct {
	mu   sync.Mutex
	reqs []recorded
	ts   *httptest.Server
}

type recorded struct {
	method, path, contentType string
	body                      string
	form                      url.Values
}

func newReceiver(t *testing.T, status int) *receiver {
	rc := &receiver{}
	rc.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(b))
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, recorded{r.Method, r.URL.Path, r.Header.Get("Content-Type"), string(b), form})
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.ts.Close)
	return rc
}

func (rc *receiver) got() []recorded {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]recorded(nil), rc.reqs...)
}

// waitFor polls cond; it is for reaching a state (requests in flight), never
// for asserting on durations.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(2 * time.Millisecond):
		}
	}
}
