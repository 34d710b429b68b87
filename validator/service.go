package validator

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync/atomic"

	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/strategy"
)

// DefaultMaxBodyBytes bounds a /v1/validate body when Config.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 64 << 10

// Config configures a Service. It is built by the caller (cmd translates
// internal/config into it); validator reads no files and no environment.
type Config struct {
	// Strategies are the named strategies a request may use, already
	// instrumented by the caller. At least one; none nil.
	Strategies map[string]strategy.Strategy
	// DefaultStrategy names the strategy used when a request names none. May
	// be empty when Strategies holds exactly one.
	DefaultStrategy string
	// AllowStrategyOverride lets a /v1/validate body pick a strategy by name.
	// Off by default: a caller could otherwise choose the weakest policy.
	AllowStrategyOverride bool
	// ExposeClaims lists the claims copied from Result.Claims into the
	// "claims" object of a 200 response. No other claim is ever returned.
	ExposeClaims []string
	// MaxBodyBytes bounds a /v1/validate body (default 64 KiB); larger bodies
	// get 413.
	MaxBodyBytes int64
	// APIKeys, when non-empty, are required: callers of /v1/validate must
	// send one of them in X-API-Key. Compared in constant time over SHA-256
	// digests; never logged.
	APIKeys [][]byte
	// Ready reports readiness (e.g. every issuer's keys loaded once); nil
	// means always ready. Called on every /readyz; must be cheap and safe
	// for concurrent use.
	Ready func() bool
	// Metrics is served at /metrics on the admin handler; nil gives 404.
	Metrics http.Handler
	// Realm is the realm of WWW-Authenticate challenges (default
	// "tokenwarden"). Printable ASCII without '"' or '\'.
	Realm string
}

// Option configures a Service's collaborators.
type Option func(*Service)

// WithLogger sets the logger (default: discard). Rejections are logged at
// info, acceptances at debug; tokens only as tokenhash fingerprints.
func WithLogger(l *slog.Logger) Option {
	return func(s *Service) {
		if l != nil {
			s.log = l
		}
	}
}

// WithClock sets the clock used to time decisions in log lines.
func WithClock(c clock.Clock) Option {
	return func(s *Service) { s.clock = clock.OrReal(c) }
}

// Service is the HTTP face of tokenwarden: it serves /v1/validate and
// health on the main handler, and /metrics, health and whatever HandleAdmin
// registers on the admin handler. Safe for concurrent use once built;
// HandleAdmin must be called before the admin handler serves.
type Service struct {
	// pol is the reloadable part: swapped whole by Update, read once per request.
	pol     atomic.Pointer[policy]
	maxBody int64
	apiKeys [][sha256.Size]byte
	ready   func() bool
	realm   string

	log   *slog.Logger
	clock clock.Clock

	main  *http.ServeMux
	admin *http.ServeMux
}

// policy is what a reload may change: the strategies and how requests
// reach them. Immutable once published.
type policy struct {
	strategies      map[string]strategy.Strategy
	defaultStrategy string
	allowOverride   bool
	expose          []string
}

// newPolicy validates the reloadable part of cfg.
func newPolicy(cfg *Config) (*policy, error) {
	p := &policy{
		strategies:    make(map[string]strategy.Strategy, len(cfg.Strategies)),
		allowOverride: cfg.AllowStrategyOverride,
	}
	if len(cfg.Strategies) == 0 {
		return nil, errors.New("validator: no strategies")
	}
	for name, st := range cfg.Strategies {
		if name == "" || st == nil {
			return nil, fmt.Errorf("validator: strategy %q is empty or nil", name)
		}
		p.strategies[name] = st
	}
	p.defaultStrategy = cfg.DefaultStrategy
	if p.defaultStrategy == "" && len(cfg.Strategies) == 1 {
		for name := range cfg.Strategies {
			p.defaultStrategy = name
		}
	}
	if _, ok := p.strategies[p.defaultStrategy]; !ok {
		return nil, fmt.Errorf("validator: default strategy %q is not one of the strategies %v", p.defaultStrategy, sortedKeys(p.strategies))
	}
	seen := map[string]bool{}
	for _, c := range cfg.ExposeClaims {
		if c == "" {
			return nil, errors.New("validator: empty claim name in expose claims")
		}
		if !seen[c] {
			seen[c] = true
			p.expose = append(p.expose, c)
		}
	}
	return p, nil
}

// Update swaps the reloadable policy — Strategies, DefaultStrategy,
// AllowStrategyOverride and ExposeClaims of cfg; other fields are ignored —
// without dropping requests in flight: each request uses the policy it
// started with. On error the current policy stays.
func (s *Service) Update(cfg Config) error {
	p, err := newPolicy(&cfg)
	if err != nil {
		return err
	}
	s.pol.Store(p)
	return nil
}

// New validates cfg and builds a Service. It does no I/O.
func New(cfg Config, opts ...Option) (*Service, error) {
	s := &Service{
		maxBody: cfg.MaxBodyBytes,
		ready:   cfg.Ready,
		realm:   cfg.Realm,
		log:     slog.New(slog.DiscardHandler),
		clock:   clock.Real,
	}
	for _, o := range opts {
		o(s)
	}
	p, err := newPolicy(&cfg)
	if err != nil {
		return nil, err
	}
	s.pol.Store(p)
	switch {
	case s.maxBody < 0:
		return nil, fmt.Errorf("validator: max body bytes %d is negative", s.maxBody)
	case s.maxBody == 0:
		s.maxBody = DefaultMaxBodyBytes
	}
	for i, k := range cfg.APIKeys {
		if len(k) == 0 {
			return nil, fmt.Errorf("validator: API key %d is empty", i)
		}
		s.apiKeys = append(s.apiKeys, sha256.Sum256(k))
	}
	if s.realm == "" {
		s.realm = DefaultRealm
	}
	for i := 0; i < len(s.realm); i++ {
		if c := s.realm[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return nil, fmt.Errorf("validator: realm %q must be printable ASCII without quotes or backslashes", s.realm)
		}
	}

	s.main = http.NewServeMux()
	s.main.HandleFunc("/v1/validate", s.handleValidate)
	s.main.HandleFunc("/healthz", s.handleHealth)
	s.main.HandleFunc("/readyz", s.handleReady)
	s.main.HandleFunc("/", handleNotFound)

	s.admin = http.NewServeMux()
	metrics := cfg.Metrics
	if metrics == nil {
		metrics = http.HandlerFunc(handleNotFound)
	}
	s.admin.Handle("/metrics", metrics)
	s.admin.HandleFunc("/healthz", s.handleHealth)
	s.admin.HandleFunc("/readyz", s.handleReady)
	s.admin.HandleFunc("/", handleNotFound)
	return s, nil
}

// Handler returns the main listener's handler: POST /v1/validate, GET
// /healthz, GET /readyz.
func (s *Service) Handler() http.Handler { return noStore(s.main) }

// AdminHandler returns the admin listener's handler: /metrics, /healthz,
// /readyz and everything registered with HandleAdmin. It must only be
// reachable by operators: it serves revocation endpoints.
func (s *Service) AdminHandler() http.Handler { return noStore(s.admin) }

// HandleMain registers h for pattern on the main handler (forward-auth's
// /v1/auth). Call it before serving; it panics on a conflicting pattern.
func (s *Service) HandleMain(pattern string, h http.Handler) { s.main.Handle(pattern, h) }

// HandleAdmin registers h for pattern (http.ServeMux syntax) on the admin
// handler. Call it before serving. Like http.ServeMux.Handle it panics on a
// pattern that conflicts with one already registered: a wiring bug.
func (s *Service) HandleAdmin(pattern string, h http.Handler) { s.admin.Handle(pattern, h) }

// Realm is the realm of this service's challenges, for handlers built
// beside it (forward-auth) that call WriteError.
func (s *Service) Realm() string { return s.realm }

// noStore marks every response uncacheable before any handler runs, so
// handlers registered later (metrics, revocation) inherit it.
func noStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

func (s *Service) handleHealth(w http.ResponseWriter, r *http.Request) {
	if !allowGet(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, statusBody{"ok"})
}

func (s *Service) handleReady(w http.ResponseWriter, r *http.Request) {
	if !allowGet(w, r) {
		return
	}
	if s.ready != nil && !s.ready() {
		writeJSON(w, http.StatusServiceUnavailable, statusBody{"not ready"})
		return
	}
	writeJSON(w, http.StatusOK, statusBody{"ok"})
}

type statusBody struct {
	Status string `json:"status"`
}

func allowGet(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "invalid_request", Description: "method not allowed"})
	return false
}

func handleNotFound(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusNotFound, errorBody{Error: "not_found"})
}

// callerAllowed checks X-API-Key against every configured key without
// stopping early, so timing reveals neither which key matched nor how much.
func (s *Service) callerAllowed(h http.Header) bool {
	if len(s.apiKeys) == 0 {
		return true
	}
	vals := h.Values("X-API-Key")
	if len(vals) != 1 || vals[0] == "" {
		return false
	}
	return secretMatches([]byte(vals[0]), s.apiKeys)
}

// secretMatches compares a presented secret with the digests of the accepted
// ones in constant time: over SHA-256 digests, so that neither the content
// nor the length leaks, and against every digest, so that which one matched
// does not either.
func secretMatches(presented []byte, digests [][sha256.Size]byte) bool {
	got := sha256.Sum256(presented)
	ok := 0
	for i := range digests {
		ok |= subtle.ConstantTimeCompare(got[:], digests[i][:])
	}
	return ok == 1
}

func sortedKeys(m map[string]strategy.Strategy) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
