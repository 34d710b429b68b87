package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/bench"
)

// startIdpProcess builds this command into a temporary directory and runs
// "tokenwarden idp" as a separate process on a loopback port the kernel
// picks; it returns the issuer of realm "dev" once discovery answers. The
// process is killed in cleanup.
func startIdpProcess(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build the binary with")
	}
	bin := filepath.Join(t.TempDir(), "tokenwarden")
	build := exec.Command(goTool, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// Port 0: the kernel picks a free port, with no window for another
	// process to take it; the command prints the issuer with the real port.
	cmd := exec.Command(bin, "idp", "--addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	issuer := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "ISSUER="); ok && !found && strings.HasSuffix(v, "/realms/dev") {
				found = true
				issuer <- v
			}
		}
		close(issuer)
	}()
	var iss string
	select {
	case v, ok := <-issuer:
		if !ok {
			t.Fatal("tokenwarden idp exited without printing its issuer")
		}
		iss = v
	case <-time.After(30 * time.Second):
		t.Fatal("tokenwarden idp printed no issuer within 30s")
	}
	// Wait for discovery to answer (bounded).
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get(iss + "/.well-known/openid-configuration")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("discovery at %s never answered: %v", iss, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	client.CloseIdleConnections()
	return iss
}

func runBenchCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(append([]string{"bench"}, args...))
	err = root.ExecuteContext(ctx)
	return out.String(), errb.String(), err
}

// TestBenchRealIssuer runs "tokenwarden bench --issuer" against idpsim in
// a separate process: three strategies measured over real HTTP, call counts
// from the harness's own clients, revocation measured through RFC 7009.
func TestBenchRealIssuer(t *testing.T) {
	iss := startIdpProcess(t)
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("demo-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	stdout, stderr, err := runBenchCLI(t, "--issuer", iss, "--client-id", "demo", "--client-secret-file", secretFile,
		"--tokens", "4", "--requests", "30", "--revoke", "2", "--rate", "1000", "--yes", "--json", "--out", out,
		"--max-exposure", "100%", "--max-p99", "1h", "--max-idp-rps", "1000") // no timed bound
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "WARNING: bench will send real traffic to "+iss) || strings.Contains(stderr, "demo-secret") {
		t.Errorf("stderr: %s", stderr)
	}
	var rep bench.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout)
	}
	if rep.Mode != "issuer" || rep.Issuer == nil || !rep.Issuer.RevocationMeasured || rep.Issuer.RevokedPerStrategy != 2 {
		t.Fatalf("report: mode %s, issuer %+v", rep.Mode, rep.Issuer)
	}
	res := map[string]bench.StrategyResult{}
	for _, r := range rep.Results {
		res[r.Strategy] = r
	}
	for _, name := range []string{bench.StrategyLocal, bench.StrategyIntrospection, bench.StrategyTiered} {
		r, ok := res[name]
		if !ok || r.Validations != 30 || r.Outcomes["accepted"] == 0 || r.Exposure.PostRevocation == 0 {
			t.Errorf("%s: %+v", name, r)
		}
	}
	if n := res[bench.StrategyLocal].IdP.Introspections; n != 0 {
		t.Errorf("local: %d introspections", n)
	}
	if n := res[bench.StrategyIntrospection].IdP.Introspections; n == 0 {
		t.Error("introspection: no IdP call counted")
	}
	if e := res[bench.StrategyLocal].Exposure; e.Accepted != e.PostRevocation {
		t.Errorf("local sees no RFC 7009 revocation, yet %+v", e)
	}
	if rep.Verdict == nil || !rep.Verdict.Met || rep.Verdict.Choice != bench.StrategyTiered {
		t.Errorf("verdict %+v", rep.Verdict)
	}
	for _, f := range []string{"report.md", "results.json", "results.csv", "frontier.png", "latency-cdf.svg"} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}

	// The secret from the environment; one strategy; the table output.
	t.Setenv(envBenchClientSecret, "demo-secret")
	stdout, stderr, err = runBenchCLI(t, "--issuer", iss, "--client-id", "demo", "--strategies", "local",
		"--tokens", "2", "--requests", "4", "--rate", "1000", "--yes")
	if err != nil {
		t.Fatalf("bench (env secret): %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "issuer "+iss) || !strings.Contains(stdout, "local") {
		t.Errorf("table:\n%s", stdout)
	}

	// A wrong secret is the IdP's refusal, reported without the secret.
	t.Setenv(envBenchClientSecret, "wrong-secret")
	_, _, err = runBenchCLI(t, "--issuer", iss, "--client-id", "demo", "--strategies", "local", "--tokens", "1", "--requests", "2", "--rate", "1000", "--yes")
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("wrong secret: %v", err)
	}
}

// TestBenchIssuerNeedsSecret: no secret flag exists, and none configured is
// a usage error naming where a secret may come from.
func TestBenchIssuerNeedsSecret(t *testing.T) {
	t.Setenv(envBenchClientSecret, "")
	os.Unsetenv(envBenchClientSecret)
	_, _, err := runBenchCLI(t, "--issuer", "http://127.0.0.1:1/realms/dev", "--client-id", "demo", "--yes")
	if err == nil || !strings.Contains(err.Error(), envBenchClientSecret) {
		t.Errorf("no secret: %v", err)
	}
	if _, _, err := runBenchCLI(t, "--issuer", "http://127.0.0.1:1/realms/dev", "--client-secret", "x"); err == nil {
		t.Error("a --client-secret flag exists")
	}
}
