package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/idpsim"
	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/introspection"
	"github.com/tokenwarden/tokenwarden/jwks"
	"github.com/tokenwarden/tokenwarden/strategy"
	"github.com/tokenwarden/tokenwarden/validator"
)

// The well-known addresses of the shipped gateway configs.
const (
	placeholderTokenwarden = "127.0.0.1:8080"
	placeholderUpstream    = "127.0.0.1:9000"
	placeholderNginxListen = "listen 127.0.0.1:8000;"
	placeholderCaddyListen = "http://:8000 {"
)

// testRoutes are the forward-auth rules every gateway test runs with.
var testRoutes = []validator.Route{
	{Name: "public", Path: "/public/", Public: true},
	{Name: "maintenance", Path: "/maintenance/", Strategy: "down"},
	{Name: "payments", Methods: []string{"POST", "PUT", "DELETE"}, Path: "/api/payments/", Scopes: []string{"payments:write"}, Strategy: "tiered", Sensitive: true},
	{Name: "admin", Host: "admin.example.com", Path: "/admin/", Roles: []string{"admin"}},
	{Name: "api", Path: "/api/"},
}

// env is an IdP, tokenwarden and the protected upstream, all in-process on
// loopback.
type env struct {
	idp      *idpsim.Server
	idpClock *clock.Manual
	tw       *httptest.Server // /v1/auth and /v1/validate
	up       *upstream
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{idpClock: clock.NewManual(time.Now().Truncate(time.Second))}
	idp, err := idpsim.Start(idpsim.DefaultConfig(), "127.0.0.1:0", idpsim.WithClock(e.idpClock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp.Close() })
	e.idp = idp

	keys, err := jwks.New(jwks.Config{Name: "dev", Issuer: idp.Issuer("dev"), Algorithms: []string{"RS256"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keys.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := keys.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	intro, err := introspection.New(introspection.Config{
		Name:         "dev",
		Endpoint:     idp.Issuer("dev") + "/protocol/openid-connect/token/introspect",
		ClientID:     "demo",
		ClientSecret: []byte("demo-secret"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(intro.Close)
	v, err := strategy.NewVerifier([]strategy.IssuerConfig{{
		Name: "dev", Issuer: idp.Issuer("dev"), AuthorizedParties: []string{"demo"}, Keys: keys, Introspector: intro,
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	strategies := map[string]strategy.Strategy{
		"local": strategy.NewLocal("local", v),
		// Sensitive requests are always checked with the IdP (fresh answer).
		"tiered": strategy.NewTiered("tiered", v, strategy.TieredConfig{StandardMaxAge: 30 * time.Second}),
		// "down" stands for a strategy whose IdP is unreachable.
		"down": strategy.Func(func(context.Context, strategy.Request) (*strategy.Result, error) {
			return nil, &strategy.Error{Kind: strategy.ErrUnavailable, Reason: strategy.ReasonIDPUnavailable, RetryAfter: 7 * time.Second}
		}),
	}
	svc, err := validator.New(validator.Config{Strategies: strategies, DefaultStrategy: "local"})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := validator.NewAuthHandler(strategies, validator.AuthConfig{
		Routes:          testRoutes,
		DefaultStrategy: "local",
		TrustedProxies:  []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/auth", auth)
	mux.Handle("/", svc.Handler())
	e.tw = httptest.NewServer(mux)
	t.Cleanup(e.tw.Close)
	e.up = newUpstream(t)
	return e
}

// token mints an access token of client demo (client_credentials).
func (e *env) token(t testing.TB, scopes ...string) string {
	t.Helper()
	tr, err := e.idp.ClientCredentials("dev", "demo", scopes...)
	if err != nil {
		t.Fatal(err)
	}
	return tr.AccessToken
}

// expiredToken mints a token at an IdP clock an hour behind: it expired
// 55 minutes ago by tokenwarden's (real) clock.
func (e *env) expiredToken(t testing.TB) string {
	t.Helper()
	now := e.idpClock.Now()
	e.idpClock.Set(now.Add(-time.Hour))
	defer e.idpClock.Set(now)
	return e.token(t, "payments:write")
}

// upstream is the protected application: it records what reaches it.
type upstream struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []seen
}

type seen struct {
	method, uri string
	header      http.Header
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.got = append(u.got, seen{r.Method, r.RequestURI, r.Header.Clone()})
		u.mu.Unlock()
		_, _ = io.WriteString(w, "upstream ok")
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.got)
}

func (u *upstream) last() seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.got[len(u.got)-1]
}

func hostPort(rawURL string) string { return strings.TrimPrefix(rawURL, "http://") }

// gateway is a running gateway process.
type gateway struct {
	name string
	addr string // host:port it listens on
	logs func() string
}

// lookBinary finds a gateway binary. Missing: skip, or fail under CI.
func lookBinary(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not installed (run scripts/install-gateways.sh); CI is set, so this is a failure", name)
	}
	t.Skipf("%s not installed (run scripts/install-gateways.sh)", name)
	return ""
}

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// shippedConfig reads configs/gateways/NAME and replaces each placeholder,
// failing if one is missing: the shipped file and the test must not drift.
func shippedConfig(t *testing.T, name string, repl ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "configs", "gateways", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(repl); i += 2 {
		if !strings.Contains(s, repl[i]) {
			t.Fatalf("shipped %s lacks the placeholder %q", name, repl[i])
		}
		s = strings.ReplaceAll(s, repl[i], repl[i+1])
	}
	return s
}

// startProcess runs cmd until the test ends and waits until addr accepts
// connections.
func startProcess(t *testing.T, cmd *exec.Cmd, addr string, logs func() string) {
	t.Helper()
	var out strings.Builder
	var mu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return out.Write(p)
	})
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		select {
		case err := <-exited:
			exited <- err
			mu.Lock()
			t.Fatalf("%s exited: %v\n%s\n%s", cmd.Path, err, out.String(), logs())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			mu.Lock()
			t.Fatalf("%s does not listen on %s:\n%s\n%s", cmd.Path, addr, out.String(), logs())
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// startNginx runs nginx with the shipped nginx.conf in front of tw and up.
func startNginx(t *testing.T, tw, up string) *gateway {
	bin := lookBinary(t, "nginx")
	dir := t.TempDir()
	for _, d := range []string{"logs", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	addr := freePort(t)
	conf := shippedConfig(t, "nginx.conf",
		placeholderTokenwarden, tw,
		placeholderUpstream, up,
		placeholderNginxListen, "listen "+addr+";",
	)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "logs", "error.log"))
		return "nginx error.log:\n" + string(b)
	}
	// One process (no master/worker split, so no user switch when run as
	// root); daemon off keeps it our child.
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off; master_process off;")
	startProcess(t, cmd, addr, logs)
	return &gateway{name: "nginx", addr: addr, logs: logs}
}

// startCaddy runs caddy with the shipped Caddyfile in front of tw and up.
func startCaddy(t *testing.T, tw, up string) *gateway {
	bin := lookBinary(t, "caddy")
	dir := t.TempDir()
	addr := freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	conf := shippedConfig(t, "Caddyfile",
		placeholderTokenwarden, tw,
		placeholderUpstream, up,
		placeholderCaddyListen, "http://:"+port+" {",
	)
	file := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", file, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir)
	startProcess(t, cmd, addr, func() string { return "" })
	return &gateway{name: "caddy", addr: addr, logs: func() string { return "" }}
}

// request is one client request through a gateway. path is sent exactly as
// written (no cleaning or re-encoding by the client).
type request struct {
	method, path string
	token        string
	host         string // Host header; default the gateway's address
	header       map[string]string
}

type response struct {
	status int
	header http.Header
	body   string
}

var client = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func (g *gateway) do(t *testing.T, r request) response {
	t.Helper()
	res, err := doRequest(client, g.addr, r)
	if err != nil {
		t.Fatalf("%s: %v\n%s", g.name, err, g.logs())
	}
	return res
}

func doRequest(c *http.Client, addr string, r request) (response, error) {
	if r.method == "" {
		r.method = http.MethodGet
	}
	req, err := http.NewRequest(r.method, "http://"+addr+"/", nil)
	if err != nil {
		return response{}, err
	}
	req.URL.Path, req.URL.RawPath, req.URL.Opaque = "", "", r.path
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	if r.host != "" {
		req.Host = r.host
	}
	resp, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

// claim returns a string claim of a JWT without verifying it (test only).
func claim(t testing.TB, tok, name string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	s, _ := m[name].(string)
	return s
}
