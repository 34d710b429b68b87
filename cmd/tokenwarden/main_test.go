package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tokenwarden/tokenwarden/idpsim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is an io.Writer safe for the dev command's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var curlRe = regexp.MustCompile(`^curl -s -X POST -H '([^']+)' (\S+)$`)

// TestDev runs `tokenwarden dev` as `make run` does (on free ports), then
// replays the printed curl line: it must get 200 with active true.
func TestDev(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runDev(ctx, devAddrs{addr: "127.0.0.1:0", admin: "127.0.0.1:0", idp: "127.0.0.1:0"}, out)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dev returned %v", err)
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "curl -s %s/metrics") && !strings.Contains(out.String(), "/metrics |") {
		if time.Now().After(deadline) {
			t.Fatalf("dev printed no instructions: %q", out.String())
		}
		select {
		case err := <-done:
			t.Fatalf("dev exited early: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	vars := map[string]string{}
	var curl string
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if k, v, ok := strings.Cut(line, "="); ok && regexp.MustCompile(`^[A-Z_]+$`).MatchString(k) {
			vars[k] = v
		}
		if curl == "" && curlRe.MatchString(line) {
			curl = line
		}
	}
	for _, k := range []string{"ISSUER", "VALIDATE_URL", "ADMIN_URL", "TOKEN"} {
		if vars[k] == "" {
			t.Fatalf("dev did not print %s: %q", k, out.String())
		}
	}
	m := curlRe.FindStringSubmatch(curl)
	if m == nil {
		t.Fatalf("no curl line in %q", out.String())
	}
	if !strings.Contains(m[1], vars["TOKEN"]) || m[2] != vars["VALIDATE_URL"] {
		t.Fatalf("curl line does not validate TOKEN at VALIDATE_URL: %q", curl)
	}
	name, value, _ := strings.Cut(m[1], ": ")
	req, _ := http.NewRequest(http.MethodPost, m[2], nil)
	req.Header.Set(name, value)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("printed curl got %d: %s", resp.StatusCode, body)
	}
	var got struct {
		Active   bool   `json:"active"`
		ClientID string `json:"client_id"`
		Iss      string `json:"iss"`
	}
	if err := json.Unmarshal(body, &got); err != nil || !got.Active || got.ClientID != "demo" || got.Iss != vars["ISSUER"] {
		t.Fatalf("unexpected body %s (%v)", body, err)
	}
	// The same token judged by the IdP (strategy override is on in dev).
	req, _ = http.NewRequest(http.MethodPost, vars["VALIDATE_URL"], strings.NewReader(`{"token":"`+vars["TOKEN"]+`","strategy":"introspection"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"decided_by":"introspection"`)) {
		t.Fatalf("introspection strategy: %d %s", resp.StatusCode, body)
	}
	// The admin listener serves metrics with the decision just made.
	resp, err = http.Get(vars["ADMIN_URL"] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(metrics, []byte(`tokenwarden_decisions_total{decided_by="local",outcome="accepted",strategy="tiered"} 1`)) {
		t.Fatalf("decision not counted:\n%s", metrics)
	}
	devWalkthrough(t, vars)
}

// postForm calls an idpsim endpoint as the demo client.
func postForm(t *testing.T, u string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("demo", "demo-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// validate asks the dev service, returning the status and the reason.
func validate(t *testing.T, validateURL, token, strategyName string, scopes ...string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"token": token, "strategy": strategyName, "scopes": scopes})
	resp, err := http.Post(validateURL, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		Reason string `json:"reason"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m.Reason
}

// devWalkthrough is the README's walk-through, over HTTP only: a token
// revoked at the IdP is accepted by local, refused by tiered on a sensitive
// request and accepted on a normal one; logging alice out makes every
// strategy refuse her token at once (back-channel logout to the admin listener).
func devWalkthrough(t *testing.T, vars map[string]string) {
	issuer, validateURL := vars["ISSUER"], vars["VALIDATE_URL"]
	tokenURL := issuer + "/protocol/openid-connect/token"

	code, tr := postForm(t, tokenURL, url.Values{"grant_type": {"client_credentials"}, "scope": {"payments:write"}})
	if code != 200 {
		t.Fatalf("mint: %d %v", code, tr)
	}
	pay := tr["access_token"].(string)
	if code, _ := validate(t, validateURL, pay, "tiered", "payments:write"); code != 200 {
		t.Fatalf("tiered before revocation: %d", code)
	}
	if code, _ := postForm(t, issuer+"/protocol/openid-connect/revoke", url.Values{"token": {pay}}); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	for _, c := range []struct {
		strategy string
		scopes   []string
		want     int
	}{
		{"local", nil, 200},                         // blind to the revocation
		{"tiered", []string{"payments:write"}, 401}, // sensitive: asks the IdP
		{"tiered", nil, 401},                        // the inactive answer was learned: refused with no call
		{"introspection", nil, 401},
	} {
		if code, reason := validate(t, validateURL, pay, c.strategy, c.scopes...); code != c.want {
			t.Fatalf("revoked token, %s %v: %d (%s), want %d", c.strategy, c.scopes, code, reason, c.want)
		}
	}

	code, tr = postForm(t, tokenURL, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice"}})
	if code != 200 {
		t.Fatalf("alice: %d %v", code, tr)
	}
	alice, refresh := tr["access_token"].(string), tr["refresh_token"].(string)
	for _, s := range []string{"local", "introspection", "tiered"} {
		if code, reason := validate(t, validateURL, alice, s); code != 200 {
			t.Fatalf("alice before logout, %s: %d %s", s, code, reason)
		}
	}
	if code, m := postForm(t, issuer+"/protocol/openid-connect/logout", url.Values{"refresh_token": {refresh}}); code != http.StatusNoContent {
		t.Fatalf("logout: %d %v", code, m)
	}
	for _, s := range []string{"local", "introspection", "tiered"} {
		if code, reason := validate(t, validateURL, alice, s); code != 401 || reason != "revoked" {
			t.Fatalf("alice after logout, %s: %d %s (want 401 revoked)", s, code, reason)
		}
	}

	// The admin API needs its secret.
	resp, err := http.Post(vars["ADMIN_URL"]+"/v1/revocations", "application/json", strings.NewReader(`{"sub":"x","action":"deny"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("admin API without secret: %d", resp.StatusCode)
	}
}

func writeConfig(t *testing.T, issuer string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tw.yaml")
	cfg := `
issuers:
  - name: dev
    issuer: ` + issuer + `
    authorized_parties: [demo]
    jwks: {timeout: 1s}
strategies:
  local: {type: local}
default_strategy: local
`
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCLI(ctx context.Context, args ...string) (string, int) {
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(io.Discard)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var ee *exitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String(), ee.code
	default:
		return out.String() + err.Error(), 2
	}
}

// TestCheck: exit 0 accepted, 1 rejected, 2 unavailable or usage error.
func TestCheck(t *testing.T) {
	idp, err := idpsim.Start(idpsim.DefaultConfig(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	cfg := writeConfig(t, idp.Issuer("dev"))
	tok, err := idp.ClientCredentials("dev", "demo")
	if err != nil {
		t.Fatal(err)
	}
	alice, err := idp.PasswordGrant("dev", "demo", "alice")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	out, code := runCLI(ctx, "check", "--config", cfg, tok.AccessToken)
	var res checkOutput
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || !res.Active || res.Result.ClientID != "demo" {
		t.Fatalf("accepted token: code %d, %s", code, out)
	}
	if strings.Contains(out, tok.AccessToken) {
		t.Fatal("check echoed the token")
	}

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantKind string
		reason   string
	}{
		// Keycloak signs refresh tokens with HS512: refused before typ is read.
		{"refresh token", []string{"check", "--config", cfg, alice.RefreshToken}, 1, "invalid", "alg"},
		{"missing scope", []string{"check", "--config", cfg, "--scope", "admin", tok.AccessToken}, 1, "forbidden", "scope"},
		{"garbage", []string{"check", "--config", cfg, "a.b.c"}, 1, "invalid", "malformed"},
		{"no token", []string{"check", "--config", cfg, ""}, 2, "", ""},
		{"bad config", []string{"check", "--config", filepath.Join(t.TempDir(), "missing.yaml"), tok.AccessToken}, 2, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCLI(ctx, tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d: %s", code, tc.wantCode, out)
			}
			if tc.wantKind == "" {
				return
			}
			var res checkOutput
			if err := json.Unmarshal([]byte(out), &res); err != nil || res.Active || res.Kind != tc.wantKind || string(res.Reason) != tc.reason {
				t.Fatalf("got %s", out)
			}
		})
	}

	// Stdin.
	root := newRootCmd()
	var buf bytes.Buffer
	root.SetOut(&buf)
	root.SetIn(strings.NewReader(tok.AccessToken + "\n"))
	root.SetArgs([]string{"check", "--config", cfg, "-"})
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("stdin: %v %s", err, buf.String())
	}

	// The IdP gone before keys were ever loaded: unavailable, exit 2, never "rejected".
	idp.Close()
	out, code = runCLI(ctx, "check", "--config", cfg, "--timeout", "2s", tok.AccessToken)
	if code != 2 || !strings.Contains(out, `"kind": "unavailable"`) {
		t.Fatalf("IdP down: exit %d: %s", code, out)
	}
}
