package validator_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/strategy"
	"github.com/tokenwarden/tokenwarden/validator"
)

// blocking is a strategy that accepts every token, but only once released;
// entered receives one value per request that reached it.
type blocking struct {
	entered chan struct{}
	release chan struct{}
}

func newBlocking() *blocking {
	return &blocking{entered: make(chan struct{}, 16), release: make(chan struct{})}
}

func (b *blocking) Validate(ctx context.Context, _ strategy.Request) (*strategy.Result, error) {
	b.entered <- struct{}{}
	select {
	case <-b.release:
		return &strategy.Result{Subject: "u1", Strategy: "blocking", DecidedBy: strategy.DecidedByLocal}, nil
	case <-ctx.Done():
		return nil, strategy.NewError(strategy.ErrUnavailable, strategy.ReasonIDPUnavailable, "", ctx.Err())
	}
}

type running struct {
	main, admin string // base URLs
	client      *http.Client
	done        chan error
	once        sync.Once
	err         error
}

// wait returns Serve's result; it may be called more than once.
func (r *running) wait() error {
	r.once.Do(func() { r.err = <-r.done })
	return r.err
}

// startServe runs Serve on loopback :0 ports until the returned cancel.
func startServe(t *testing.T, st strategy.Strategy, sc validator.ServerConfig) (*running, context.CancelFunc) {
	t.Helper()
	svc, err := validator.New(validator.Config{
		Strategies: map[string]strategy.Strategy{"s": st},
		Metrics:    http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "m") }),
	})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Addr == "" {
		sc.Addr = "127.0.0.1:0"
	}
	if sc.AdminAddr == "" {
		sc.AdminAddr = "127.0.0.1:0"
	}
	ctx, cancel := context.WithCancel(t.Context())
	addrs := make(chan [2]net.Addr, 1)
	r := &running{done: make(chan error, 1), client: &http.Client{Transport: &http.Transport{}}}
	go func() {
		r.done <- validator.Serve(ctx, sc, svc.Handler(), svc.AdminHandler(), nil, func(m, a net.Addr) { addrs <- [2]net.Addr{m, a} })
	}()
	select {
	case a := <-addrs:
		r.main, r.admin = "http://"+a[0].String(), "http://"+a[1].String()
	case err := <-r.done:
		cancel()
		t.Fatalf("Serve returned before ready: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = r.wait()
		r.client.CloseIdleConnections()
	})
	return r, cancel
}

func TestServe(t *testing.T) {
	st := strategy.Func(func(_ context.Context, req strategy.Request) (*strategy.Result, error) {
		if req.Token != "good" {
			return nil, strategy.NewError(strategy.ErrInvalid, strategy.ReasonSignature, "", nil)
		}
		return &strategy.Result{Subject: "u1", Strategy: "s", DecidedBy: strategy.DecidedByLocal}, nil
	})
	r, cancel := startServe(t, st, validator.ServerConfig{})

	got := do(t, r.client, r.main, call{header: bearer("good")})
	checkAnswer(t, got, 200, nil, `{"active":true,"sub":"u1","client_id":"","scope":"","realm_roles":[],"client_roles":{},"iss":"","strategy":"s","decided_by":"local","cached":false,"triggers":[],"degraded":false,"claims":{}}`)
	checkAnswer(t, do(t, r.client, r.admin, call{method: http.MethodGet, path: "/healthz"}), 200, nil, `{"status":"ok"}`)
	if got := do(t, r.client, r.admin, call{method: http.MethodGet, path: "/metrics"}); got.status != 200 || got.body != "m" {
		t.Errorf("admin /metrics = %d %q", got.status, got.body)
	}

	cancel()
	if err := r.wait(); err != nil {
		t.Fatalf("Serve = %v, want nil after cancel", err)
	}
	r.client.CloseIdleConnections()
	if _, err := net.Dial("tcp", strings.TrimPrefix(r.main, "http://")); err == nil {
		t.Error("main listener still accepts after Serve returned")
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	b := newBlocking()
	r, cancel := startServe(t, b, validator.ServerConfig{ShutdownTimeout: time.Minute})

	type result struct {
		answer
		err error
	}
	inflight := make(chan result, 1)
	go func() {
		a, err := doErr(r.client, r.main, call{header: bearer("tok")})
		inflight <- result{a, err}
	}()
	<-b.entered
	cancel()

	// Shutdown closes the listeners first: wait until new connections are
	// refused, so the release below happens during the drain.
	mainAddr := strings.TrimPrefix(r.main, "http://")
	for {
		c, err := net.Dial("tcp", mainAddr)
		if err != nil {
			break
		}
		_ = c.Close()
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-r.done:
		r.once.Do(func() { r.err = err })
		t.Fatalf("Serve returned %v with a request in flight", err)
	default:
	}

	close(b.release)
	got := <-inflight
	if got.err != nil || got.status != 200 || !strings.Contains(got.body, `"sub":"u1"`) {
		t.Errorf("in-flight request = %d %s %v, want 200", got.status, got.body, got.err)
	}
	if err := r.wait(); err != nil {
		t.Fatalf("Serve = %v, want nil", err)
	}
}

func TestServeShutdownTimeout(t *testing.T) {
	b := newBlocking()
	defer close(b.release)
	r, cancel := startServe(t, b, validator.ServerConfig{ShutdownTimeout: time.Nanosecond})

	inflight := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, r.main+"/v1/validate", nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := r.client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		inflight <- err
	}()
	<-b.entered
	cancel()
	if err := r.wait(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Serve = %v, want a shutdown deadline error", err)
	}
	if err := <-inflight; err == nil {
		t.Error("request cut off by the forced close succeeded")
	}
}

func TestServeListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h := http.NotFoundHandler()
	for _, sc := range []validator.ServerConfig{
		{Addr: ln.Addr().String(), AdminAddr: "127.0.0.1:0"},
		{Addr: "127.0.0.1:0", AdminAddr: ln.Addr().String()},
		{Addr: ""},
	} {
		called := false
		err := validator.Serve(t.Context(), sc, h, h, nil, func(net.Addr, net.Addr) { called = true })
		if err == nil || called {
			t.Errorf("Serve(%+v) = %v, ready called %v; want an error at once", sc, err, called)
		}
	}
}

func TestServeSheds(t *testing.T) {
	b := newBlocking()
	r, _ := startServe(t, b, validator.ServerConfig{MaxInFlight: 1})

	first := make(chan int, 1)
	go func() {
		a, _ := doErr(r.client, r.main, call{header: bearer("tok")})
		first <- a.status // 0 on a transport error
	}()
	<-b.entered

	got := do(t, r.client, r.main, call{header: bearer("tok")})
	checkAnswer(t, got, 503, map[string]string{"Retry-After": "1", "WWW-Authenticate": ""},
		`{"active":false,"error":"temporarily_unavailable","error_description":"too many requests in flight","reason":"overloaded"}`)
	// Liveness is never shed; the admin listener has its own budget.
	checkAnswer(t, do(t, r.client, r.main, call{method: http.MethodGet, path: "/healthz"}), 200, nil, `{"status":"ok"}`)
	checkAnswer(t, do(t, r.client, r.admin, call{method: http.MethodGet, path: "/readyz"}), 200, nil, `{"status":"ok"}`)

	close(b.release)
	if got := <-first; got != 200 {
		t.Errorf("first request = %d, want 200", got)
	}
	// The slot is free again.
	if got := do(t, r.client, r.main, call{header: bearer("tok")}); got.status != 200 {
		t.Errorf("request after release = %d %s, want 200", got.status, got.body)
	}
}
