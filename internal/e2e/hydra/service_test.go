package hydra_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/tokenwarden/tokenwarden/internal/app"
	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/internal/config"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// The addresses configs/hydra.yaml is written for (PEERS.md); the test
// replaces them with the running Hydra's.
const (
	shippedPublic = "http://127.0.0.1:4444"
	shippedAdmin  = "http://127.0.0.1:4445"
)

// loadShippedConfig loads configs/hydra.yaml through internal/config with
// Hydra's real addresses substituted. The only other change is a command-line
// override, as `tokenwarden serve --server.allow_strategy_override=true`
// would give: it lets each request name the strategy under test.
func loadShippedConfig(t *testing.T, h *hydra) *config.Config {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "configs", "hydra.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, p := range []string{shippedPublic, shippedAdmin} {
		if !strings.Contains(s, p) {
			t.Fatalf("configs/hydra.yaml lacks %s: the test and the shipped file have drifted", p)
		}
	}
	// The admin address first: it is not a prefix of the public one, but
	// keep the replacement order obvious.
	s = strings.ReplaceAll(s, shippedAdmin, h.admin)
	s = strings.ReplaceAll(s, shippedPublic, h.public)
	path := filepath.Join(t.TempDir(), "hydra.yaml")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.Bool("server.allow_strategy_override", false, "")
	if err := fs.Set("server.allow_strategy_override", "true"); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, fs)
	if err != nil {
		t.Fatalf("configs/hydra.yaml: %v", err)
	}
	if !cfg.Server.AllowStrategyOverride {
		t.Fatal("the strategy override flag was not applied")
	}
	return cfg
}

// tw is one tokenwarden, in-process, wired by internal/app exactly as
// `tokenwarden serve` wires it and serving the validate API over loopback
// HTTP. The HTTP client of its JWKS resolver and introspection client counts
// the requests they send to Hydra.
type tw struct {
	cfg   *config.Config
	url   string // the validate listener
	store *revocation.Memory

	jwksFetches atomic.Int64 // GET .../jwks.json
	introCalls  atomic.Int64 // POST .../introspect
}

// countingTransport counts the JWKS fetches and the introspection calls.
type countingTransport struct {
	base http.RoundTripper
	s    *tw
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/jwks.json"):
		c.s.jwksFetches.Add(1)
	case strings.HasSuffix(r.URL.Path, "/introspect"):
		c.s.introCalls.Add(1)
	}
	return c.base.RoundTrip(r)
}

// newTW builds tokenwarden from the shipped config with app.Build (the
// wiring of cmd/tokenwarden), its calls to Hydra counted through
// app.WithHTTPClient, starts key loading and waits until /readyz says the
// keys are loaded: discovery (issuer equality) and the JWKS of the real
// Hydra have been accepted.
//
// It then waits for the next whole second: tokens minted afterwards carry an
// iat (whole seconds) not before the revocation store's start, so they are
// outside the restart window (revocation.restart_window, default on).
func newTW(t *testing.T, h *hydra) *tw {
	t.Helper()
	cfg := loadShippedConfig(t, h)
	s := &tw{cfg: cfg}
	tl := &testWriter{t: t}
	t.Cleanup(func() { tl.done.Store(true) }) // runs last: nothing logs to t after the test
	log := slog.New(slog.NewTextHandler(tl, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// One transport per service, closed with it: no idle connection (and
	// no goroutine) outlives the test.
	base := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(base.CloseIdleConnections)
	a, err := app.Build(cfg, log, clock.Real, app.WithHTTPClient(&http.Client{Transport: &countingTransport{base, s}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	s.store = a.Store()
	srv := httptest.NewServer(a.Service().Handler())
	t.Cleanup(srv.Close)
	s.url = srv.URL
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	a.Start(ctx)

	s.waitReady(t)
	time.Sleep(time.Until(s.store.Started().Truncate(time.Second).Add(time.Second)))
	return s
}

// waitReady polls /readyz until every issuer's keys loaded once.
func (s *tw) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get(s.url + "/readyz")
		if err == nil {
			drainClose(resp)
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("tokenwarden not ready (keys from Hydra not loaded): %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// verdict is a /v1/validate answer: the 200 body or the error body.
type verdict struct {
	Status    int
	Active    bool     `json:"active"`
	Sub       string   `json:"sub"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope"`
	Iss       string   `json:"iss"`
	Exp       int64    `json:"exp"`
	Strategy  string   `json:"strategy"`
	DecidedBy string   `json:"decided_by"`
	Cached    bool     `json:"cached"`
	Triggers  []string `json:"triggers"`
	Degraded  bool     `json:"degraded"`
	Error     string   `json:"error"`
	Reason    string   `json:"reason"`
	Body      string   `json:"-"`
}

func (v verdict) String() string { return fmt.Sprintf("%d %s", v.Status, v.Body) }

// ask is one validate request.
type ask struct {
	strategy  string
	scopes    []string
	sensitive bool
}

// validate asks tokenwarden about token over HTTP (POST /v1/validate with
// a JSON body naming the strategy).
func (s *tw) validate(t *testing.T, token string, a ask) verdict {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"token": token, "strategy": a.strategy, "scopes": a.scopes, "sensitive": a.sensitive,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/v1/validate", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	v := verdict{Status: resp.StatusCode, Body: string(b)}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("validate: HTTP %d, not JSON: %s", resp.StatusCode, b)
	}
	if v.Active != (resp.StatusCode == http.StatusOK) {
		t.Fatalf("validate: HTTP %d with active %v: %s", resp.StatusCode, v.Active, b)
	}
	if resp.StatusCode == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("401 without a Bearer challenge: %q", resp.Header.Get("WWW-Authenticate"))
	}
	return v
}

// testWriter sends the service's warnings to the test log, until the test
// is over.
type testWriter struct {
	t    *testing.T
	done atomic.Bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
