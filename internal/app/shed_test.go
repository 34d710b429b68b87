package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/idpsim"
	"github.com/tokenwarden/tokenwarden/internal/app"
	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/internal/config"
	"github.com/tokenwarden/tokenwarden/validator"
)

// TestShedding: with the in-flight limit at N and a slow IdP, the N+1th
// concurrent sensitive request is shed with 503 and Retry-After at once,
// instead of queueing without bound.
func TestShedding(t *testing.T) {
	const n = 3
	idp, err := idpsim.Start(idpsim.DefaultConfig(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	t.Setenv("TW_SHED_SECRET", "demo-secret")
	path := filepath.Join(t.TempDir(), "tw.yaml")
	cfgText := strings.Replace(reloadConfig(idp.Issuer("dev"), "payments:write", ""), "client_id: demo", "client_id: demo\n      timeout: 8s", 1)
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TW_RELOAD_SECRET", "demo-secret")
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.Addr, cfg.Server.AdminAddr, cfg.Server.MaxInFlight = "127.0.0.1:0", "127.0.0.1:0", n
	a, err := app.Build(cfg, slog.New(slog.DiscardHandler), clock.Real)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	served := make(chan error, 1)
	go func() {
		served <- validator.Serve(ctx, app.ServerConfig(cfg.Server), a.Service().Handler(), a.Service().AdminHandler(), slog.New(slog.DiscardHandler),
			func(main, _ net.Addr) { addrc <- main.String() })
	}()
	defer func() { cancel(); <-served }()
	base := "http://" + <-addrc

	// Distinct tokens: concurrent introspections of one token coalesce.
	post := func(c *http.Client) (*http.Response, error) {
		tok, err := idp.ClientCredentials("dev", "demo", "payments:write")
		if err != nil {
			return nil, err
		}
		body, _ := json.Marshal(map[string]any{"token": tok.AccessToken, "scopes": []string{"payments:write"}})
		return c.Post(base+"/v1/validate", "application/json", bytes.NewReader(body))
	}
	if resp, err := post(http.DefaultClient); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("healthy: %d %s", resp.StatusCode, b)
		}
	}
	// The IdP now takes 3 s per introspection: sensitive requests pile up.
	idp.SetFault(idpsim.EndpointIntrospect, idpsim.Fault{Latency: 3 * time.Second})
	slow := &http.Client{Timeout: 10 * time.Second}
	results := make(chan int, n)
	for range n {
		go func() {
			resp, err := post(slow)
			if err != nil {
				results <- 0
				return
			}
			resp.Body.Close()
			results <- resp.StatusCode
		}()
	}
	// Wait until the IdP holds all n.
	deadline := time.Now().Add(5 * time.Second)
	for idp.InFlight(idpsim.EndpointIntrospect) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests reached the IdP", idp.InFlight(idpsim.EndpointIntrospect))
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The next one is shed at once (well before the IdP's 3 s).
	fast := &http.Client{Timeout: time.Second}
	resp, err := post(fast)
	if err != nil {
		t.Fatalf("N+1th request was not answered at once: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("N+1th request: %d %v", resp.StatusCode, resp.Header)
	}
	// Health is never shed.
	if resp, err := fast.Get(base + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz under overload: %v %v", err, resp)
	}
	for range n {
		if code := <-results; code != 200 {
			t.Fatalf("a request within the limit got %d", code)
		}
	}
}
