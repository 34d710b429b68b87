package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/idpsim"
	"github.com/tokenwarden/tokenwarden/internal/app"
)

func reloadConfig(issuer, sensitive, extra string) string {
	return `
issuers:
  - name: dev
    issuer: ` + issuer + `
    authorized_parties: [demo]
    introspection:
      enabled: true
      client_id: demo
      client_secret: {env: TW_RELOAD_SECRET}
strategies:
  tiered:
    type: tiered
    sensitive_scopes: [` + sensitive + `]
default_strategy: tiered
` + extra + restartOff
}

// restartOff: the issuer starts with the test, nothing to watch after "restart".
const restartOff = "revocation:\n  restart_window: false\n"

// TestReload: under a steady load, a changed policy is followed by new
// decisions with no unexpected status; a broken file and a change that
// needs a restart are refused and logged, the old policy stays; SIGHUP
// reloads at once.
func TestReload(t *testing.T) {
	idp, err := idpsim.Start(idpsim.DefaultConfig(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	t.Setenv("TW_RELOAD_SECRET", "demo-secret")
	path := filepath.Join(t.TempDir(), "tw.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(reloadConfig(idp.Issuer("dev"), "payments:write", ""))
	loaded := app.FileDigest(path)
	var logs lockedBuffer
	a, srv := serveFile(t, path, slog.New(slog.NewJSONHandler(&logs, nil)))
	tr, _ := idp.ClientCredentials("dev", "demo")
	body, _ := json.Marshal(map[string]any{"token": tr.AccessToken, "scopes": []string{"openid"}})

	decidedBy := func() (int, string) {
		resp, err := http.Post(srv.URL+"/v1/validate", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		defer resp.Body.Close()
		var m struct {
			DecidedBy string `json:"decided_by"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m.DecidedBy
	}
	if code, by := decidedBy(); code != 200 || by != "local" {
		t.Fatalf("before reload: %d %s", code, by)
	}

	// Steady load during the reloads.
	ctx, cancel := context.WithCancel(context.Background())
	var bad atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if code, _ := decidedBy(); code != 200 {
					bad.Add(1)
				}
			}
		}()
	}

	sighup := make(chan os.Signal, 1)
	signal.Notify(sighup, syscall.SIGHUP)
	defer signal.Stop(sighup)
	startWatch := func(digest [32]byte, every time.Duration) (stop func()) {
		wctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); a.Watch(wctx, path, digest, every, sighup) }()
		return func() { cancel(); <-done }
	}
	stopWatch := startWatch(loaded, 20*time.Millisecond)
	defer func() { stopWatch() }()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; logs:\n%s", what, logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// 1. openid becomes sensitive: tiered now asks the IdP.
	write(reloadConfig(idp.Issuer("dev"), "openid", ""))
	waitFor("the new policy", func() bool { _, by := decidedBy(); return by == "introspection" })

	// 2. A broken file is ignored and logged.
	write(reloadConfig(idp.Issuer("dev"), "payments:write", "bogus_key: 1\n"))
	waitFor("the refusal", func() bool { return strings.Contains(logs.String(), "bogus_key") })
	if _, by := decidedBy(); by != "introspection" {
		t.Fatalf("broken file changed the policy: %s", by)
	}

	// 3. An issuer change needs a restart: refused, nothing half-applied.
	write(strings.Replace(reloadConfig(idp.Issuer("dev"), "payments:write", ""), "restart_window: false", "restart_window: false\n  window: 2h", 1))
	waitFor("restart required", func() bool { return strings.Contains(logs.String(), "restart required") })
	if _, by := decidedBy(); by != "introspection" {
		t.Fatalf("a refused reload changed the policy: %s", by)
	}

	// 4. SIGHUP: reload now (the watcher also notices the content; either way
	// the log says which). Restore a reloadable change and signal.
	stopWatch()
	write(reloadConfig(idp.Issuer("dev"), "payments:write", ""))
	stopWatch = startWatch(app.FileDigest(path), time.Hour)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("SIGHUP reload", func() bool { return strings.Contains(logs.String(), `"cause":"sighup"`) })
	waitFor("the SIGHUP policy", func() bool { _, by := decidedBy(); return by == "local" })

	cancel()
	wg.Wait()
	if n := bad.Load(); n != 0 {
		t.Fatalf("%d requests got an unexpected status during reloads", n)
	}
}

// TestReloadRouteScope: under load on /v1/auth, a route's required scope
// changes; new decisions follow it, and nothing but 200 or 403 is answered.
func TestReloadRouteScope(t *testing.T) {
	idp, err := idpsim.Start(idpsim.DefaultConfig(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	t.Setenv("TW_RELOAD_SECRET", "demo-secret")
	path := filepath.Join(t.TempDir(), "tw.yaml")
	cfgFor := func(scope string) string {
		return reloadConfig(idp.Issuer("dev"), "payments:write", "routes:\n  - name: api\n    path: /api/\n    scopes: ["+scope+"]\n") +
			"server:\n  trusted_proxies: [127.0.0.1/32]\n"
	}
	if err := os.WriteFile(path, []byte(cfgFor("openid")), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded := app.FileDigest(path)
	a, srv := serveFile(t, path, slog.New(slog.DiscardHandler))
	tr, _ := idp.ClientCredentials("dev", "demo")
	auth := func() int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/auth", nil)
		req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
		req.Header.Set("X-Original-Method", "GET")
		req.Header.Set("X-Original-URI", "/api/orders")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := auth(); code != 200 {
		t.Fatalf("before: %d", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var unexpected atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if c := auth(); c != 200 && c != 403 {
					unexpected.Add(1)
				}
			}
		}()
	}
	wctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Watch(wctx, path, loaded, 20*time.Millisecond, nil) }()
	if err := os.WriteFile(path, []byte(cfgFor("admin")), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for auth() != 403 {
		if time.Now().After(deadline) {
			t.Fatal("the new route scope was not applied")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-done
	cancel()
	wg.Wait()
	if n := unexpected.Load(); n != 0 {
		t.Fatalf("%d unexpected statuses during the reload", n)
	}
}
