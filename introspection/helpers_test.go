package introspection

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/idpsim"
	"github.com/tokenwarden/tokenwarden/internal/clock"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// recorded is one request as the fake IdP saw it.
type recorded struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Form                   url.Values
	Body                   string
}

// fakeIdP is an httptest introspection endpoint that records every request
// and answers with handler (default: active demo answer).
type fakeIdP struct {
	*httptest.Server
	calls atomic.Int64

	mu      sync.Mutex
	reqs    []recorded
	handler http.HandlerFunc
}

func newFakeIdP(t testing.TB, h http.HandlerFunc) *fakeIdP {
	t.Helper()
	f := &fakeIdP{handler: h}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		form, _ := url.ParseQuery(string(body))
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Form: form, Body: string(body)})
		h := f.handler
		f.mu.Unlock()
		if h == nil {
			writeJSON(w, http.StatusOK, map[string]any{"active": true, "client_id": "demo"})
			return
		}
		h(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeIdP) setHandler(h http.HandlerFunc) {
	f.mu.Lock()
	f.handler = h
	f.mu.Unlock()
}

func (f *fakeIdP) last(t testing.TB) recorded {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("no request recorded")
	}
	return f.reqs[len(f.reqs)-1]
}

func (f *fakeIdP) endpoint() string { return f.URL + "/introspect" }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeRaw(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// activeUntil answers active with exp = exp.
func activeUntil(exp time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"active": true, "client_id": "demo", "exp": exp.Unix()})
	}
}

// gate blocks handlers until opened; entered counts requests that reached it.
type gate struct {
	ch      chan struct{}
	once    sync.Once
	entered chan struct{}
}

func newGate() *gate { return &gate{ch: make(chan struct{}), entered: make(chan struct{}, 1024)} }

func (g *gate) open() { g.once.Do(func() { close(g.ch) }) }

func (g *gate) wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case g.entered <- struct{}{}:
		default:
		}
		select {
		case <-g.ch:
		case <-r.Context().Done():
			return
		}
		h(w, r)
	}
}

// basicCfg is a client_secret_basic config for endpoint.
func basicCfg(endpoint string) Config {
	return Config{Name: "test", Endpoint: endpoint, ClientID: "demo", ClientSecret: []byte("demo-secret")}
}

func newClient(t testing.TB, cfg Config, opts ...Option) *Client {
	t.Helper()
	c, err := New(cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func startIdpsim(t testing.TB, opts ...idpsim.Option) *idpsim.Server {
	t.Helper()
	srv, err := idpsim.Start(idpsim.DefaultConfig(), "127.0.0.1:0", opts...)
	if err != nil {
		t.Fatalf("idpsim.Start: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func introspectURL(srv *idpsim.Server) string {
	return srv.Issuer("dev") + "/protocol/openid-connect/token/introspect"
}

// waitFor polls cond until it holds (or fails the test after a generous
// deadline). It never asserts on how long anything took.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

var bg = context.Background()

var _ clock.Clock = (*clock.Manual)(nil)
