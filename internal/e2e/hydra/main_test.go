package hydra_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// repoRoot is the repository root, seen from this package's directory (the
// working directory of `go test`).
const repoRoot = "../../.."

// hy is the Hydra every test talks to; nil when the binary is missing and
// the tests skip.
var hy *hydra

// hc calls Hydra (token, revoke, admin API). Its idle connections are closed
// before the leak check.
var hc = &http.Client{Timeout: 30 * time.Second}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	bin, err := hydraBinary()
	if err != nil {
		if os.Getenv("CI") != "" {
			fmt.Fprintf(os.Stderr, "hydra interop: %v; CI is set, so this is a failure (run scripts/hydra.sh first)\n", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "hydra interop: %v; skipping (build it with scripts/hydra.sh)\n", err)
		return m.Run() // every test skips: hy is nil
	}
	h, err := startHydra(bin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "hydra interop: %v\n", err)
		return 1
	}
	if err := h.setup(); err != nil {
		h.stop()
		fmt.Fprintf(os.Stderr, "hydra interop: setup: %v\nhydra log:\n%s\n", err, h.logTail())
		return 1
	}
	hy = h
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "hydra log (tail):\n%s\n", h.logTail())
	}
	h.stop()
	hc.CloseIdleConnections()
	if err := goleak.Find(); err != nil {
		fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
		return 1
	}
	return code
}

// needHydra skips t when no Hydra runs (binary missing outside CI).
func needHydra(t *testing.T) *hydra {
	t.Helper()
	if hy == nil {
		t.Skip("no Hydra binary (scripts/hydra.sh builds .cache/hydra/hydra)")
	}
	return hy
}

// hydraBinary finds the Hydra binary: $TW_HYDRA_BIN, or the one
// scripts/hydra.sh builds.
func hydraBinary() (string, error) {
	p := os.Getenv("TW_HYDRA_BIN")
	if p == "" {
		p = filepath.Join(repoRoot, ".cache", "hydra", "hydra")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("no Hydra binary at %s", abs)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file", abs)
	}
	return abs, nil
}

// hydra is a running `hydra serve all --dev` with an in-memory database.
type hydra struct {
	bin    string
	dir    string // temp dir: hydra.yml, hydra.log
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // Wait's result, once exited is closed

	public string // http://127.0.0.1:PORT, also the issuer
	admin  string // http://127.0.0.1:PORT

	// The clients setup creates (client_credentials, client_secret_basic,
	// scopes read and write, audiences urn:api and urn:other).
	jwtClient    client // JWT access tokens (the server default)
	opaqueClient client // access_token_strategy opaque: ory_at_ tokens
}

type client struct{ id, secret string }

// hydraConfig is the hydra.yml of the run (PEERS.md). bcrypt cost 4 keeps
// client authentication at the token endpoint fast; access tokens are JWTs
// unless the client asks for opaque ones.
const hydraConfig = `dsn: memory
log:
  level: info
  format: json
serve:
  public:
    host: 127.0.0.1
    port: %[1]d
  admin:
    host: 127.0.0.1
    port: %[2]d
urls:
  self:
    issuer: http://127.0.0.1:%[1]d
  login: http://127.0.0.1:%[1]d/login-is-not-used
  consent: http://127.0.0.1:%[1]d/consent-is-not-used
secrets:
  system:
    - tokenwarden-interop-system-secret-0123456789
strategies:
  access_token: jwt
oauth2:
  hashers:
    algorithm: bcrypt
    bcrypt:
      cost: 4
`

// startHydra starts Hydra on two free loopback ports and waits until its
// admin API is ready. A port taken between our pick and Hydra's bind makes
// Hydra exit: it is retried on new ports.
func startHydra(bin string) (*hydra, error) {
	var lastErr error
	for range 3 {
		h, err := startHydraOnce(bin)
		if err == nil {
			return h, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startHydraOnce(bin string) (*hydra, error) {
	dir, err := os.MkdirTemp("", "tw-hydra-")
	if err != nil {
		return nil, err
	}
	pub, adm, err := freePorts()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cfg := filepath.Join(dir, "hydra.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(hydraConfig, pub, adm)), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "hydra.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	h := &hydra{
		bin: bin, dir: dir, exited: make(chan struct{}),
		public: "http://127.0.0.1:" + strconv.Itoa(pub),
		admin:  "http://127.0.0.1:" + strconv.Itoa(adm),
	}
	h.cmd = exec.Command(bin, "serve", "all", "--dev", "--sqa-opt-out", "-c", cfg)
	h.cmd.Dir = dir
	// No telemetry (there is no internet here anyway) and no inherited
	// Hydra settings from the caller's environment beyond the basics.
	h.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "SQA_OPT_OUT=true"}
	h.cmd.Stdout, h.cmd.Stderr = logf, logf
	ownGroup(h.cmd)
	if err := h.cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		h.err = h.cmd.Wait()
		logf.Close()
		close(h.exited)
	}()
	if err := h.waitReady(60 * time.Second); err != nil {
		tail := h.logTail()
		h.stop()
		return nil, fmt.Errorf("%w\nhydra log:\n%s", err, tail)
	}
	return h, nil
}

// freePorts picks two distinct free loopback ports.
func freePorts() (int, int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports[0], ports[1], nil
}

// waitReady polls the admin and public readiness endpoints.
func (h *hydra) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		ok := true
		for _, u := range []string{h.admin + "/health/ready", h.public + "/health/ready"} {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			resp, err := hc.Do(req)
			if err == nil {
				drainClose(resp)
			}
			cancel()
			if err != nil || resp.StatusCode != http.StatusOK {
				ok = false
				break
			}
		}
		if ok {
			return nil
		}
		select {
		case <-h.exited:
			return fmt.Errorf("hydra exited before it was ready: %v", h.err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("hydra not ready after " + limit.String())
		}
	}
}

// stop ends Hydra's process group (SIGTERM, then SIGKILL after 10s) and
// removes its directory. The group is signalled only while its leader has
// not been reaped, so a recycled process id is never hit.
func (h *hydra) stop() {
	select {
	case <-h.exited:
	default:
		_ = signalGroup(h.cmd, sigTerm)
		select {
		case <-h.exited:
		case <-time.After(10 * time.Second):
			_ = signalGroup(h.cmd, sigKill)
			<-h.exited
		}
	}
	os.RemoveAll(h.dir)
}

// logTail returns the end of Hydra's log.
func (h *hydra) logTail() string {
	b, _ := os.ReadFile(filepath.Join(h.dir, "hydra.log"))
	const max = 8 << 10
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return strings.TrimSpace(string(b))
}

// setup creates the clients every test uses.
func (h *hydra) setup() error {
	var err error
	if h.jwtClient, err = h.createClient("tw-jwt", ""); err != nil {
		return err
	}
	h.opaqueClient, err = h.createClient("tw-opaque", "opaque")
	return err
}
