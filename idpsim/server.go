package idpsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/tokenwarden/tokenwarden/internal/clock"
)

// Endpoint names one HTTP endpoint family for counters, faults and metrics.
type Endpoint string

// The simulated endpoints. Calls to any realm count towards the same Endpoint.
const (
	EndpointDiscovery  Endpoint = "discovery"
	EndpointCerts      Endpoint = "certs"
	EndpointToken      Endpoint = "token"
	EndpointIntrospect Endpoint = "introspect"
	EndpointRevoke     Endpoint = "revoke"
	EndpointLogout     Endpoint = "logout"
)

var allEndpoints = []Endpoint{EndpointDiscovery, EndpointCerts, EndpointToken, EndpointIntrospect, EndpointRevoke, EndpointLogout}

// Metric family names owned by idpsim. They are not tokenwarden's own metrics,
// so they are not in internal/metricnames.
const (
	MetricRequestsTotal     = "idpsim_requests_total"      // endpoint, code
	MetricInFlight          = "idpsim_in_flight"           // endpoint
	MetricTokensIssuedTotal = "idpsim_tokens_issued_total" // grant
)

// maxBody bounds every request body the simulator reads.
const maxBody = 64 << 10

// deliveryTimeout bounds each back-channel logout / not-before delivery.
const deliveryTimeout = 5 * time.Second

type options struct {
	clock    clock.Clock
	reg      prometheus.Registerer
	hc       *http.Client
	log      *slog.Logger
	seed     uint64
	seedSet  bool
	delivery time.Duration
}

// Option configures a Server.
type Option func(*options)

// WithClock makes every token time, expiry check and session timeout read c.
func WithClock(c clock.Clock) Option { return func(o *options) { o.clock = c } }

// WithRegisterer registers the idpsim_ metric families on r (nil: none).
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.reg = r } }

// WithHTTPClient sets the client used for back-channel logout and not-before
// deliveries (default: a client with a 5s timeout).
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.hc = c } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithSeed seeds the random source that decides Fault.ErrorRate and jitter, so
// that a run's fault pattern is reproducible.
func WithSeed(seed uint64) Option { return func(o *options) { o.seed, o.seedSet = seed, true } }

// WithDeliveryTimeout bounds each outgoing back-channel logout or not-before
// delivery (default 5s).
func WithDeliveryTimeout(d time.Duration) Option { return func(o *options) { o.delivery = d } }

// Fault is injected behaviour for one endpoint. Faults apply to HTTP requests
// only, never to the Go API. Zero value: no fault.
type Fault struct {
	// Latency is added before answering (real time; the request context and
	// Server.Close cut it short).
	Latency time.Duration
	// LatencyJitter adds a uniform extra delay in [0, LatencyJitter).
	LatencyJitter time.Duration
	// LatencyFunc, when set, adds its result (for latency distributions). It
	// must be safe for concurrent use.
	LatencyFunc func() time.Duration
	// ErrorRate is the fraction of calls answered with ErrorStatus.
	ErrorRate float64
	// ErrorStatus defaults to 500.
	ErrorStatus int
	// Garbage answers 200 with a body that is not JSON.
	Garbage bool
	// Hang never answers until the client gives up or Server.Close.
	Hang bool
}

type counter struct {
	calls, inFlight, peak atomic.Int64
}

type metrics struct {
	requests *prometheus.CounterVec
	inFlight *prometheus.GaugeVec
	issued   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{Name: MetricRequestsTotal, Help: "HTTP requests served by the IdP simulator."}, []string{"endpoint", "code"}),
		inFlight: f.NewGaugeVec(prometheus.GaugeOpts{Name: MetricInFlight, Help: "HTTP requests in progress in the IdP simulator."}, []string{"endpoint"}),
		issued:   f.NewCounterVec(prometheus.CounterOpts{Name: MetricTokensIssuedTotal, Help: "Access tokens issued by the IdP simulator."}, []string{"grant"}),
	}
}

// Server is an in-process Keycloak-compatible IdP. All methods are safe for
// concurrent use. It holds private keys in memory and accepts the configured
// plain-text passwords: it is a test and development tool, never an IdP.
type Server struct {
	clock    clock.Clock
	log      *slog.Logger
	hc       *http.Client
	ownHC    bool
	delivery time.Duration
	m        *metrics
	realms   map[string]*realm

	base atomic.Pointer[string]

	counters map[Endpoint]*counter

	faultMu sync.Mutex
	faults  map[Endpoint]Fault
	rng     *rand.Rand

	closeOnce sync.Once
	closed    chan struct{}
	httpSrv   *http.Server
	serveDone chan struct{}
}

// New validates cfg and generates the realms' keys. It does no I/O; serve it
// with ServeHTTP (httptest.NewServer(s) then s.SetBaseURL(ts.URL)) or Start.
func New(cfg Config, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{delivery: deliveryTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	s := &Server{
		clock:    clock.OrReal(o.clock),
		log:      o.log,
		hc:       o.hc,
		delivery: o.delivery,
		m:        newMetrics(o.reg),
		realms:   map[string]*realm{},
		counters: map[Endpoint]*counter{},
		faults:   map[Endpoint]Fault{},
		closed:   make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.hc == nil {
		// An own transport, so that Close can drop its idle connections.
		s.ownHC = true
		s.hc = &http.Client{Timeout: o.delivery, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if !o.seedSet {
		o.seed = rand.Uint64()
	}
	s.rng = rand.New(rand.NewPCG(o.seed, o.seed^0x9e3779b97f4a7c15))
	for _, e := range allEndpoints {
		s.counters[e] = &counter{}
	}
	now := s.clock.Now()
	for _, rc := range cfg.Realms {
		r, err := newRealm(rc, now)
		if err != nil {
			return nil, err
		}
		s.realms[r.name] = r
	}
	s.SetBaseURL("http://localhost:8080")
	return s, nil
}

// Start builds a Server, listens on addr (default "127.0.0.1:0"), sets the base
// URL to the listener's address and serves in a background goroutine until
// Close.
func Start(cfg Config, addr string, opts ...Option) (*Server, error) {
	s, err := New(cfg, opts...)
	if err != nil {
		return nil, err
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("idpsim: listen: %w", err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	s.SetBaseURL("http://" + net.JoinHostPort(host, port))
	s.httpSrv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.serveDone = make(chan struct{})
	go func() {
		defer close(s.serveDone)
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("idpsim: serve", "err", err)
		}
	}()
	return s, nil
}

// Close releases hanging and delayed requests and, for a Server made by
// Start, stops listening and waits for the serve goroutine. Idempotent.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		if s.httpSrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if e := s.httpSrv.Shutdown(ctx); e != nil {
				err = s.httpSrv.Close()
			}
			<-s.serveDone
		}
		if s.ownHC {
			s.hc.CloseIdleConnections()
		}
	})
	return err
}

// SetBaseURL sets the externally visible base URL (scheme://host[:port]); the
// issuer of realm r is base + "/realms/" + r. Tokens minted under an earlier
// base keep their old iss and then introspect as inactive, as in Keycloak
// after a hostname change.
func (s *Server) SetBaseURL(u string) {
	u = strings.TrimRight(u, "/")
	s.base.Store(&u)
}

// BaseURL returns the base URL.
func (s *Server) BaseURL() string { return *s.base.Load() }

// Issuer returns the issuer of realm (whether or not the realm exists).
func (s *Server) Issuer(realm string) string { return s.BaseURL() + "/realms/" + realm }

// Calls returns the number of HTTP calls received by e, all realms.
func (s *Server) Calls(e Endpoint) int64 {
	if c := s.counters[e]; c != nil {
		return c.calls.Load()
	}
	return 0
}

// InFlight returns the number of HTTP calls to e in progress.
func (s *Server) InFlight(e Endpoint) int64 {
	if c := s.counters[e]; c != nil {
		return c.inFlight.Load()
	}
	return 0
}

// PeakInFlight returns the highest concurrent HTTP calls to e since the last
// ResetCounters.
func (s *Server) PeakInFlight(e Endpoint) int64 {
	if c := s.counters[e]; c != nil {
		return c.peak.Load()
	}
	return 0
}

// ResetCounters zeroes Calls and PeakInFlight (PeakInFlight restarts from the
// current in-flight count).
func (s *Server) ResetCounters() {
	for _, c := range s.counters {
		c.calls.Store(0)
		c.peak.Store(c.inFlight.Load())
	}
}

// SetFault replaces the fault of endpoint e.
func (s *Server) SetFault(e Endpoint, f Fault) {
	s.faultMu.Lock()
	s.faults[e] = f
	s.faultMu.Unlock()
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.faultMu.Lock()
	clear(s.faults)
	s.faultMu.Unlock()
}

func (s *Server) realm(name string) (*realm, error) {
	r := s.realms[name]
	if r == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownRealm, name)
	}
	return r, nil
}

// statusWriter records the status code for metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// route maps a Keycloak path to its realm and endpoint.
func route(path string) (realmName string, e Endpoint, ok bool) {
	rest, found := strings.CutPrefix(path, "/realms/")
	if !found {
		return "", "", false
	}
	realmName, rest, found = strings.Cut(rest, "/")
	if !found || realmName == "" {
		return "", "", false
	}
	switch rest {
	case ".well-known/openid-configuration":
		return realmName, EndpointDiscovery, true
	case "protocol/openid-connect/certs":
		return realmName, EndpointCerts, true
	case "protocol/openid-connect/token":
		return realmName, EndpointToken, true
	case "protocol/openid-connect/token/introspect":
		return realmName, EndpointIntrospect, true
	case "protocol/openid-connect/revoke":
		return realmName, EndpointRevoke, true
	case "protocol/openid-connect/logout":
		return realmName, EndpointLogout, true
	case "protocol/openid-connect/auth":
		return realmName, "auth", true
	}
	return "", "", false
}

// ServeHTTP serves the Keycloak endpoints under /realms/{realm}/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	realmName, ep, ok := route(r.URL.Path)
	if !ok {
		s.m.requests.WithLabelValues("other", "404").Inc()
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Unable to find matching target resource method"})
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	if c := s.counters[ep]; c != nil {
		c.calls.Add(1)
		n := c.inFlight.Add(1)
		for {
			p := c.peak.Load()
			if n <= p || c.peak.CompareAndSwap(p, n) {
				break
			}
		}
		g := s.m.inFlight.WithLabelValues(string(ep))
		g.Inc()
		defer func() {
			c.inFlight.Add(-1)
			g.Dec()
		}()
	}
	defer func() {
		code := sw.code
		if code == 0 {
			code = http.StatusOK
		}
		s.m.requests.WithLabelValues(string(ep), fmt.Sprint(code)).Inc()
	}()
	// Read the bounded body before any injected delay: net/http notices a
	// client that gave up (and cancels r.Context) only once the body is consumed.
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(http.MaxBytesReader(sw, r.Body, maxBody))
		if err != nil {
			writeJSON(sw, http.StatusRequestEntityTooLarge, map[string]string{"error": "invalid_request", "error_description": "Request body too large"})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	if s.injectFault(sw, r, ep) {
		return
	}
	rl := s.realms[realmName]
	if rl == nil {
		writeJSON(sw, http.StatusNotFound, map[string]string{"error": "Realm does not exist"})
		return
	}
	switch ep {
	case EndpointDiscovery:
		s.handleDiscovery(sw, r, rl)
	case EndpointCerts:
		s.handleCerts(sw, r, rl)
	case EndpointToken:
		s.handleToken(sw, r, rl)
	case EndpointIntrospect:
		s.handleIntrospect(sw, r, rl)
	case EndpointRevoke:
		s.handleRevoke(sw, r, rl)
	case EndpointLogout:
		s.handleLogout(sw, r, rl)
	default:
		// The authorization endpoint exists only so that discovery points at a
		// real path; interactive login is out of scope for the simulator.
		writeJSON(sw, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "idpsim does not support interactive login"})
	}
}

// injectFault applies e's fault; it reports whether the request was answered
// (or abandoned) by the fault.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request, e Endpoint) bool {
	s.faultMu.Lock()
	f, ok := s.faults[e]
	var jitter time.Duration
	var roll float64
	if ok {
		if f.LatencyJitter > 0 {
			jitter = time.Duration(s.rng.Int64N(int64(f.LatencyJitter)))
		}
		if f.ErrorRate > 0 {
			roll = s.rng.Float64()
		}
	}
	s.faultMu.Unlock()
	if !ok {
		return false
	}
	d := f.Latency + jitter
	if f.LatencyFunc != nil {
		d += f.LatencyFunc()
	}
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		case <-s.closed:
			t.Stop()
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "server_error", "error_description": "idpsim closed"})
			return true
		}
	}
	if f.Hang {
		select {
		case <-r.Context().Done():
		case <-s.closed:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "server_error", "error_description": "idpsim closed"})
		}
		return true
	}
	if f.ErrorRate > 0 && roll < f.ErrorRate {
		status := f.ErrorStatus
		if status == 0 {
			status = http.StatusInternalServerError
		}
		writeJSON(w, status, map[string]string{"error": "unknown_error", "error_description": "injected fault"})
		return true
	}
	if f.Garbage {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "<html><body>502 Bad Gateway</body></html>\x00\xff{not json")
		return true
	}
	return false
}
