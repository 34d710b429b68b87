package introspection

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tokenwarden/tokenwarden/idpsim"
	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/internal/metricnames"
)

func TestNewValidates(t *testing.T) {
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ok := basicCfg("https://idp.example/introspect")
	tests := []struct {
		name   string
		mutate func(*Config)
		opts   []Option
	}{
		{name: "no endpoint and no endpoint func", mutate: func(c *Config) { c.Endpoint = "" }},
		{name: "relative endpoint", mutate: func(c *Config) { c.Endpoint = "/introspect" }},
		{name: "ftp endpoint", mutate: func(c *Config) { c.Endpoint = "ftp://idp/introspect" }},
		{name: "unknown auth method", mutate: func(c *Config) { c.AuthMethod = "tls_client_auth" }},
		{name: "basic without secret", mutate: func(c *Config) { c.ClientSecret = nil }},
		{name: "post without client id", mutate: func(c *Config) { c.AuthMethod, c.ClientID = AuthClientSecretPost, "" }},
		{name: "private_key_jwt without key", mutate: func(c *Config) { c.AuthMethod = AuthPrivateKeyJWT }},
		{name: "private_key_jwt short RSA key", mutate: func(c *Config) { c.AuthMethod, c.PrivateKey = AuthPrivateKeyJWT, rsa1024 }},
		{name: "private_key_jwt alg does not fit key", mutate: func(c *Config) { c.AuthMethod, c.PrivateKey, c.PrivateKeyAlg = AuthPrivateKeyJWT, ec, "RS256" }},
		{name: "private_key_jwt HS256", mutate: func(c *Config) { c.AuthMethod, c.PrivateKey, c.PrivateKeyAlg = AuthPrivateKeyJWT, ec, "HS256" }},
		{name: "private_key_jwt none", mutate: func(c *Config) { c.AuthMethod, c.PrivateKey, c.PrivateKeyAlg = AuthPrivateKeyJWT, ec, "none" }},
		{name: "header sets Content-Type", mutate: func(c *Config) { c.Headers = map[string]string{"content-type": "text/plain"} }},
		{name: "header Authorization with basic", mutate: func(c *Config) { c.Headers = map[string]string{"Authorization": "x"} }},
		{name: "header value with newline", mutate: func(c *Config) { c.Headers = map[string]string{"X-A": "a\r\nX-B: b"} }},
		{name: "header bad name", mutate: func(c *Config) { c.Headers = map[string]string{"X A": "a"} }},
		{name: "negative timeout", mutate: func(c *Config) { c.Timeout = -1 }},
		{name: "negative rate", mutate: func(c *Config) { c.RatePerSecond = -1 }},
		{name: "huge body limit", mutate: func(c *Config) { c.MaxBodyBytes = 1 << 40 }},
		{name: "unbounded name", mutate: func(c *Config) { c.Name = strings.Repeat("x", 65) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.mutate(&cfg)
			c, err := New(cfg, tt.opts...)
			if !errors.Is(err, ErrConfig) {
				if c != nil {
					c.Close()
				}
				t.Fatalf("New = %v, want ErrConfig", err)
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		c := newClient(t, ok)
		want := Config{Name: "test", Endpoint: ok.Endpoint, AuthMethod: AuthClientSecretBasic, ClientID: "demo", ClientSecret: ok.ClientSecret,
			Timeout: 2 * time.Second, MaxConcurrent: 64, MaxBodyBytes: 64 << 10, CacheMaxEntries: 100000, CacheMaxTTL: 60 * time.Second,
			NegativeTTL: 10 * time.Second, BreakerFailures: 5, BreakerOpenTimeout: 10 * time.Second}
		if fmt.Sprint(c.cfg) != fmt.Sprint(want) {
			t.Errorf("cfg = %+v\nwant  %+v", c.cfg, want)
		}
	})
}

func TestActiveEdgeCases(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantActive bool
		wantErr    error
	}{
		{name: "true", body: `{"active":true}`, wantActive: true},
		{name: "string true", body: `{"active":"true"}`},
		{name: "number 1", body: `{"active":1}`},
		{name: "missing", body: `{"client_id":"demo"}`},
		{name: "null", body: `{"active":null}`},
		{name: "false", body: `{"active":false}`},
		{name: "object", body: `{"active":{"true":true}}`},
		{name: "duplicate active", body: `{"active":false,"active":true}`, wantErr: ErrMalformedResponse},
		{name: "array", body: `[{"active":true}]`, wantErr: ErrMalformedResponse},
		{name: "trailing data", body: `{"active":true}{"active":false}`, wantErr: ErrMalformedResponse},
		{name: "exp as string", body: `{"active":true,"exp":"1700000000"}`, wantErr: ErrMalformedResponse},
		{name: "inactive with ill-typed exp", body: `{"active":false,"exp":"x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeIdP(t, writeRaw(200, "application/json", tt.body))
			c := newClient(t, basicCfg(f.endpoint()))
			a, err := c.Introspect(bg, "tok", time.Minute)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !errors.Is(err, ErrUnavailable) {
					t.Fatalf("err = %v, want %v (and ErrUnavailable)", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Active != tt.wantActive {
				t.Errorf("Active = %v, want %v", a.Active, tt.wantActive)
			}
		})
	}
}

func TestResponseUnavailable(t *testing.T) {
	big := `{"active":true,"x":"` + strings.Repeat("a", 2000) + `"}`
	tests := []struct {
		name       string
		h          http.HandlerFunc
		wantStatus int
		wantBreak  bool // counts as an IdP failure for the breaker
	}{
		{name: "oversized body", h: writeRaw(200, "application/json", big), wantBreak: true},
		{name: "text/html", h: writeRaw(200, "text/html", `{"active":true}`), wantBreak: true},
		{name: "no content type", h: func(w http.ResponseWriter, _ *http.Request) {
			w.Header()["Content-Type"] = nil
			_, _ = w.Write([]byte(`{"active":true}`))
		}, wantBreak: true},
		{name: "RFC 9701 JWT answer", h: writeRaw(200, "application/token-introspection+jwt", `eyJ...`), wantBreak: true},
		{name: "401 our credentials", h: writeRaw(401, "application/json", `{"error":"invalid_request","error_description":"Authentication failed."}`), wantStatus: 401, wantBreak: true},
		{name: "403 public client", h: writeRaw(403, "application/json", `{"error":"invalid_request"}`), wantStatus: 403, wantBreak: true},
		{name: "429", h: writeRaw(429, "text/plain", "slow down"), wantStatus: 429, wantBreak: true},
		{name: "502", h: writeRaw(502, "text/html", "<html>"), wantStatus: 502, wantBreak: true},
		{name: "400 with an active-looking body", h: writeRaw(400, "application/json", `{"active":true}`), wantStatus: 400},
		{name: "redirect is not followed", h: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://127.0.0.1:1/steal", http.StatusTemporaryRedirect)
		}, wantStatus: 307},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeIdP(t, tt.h)
			cfg := basicCfg(f.endpoint())
			cfg.MaxBodyBytes = 1024
			cfg.BreakerFailures = 1
			c := newClient(t, cfg, WithClock(clock.NewManual(t0)))
			a, err := c.Introspect(bg, "tok", time.Minute)
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Introspect = %+v, %v; want ErrUnavailable", a, err)
			}
			var se *StatusError
			if got := errors.As(err, &se); got != (tt.wantStatus != 0) || (got && se.StatusCode != tt.wantStatus) {
				t.Errorf("err = %v, want status %d", err, tt.wantStatus)
			}
			if c.BreakerOpen() != tt.wantBreak {
				t.Errorf("BreakerOpen = %v, want %v", c.BreakerOpen(), tt.wantBreak)
			}
			if f.calls.Load() != 1 {
				t.Errorf("IdP calls = %d, want 1 (no retry)", f.calls.Load())
			}
		})
	}
}

func TestCache(t *testing.T) {
	clk := clock.NewManual(t0)
	var exp atomic.Pointer[time.Time] // nil: inactive
	f := newFakeIdP(t, func(w http.ResponseWriter, _ *http.Request) {
		if e := exp.Load(); e != nil {
			writeJSON(w, 200, map[string]any{"active": true, "exp": e.Unix()})
			return
		}
		writeJSON(w, 200, map[string]any{"active": false})
	})
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	c := newClient(t, basicCfg(f.endpoint()), WithClock(clk), WithMetrics(m))

	step := func(t *testing.T, advance, maxAge time.Duration, wantCached bool) {
		t.Helper()
		clk.Advance(advance)
		before := f.calls.Load()
		a, err := c.Introspect(bg, "tok", maxAge)
		if err != nil {
			t.Fatal(err)
		}
		calls := f.calls.Load() - before
		if a.Cached != wantCached || (calls == 0) != wantCached {
			t.Fatalf("at +%v maxAge %v: Cached=%v with %d IdP calls, want cached=%v", clk.Now().Sub(t0), maxAge, a.Cached, calls, wantCached)
		}
		if !wantCached && !a.FetchedAt.Equal(clk.Now()) {
			t.Errorf("FetchedAt = %v, want %v", a.FetchedAt, clk.Now())
		}
	}

	t.Run("hit within maxAge, zero extra calls", func(t *testing.T) {
		e := clk.Now().Add(time.Hour)
		exp.Store(&e)
		step(t, 0, time.Minute, false)
		step(t, 10*time.Second, time.Minute, true)
		step(t, 10*time.Second, 30*time.Second, true)
		// A stricter question is not answered by an older entry...
		step(t, 0, 15*time.Second, false)
		// ...and its fresh answer replaced the entry.
		step(t, 10*time.Second, 15*time.Second, true)
	})
	t.Run("maxAge 0 or negative always calls", func(t *testing.T) {
		step(t, 0, 0, false)
		step(t, 0, 0, false)
		step(t, 0, -time.Second, false)
	})
	t.Run("positive TTL capped by CacheMaxTTL", func(t *testing.T) {
		step(t, 0, 0, false)
		step(t, 59*time.Second, time.Hour, true)
		step(t, time.Second, time.Hour, false)
	})
	t.Run("positive TTL never past exp", func(t *testing.T) {
		e := clk.Now().Add(5 * time.Second)
		exp.Store(&e)
		step(t, 0, 0, false)
		step(t, 4*time.Second, time.Hour, true)
		step(t, 2*time.Second, time.Hour, false) // 6s: past exp
	})
	t.Run("answer already expired is not cached", func(t *testing.T) {
		e := clk.Now().Add(-time.Second)
		exp.Store(&e)
		step(t, 0, 0, false)
		step(t, 0, time.Hour, false)
	})
	t.Run("negative TTL", func(t *testing.T) {
		exp.Store(nil)
		step(t, 0, 0, false)
		step(t, 9*time.Second, time.Hour, true)
		step(t, 2*time.Second, time.Hour, false)
	})
	t.Run("active without exp lives NegativeTTL", func(t *testing.T) {
		f.setHandler(writeRaw(200, "application/json", `{"active":true}`))
		step(t, 0, 0, false)
		step(t, 9*time.Second, time.Hour, true)
		step(t, 2*time.Second, time.Hour, false)
	})
	t.Run("unavailable is never cached", func(t *testing.T) {
		f.setHandler(writeRaw(503, "text/plain", "down"))
		for range 2 {
			before := f.calls.Load()
			if _, err := c.Introspect(bg, "other", time.Hour); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("err = %v", err)
			}
			if f.calls.Load() != before+1 {
				t.Fatal("an unavailable result was served from the cache")
			}
		}
	})
	if n, err := testutil.GatherAndCount(reg, metricnames.IntrospectionCacheRequestsTotal); err != nil || n != 3 {
		t.Errorf("cache metric series = %d, %v; want hit, miss, stale", n, err)
	}
	if v := testutil.ToFloat64(m.cache.WithLabelValues(CacheHit)); v != 7 {
		t.Errorf("cache hits = %v, want 7", v)
	}
}

// TestCoalescing: 1000 concurrent calls for one token make one IdP call.
func TestCoalescing(t *testing.T) {
	g := newGate()
	f := newFakeIdP(t, g.wrap(activeUntil(time.Now().Add(time.Hour))))
	m := NewMetrics(nil)
	c := newClient(t, basicCfg(f.endpoint()), WithMetrics(m))
	const n = 1000
	var wg sync.WaitGroup
	var shared, leaders atomic.Int64
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			a, err := c.Introspect(bg, "same-token", 0)
			if err != nil {
				errs <- err
				return
			}
			if !a.Active {
				errs <- errors.New("inactive")
			}
			if a.Shared {
				shared.Add(1)
			} else {
				leaders.Add(1)
			}
		})
	}
	waitFor(t, "999 callers joined", func() bool { return testutil.ToFloat64(m.coalesced) == n-1 })
	g.open()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if f.calls.Load() != 1 || leaders.Load() != 1 || shared.Load() != n-1 {
		t.Errorf("IdP calls = %d, leaders = %d, shared = %d; want 1, 1, %d", f.calls.Load(), leaders.Load(), shared.Load(), n-1)
	}
}

func TestCoalescingIdpsim(t *testing.T) {
	srv := startIdpsim(t)
	srv.SetFault(idpsim.EndpointIntrospect, idpsim.Fault{Latency: 200 * time.Millisecond})
	tr, err := srv.ClientCredentials("dev", "demo")
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics(nil)
	c := newClient(t, basicCfg(introspectURL(srv)), WithMetrics(m))
	const n = 200
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range n {
		wg.Go(func() {
			if a, err := c.Introspect(bg, tr.AccessToken, 0); err != nil || !a.Active {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	joined := int64(testutil.ToFloat64(m.coalesced))
	if failed.Load() != 0 || srv.Calls(idpsim.EndpointIntrospect) != n-joined {
		t.Errorf("failed=%d idp calls=%d joined=%d", failed.Load(), srv.Calls(idpsim.EndpointIntrospect), joined)
	}
	if joined == 0 {
		t.Errorf("no call was coalesced")
	}
}

// TestCancelledWaiter: a waiter whose ctx ends returns at once; the shared
// call carries on and its answer is cached.
func TestCancelledWaiter(t *testing.T) {
	g := newGate()
	f := newFakeIdP(t, g.wrap(activeUntil(time.Now().Add(time.Hour))))
	c := newClient(t, basicCfg(f.endpoint()))
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() {
		_, err := c.Introspect(ctx, "tok", time.Minute)
		done <- err
	}()
	<-g.entered // the IdP has the request
	cancel()
	err := <-done // returns while the IdP still holds the request
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrUnavailable and context.Canceled", err)
	}
	g.open()
	// Either joins the still-running call or hits the cache: no new call.
	a, err := c.Introspect(bg, "tok", time.Minute)
	if err != nil || !a.Active || !(a.Shared || a.Cached) {
		t.Fatalf("second = %+v, %v", a, err)
	}
	a, err = c.Introspect(bg, "tok", time.Minute)
	if err != nil || !a.Cached {
		t.Fatalf("third = %+v, %v; want cached", a, err)
	}
	if f.calls.Load() != 1 {
		t.Errorf("IdP calls = %d, want 1", f.calls.Load())
	}
}

// TestConcurrencyCap: with the IdP hanging, at most MaxConcurrent calls are
// ever in flight at it.
func TestConcurrencyCap(t *testing.T) {
	srv := startIdpsim(t)
	srv.SetFault(idpsim.EndpointIntrospect, idpsim.Fault{Hang: true})
	cfg := basicCfg(introspectURL(srv))
	cfg.MaxConcurrent = 8
	cfg.Timeout = time.Minute
	cfg.BreakerFailures = -1
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			_, err := c.Introspect(ctx, fmt.Sprintf("token-%d", i), 0)
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("err = %v", err)
			}
		})
	}
	// All 100 calls started (92 of them wait for a slot) and 8 reached the IdP.
	waitFor(t, "100 flights, 8 in flight at the IdP", func() bool {
		c.mu.Lock()
		flights := len(c.flights)
		c.mu.Unlock()
		return flights == 100 && srv.InFlight(idpsim.EndpointIntrospect) == 8
	})
	if peak := srv.PeakInFlight(idpsim.EndpointIntrospect); peak != 8 {
		t.Errorf("peak in flight = %d, want 8", peak)
	}
	cancel()
	wg.Wait() // every waiter returned on its own ctx while the IdP hangs
	c.Close()
	if peak := srv.PeakInFlight(idpsim.EndpointIntrospect); peak != 8 {
		t.Errorf("peak in flight after Close = %d, want 8", peak)
	}
}

func TestBreaker(t *testing.T) {
	clk := clock.NewManual(t0)
	var healthy atomic.Bool
	g := newGate()
	g.open()
	var probeGate atomic.Pointer[gate]
	f := newFakeIdP(t, func(w http.ResponseWriter, r *http.Request) {
		if pg := probeGate.Load(); pg != nil {
			pg.wrap(func(http.ResponseWriter, *http.Request) {})(w, r)
		}
		if healthy.Load() {
			writeJSON(w, 200, map[string]any{"active": false})
			return
		}
		writeRaw(500, "text/plain", "boom")(w, r)
	})
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	cfg := basicCfg(f.endpoint())
	cfg.BreakerFailures = 3
	cfg.BreakerOpenTimeout = 10 * time.Second
	c := newClient(t, cfg, WithClock(clk), WithMetrics(m))
	gauge := func() float64 { return testutil.ToFloat64(m.breaker.WithLabelValues("test")) }

	call := func(i int) error {
		_, err := c.Introspect(bg, fmt.Sprintf("t%d", i), 0)
		return err
	}
	for i := range 3 {
		if err := call(i); !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrBreakerOpen) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if !c.BreakerOpen() || gauge() != 1 {
		t.Fatalf("BreakerOpen=%v gauge=%v after 3 failures", c.BreakerOpen(), gauge())
	}
	for i := range 5 {
		if err := call(10 + i); !errors.Is(err, ErrBreakerOpen) || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("open breaker: %v", err)
		}
	}
	if f.calls.Load() != 3 {
		t.Fatalf("IdP calls = %d while open, want 3", f.calls.Load())
	}

	// After the open timeout exactly one probe goes; it fails: open again.
	clk.Advance(10 * time.Second)
	if c.BreakerOpen() {
		t.Error("BreakerOpen after timeout: a probe should be allowed")
	}
	if err := call(20); errors.Is(err, ErrBreakerOpen) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("probe: %v", err)
	}
	if err := call(21); !errors.Is(err, ErrBreakerOpen) {
		t.Fatalf("after failed probe: %v", err)
	}
	if f.calls.Load() != 4 {
		t.Fatalf("IdP calls = %d, want 4", f.calls.Load())
	}

	// Half-open again: while the probe is in flight, everybody else fails fast.
	clk.Advance(10 * time.Second)
	healthy.Store(true)
	pg := newGate()
	probeGate.Store(pg)
	probeDone := make(chan error, 1)
	go func() { probeDone <- call(30) }()
	<-pg.entered
	for i := range 5 {
		if err := call(31 + i); !errors.Is(err, ErrBreakerOpen) {
			t.Fatalf("during probe: %v", err)
		}
	}
	if !c.BreakerOpen() {
		t.Error("BreakerOpen = false while the probe is in flight")
	}
	pg.open()
	if err := <-probeDone; err != nil {
		t.Fatalf("probe: %v", err)
	}
	probeGate.Store(nil)
	if c.BreakerOpen() || gauge() != 0 {
		t.Fatalf("BreakerOpen=%v gauge=%v after a successful probe", c.BreakerOpen(), gauge())
	}
	for i := range 3 {
		if err := call(40 + i); err != nil {
			t.Fatalf("closed breaker: %v", err)
		}
	}
	if f.calls.Load() != 8 {
		t.Errorf("IdP calls = %d, want 8", f.calls.Load())
	}
	if v := testutil.ToFloat64(m.requests.WithLabelValues("test", OutcomeBreakerOpen)); v != 11 {
		t.Errorf("breaker_open outcomes = %v, want 11", v)
	}
}

func TestBreakerIgnoresInactiveAnd400(t *testing.T) {
	var status atomic.Int64
	f := newFakeIdP(t, func(w http.ResponseWriter, r *http.Request) {
		if s := int(status.Load()); s != 200 {
			writeRaw(s, "application/json", `{"error":"invalid_request"}`)(w, r)
			return
		}
		writeJSON(w, 200, map[string]any{"active": false})
	})
	cfg := basicCfg(f.endpoint())
	cfg.BreakerFailures = 2
	c := newClient(t, cfg, WithClock(clock.NewManual(t0)))
	for i, s := range []int64{200, 200, 200, 400, 400, 400, 500, 200, 500} {
		status.Store(s)
		_, _ = c.Introspect(bg, fmt.Sprint(i), 0)
		if c.BreakerOpen() {
			t.Fatalf("breaker opened after call %d (status %d)", i, s)
		}
	}
	status.Store(500)
	_, _ = c.Introspect(bg, "x", 0)
	if !c.BreakerOpen() {
		t.Fatal("two consecutive 500s did not open the breaker")
	}
}

func TestBudget(t *testing.T) {
	clk := clock.NewManual(t0)
	f := newFakeIdP(t, nil)
	cfg := basicCfg(f.endpoint())
	cfg.RatePerSecond = 0.01
	cfg.Burst = 1
	m := NewMetrics(nil)
	c := newClient(t, cfg, WithClock(clk), WithMetrics(m))
	if _, err := c.Introspect(bg, "a", 0); err != nil {
		t.Fatal(err)
	}
	_, err := c.Introspect(bg, "b", 0)
	if !errors.Is(err, ErrBudget) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrBudget", err)
	}
	if f.calls.Load() != 1 {
		t.Errorf("IdP calls = %d, want 1", f.calls.Load())
	}
	// Cache hits cost nothing.
	if a, err := c.Introspect(bg, "a", time.Minute); err != nil || !a.Cached {
		t.Errorf("cached = %+v, %v", a, err)
	}
	clk.Advance(100 * time.Second)
	if _, err := c.Introspect(bg, "b", 0); err != nil {
		t.Errorf("after refill: %v", err)
	}
	if v := testutil.ToFloat64(m.requests.WithLabelValues("test", OutcomeBudget)); v != 1 {
		t.Errorf("budget outcomes = %v", v)
	}
	if c.BreakerOpen() {
		t.Error("budget exhaustion opened the breaker")
	}
}

// TestRetryTransportError: one retry after the connection drops before an
// answer; none when disabled.
func TestRetryTransportError(t *testing.T) {
	for _, disable := range []bool{false, true} {
		t.Run(fmt.Sprintf("disable=%v", disable), func(t *testing.T) {
			var n atomic.Int64
			f := newFakeIdP(t, func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					conn, _, err := http.NewResponseController(w).Hijack()
					if err == nil {
						if tc, ok := conn.(*net.TCPConn); ok {
							_ = tc.SetLinger(0) // RST
						}
						_ = conn.Close()
					}
					return
				}
				writeJSON(w, 200, map[string]any{"active": true})
			})
			cfg := basicCfg(f.endpoint())
			cfg.DisableRetry = disable
			c := newClient(t, cfg)
			a, err := c.Introspect(bg, "tok", 0)
			if disable {
				if !errors.Is(err, ErrUnavailable) || f.calls.Load() != 1 {
					t.Fatalf("= %+v, %v with %d calls; want ErrUnavailable after 1 call", a, err, f.calls.Load())
				}
				return
			}
			if err != nil || !a.Active || f.calls.Load() != 2 {
				t.Fatalf("= %+v, %v with %d calls; want active after 2 calls", a, err, f.calls.Load())
			}
		})
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	c := newClient(t, basicCfg("http://"+addr+"/introspect"))
	if _, err := c.Introspect(bg, "tok", 0); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

func TestEndpointFunc(t *testing.T) {
	f := newFakeIdP(t, nil)
	var calls atomic.Int64
	var fail atomic.Bool
	cfg := basicCfg("")
	c := newClient(t, cfg, WithEndpointFunc(func(ctx context.Context) (string, error) {
		calls.Add(1)
		if fail.Load() {
			return "", errors.New("discovery down")
		}
		return f.endpoint(), nil
	}))
	if a, err := c.Introspect(bg, "tok", 0); err != nil || !a.Active {
		t.Fatalf("= %+v, %v", a, err)
	}
	fail.Store(true)
	if _, err := c.Introspect(bg, "tok", 0); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() != 2 || f.calls.Load() != 1 {
		t.Errorf("endpoint func calls = %d, IdP calls = %d", calls.Load(), f.calls.Load())
	}
}

func TestCloseAndEmptyToken(t *testing.T) {
	f := newFakeIdP(t, nil)
	c := newClient(t, basicCfg(f.endpoint()))
	if _, err := c.Introspect(bg, "", 0); !errors.Is(err, ErrNoToken) || errors.Is(err, ErrUnavailable) {
		t.Errorf("empty token: %v", err)
	}
	c.Close()
	c.Close()
	if _, err := c.Introspect(bg, "tok", 0); !errors.Is(err, ErrClosed) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("after Close: %v", err)
	}
	if f.calls.Load() != 0 {
		t.Errorf("IdP calls = %d", f.calls.Load())
	}
}

// TestSharedMetrics: clients of two issuers share one registry.
func TestSharedMetrics(t *testing.T) {
	f := newFakeIdP(t, nil)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	for _, name := range []string{"a", "b"} {
		cfg := basicCfg(f.endpoint())
		cfg.Name = name
		c := newClient(t, cfg, WithMetrics(m))
		if _, err := c.Introspect(bg, "tok", 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"a", "b"} {
		if v := testutil.ToFloat64(m.requests.WithLabelValues(name, OutcomeActive)); v != 1 {
			t.Errorf("issuer %s active = %v", name, v)
		}
	}
	if n, err := testutil.GatherAndCount(reg, metricnames.IntrospectionRequestDuration); err != nil || n != 2 {
		t.Errorf("duration series = %d, %v", n, err)
	}
}
