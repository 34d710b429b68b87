package app

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/pflag"

	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/internal/config"
	"github.com/tokenwarden/tokenwarden/introspection"
	"github.com/tokenwarden/tokenwarden/jwks"
	"github.com/tokenwarden/tokenwarden/revocation"
	"github.com/tokenwarden/tokenwarden/strategy"
	"github.com/tokenwarden/tokenwarden/validator"
)

// App is one wired tokenwarden: per issuer one key resolver, one shared
// Verifier (and its verified-claims cache), and the named strategies built
// on them once. Build makes one; Start begins key loading; Close stops it.
type App struct {
	cfg       *config.Config
	registry  *prometheus.Registry
	resolvers []*jwks.Resolver
	// introspectors: one RFC 7662 client (cache, coalescing, breaker) per
	// issuer with introspection enabled, shared by every strategy.
	introspectors []*introspection.Client
	// store holds what the IdP told us (logouts, not-before, learned).
	store      *revocation.Memory
	verifier   *strategy.Verifier
	strategies map[string]strategy.Strategy
	service    *validator.Service
	log        *slog.Logger
	sm         *strategy.Metrics

	// mu serialises reloads; requests never take it.
	mu sync.Mutex
	// level is the live log level (reloadable), when the logger came from NewLogger.
	level *slog.LevelVar
	// flags are re-applied on reload so command-line overrides stay in force.
	flags *pflag.FlagSet
	// client, when set, replaces the HTTP clients of the key resolvers and
	// introspection clients.
	client *http.Client
	// auth is the forward-auth handler, swapped whole on reload.
	auth swapHandler
}

// Option sets a collaborator of Build.
type Option func(*App)

// WithHTTPClient makes every issuer's key resolver (discovery and JWKS) and
// introspection client send its requests with c instead of building its own
// client. The issuer's tls.ca_file and the per-request timeouts of those
// default clients are then c's business. An end-to-end suite uses it to count
// the calls that reach the IdP.
func WithHTTPClient(c *http.Client) Option { return func(a *App) { a.client = c } }

// WithLevelVar gives the live log level of the logger passed to Build (as
// NewLogger returns it), so that Reload applies a changed log.level.
func WithLevelVar(level *slog.LevelVar) Option { return func(a *App) { a.level = level } }

// WithFlags gives the command-line flags the configuration was loaded with;
// Watch re-applies them to every reloaded file so overrides stay in force.
func WithFlags(fs *pflag.FlagSet) Option { return func(a *App) { a.flags = fs } }

// swapHandler serves the handler last stored; requests in flight finish on
// the one they started with.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

func (s *swapHandler) store(h http.Handler) { s.h.Store(&h) }

// NewLogger returns the service logger, writing to standard error in
// log.format, and its live level (pass it to Build with WithLevelVar).
func NewLogger(c config.Log) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), level
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts)), level
}

// Build wires cfg as `tokenwarden serve` runs it. It does no network I/O
// (it reads the secret files cfg names); Start begins key loading. The
// caller owns the App and must Close it.
func Build(cfg *config.Config, log *slog.Logger, clk clock.Clock, opts ...Option) (*App, error) {
	a := &App{cfg: cfg, registry: prometheus.NewRegistry(), log: log, strategies: map[string]strategy.Strategy{}}
	for _, o := range opts {
		o(a)
	}
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	jm := jwks.NewMetrics(a.registry)
	im := introspection.NewMetrics(a.registry)
	rm := revocation.NewMetrics(a.registry)
	sm := strategy.NewMetrics(a.registry)
	a.sm = sm
	var issuers []strategy.IssuerConfig
	for _, is := range cfg.Issuers {
		r, err := jwks.New(jwks.Config{
			Name:                  is.Name,
			Issuer:                is.Issuer,
			DiscoveryURL:          is.DiscoveryURL,
			JWKSURL:               is.JWKSURL,
			Algorithms:            is.Algorithms,
			RefreshInterval:       is.JWKS.RefreshInterval,
			UnknownKIDMinInterval: is.JWKS.UnknownKIDMinInterval,
			MaxStale:              is.JWKS.MaxStale,
			Timeout:               is.JWKS.Timeout,
			MaxBodyBytes:          is.JWKS.MaxBodyBytes,
			CAFile:                is.TLS.CAFile,
		}, a.jwksOptions(jm, log, clk)...)
		if err != nil {
			return nil, fmt.Errorf("issuer %s: %w", is.Name, err)
		}
		a.resolvers = append(a.resolvers, r)
		var intro strategy.Introspector
		if is.Introspection.Enabled {
			c, err := a.newIntrospectionClient(is, r, im, log, clk)
			if err != nil {
				a.Close()
				return nil, fmt.Errorf("issuers %s: introspection: %w", is.Name, err)
			}
			a.introspectors = append(a.introspectors, c)
			intro = c
		}
		issuers = append(issuers, strategy.IssuerConfig{
			Name:              is.Name,
			Issuer:            is.Issuer,
			Audiences:         is.Audiences,
			AuthorizedParties: is.AuthorizedParties,
			Profile:           strategy.Profile(is.TokenProfile),
			Algorithms:        is.Algorithms,
			ClockSkew:         is.ClockSkew,
			MaxTokenBytes:     is.MaxTokenBytes,
			Keys:              r,
			Introspector:      intro,
			IntrospectOpaque:  is.Introspection.IntrospectOpaque,
		})
	}
	store, err := revocation.NewMemory(revocation.Config{
		Window:        cfg.Revocation.Window,
		MaxEntries:    cfg.Revocation.MaxEntries,
		RestartWindow: cfg.Revocation.RestartWindow == nil || *cfg.Revocation.RestartWindow,
	}, revocation.WithMetrics(rm), revocation.WithLogger(log), revocation.WithClock(clk))
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("revocation: %w", err)
	}
	a.store = store
	v, err := strategy.NewVerifier(issuers, strategy.WithClock(clk), strategy.WithMetrics(sm), strategy.WithRevocation(store),
		strategy.WithCacheSize(cfg.Server.VerifiedCacheEntries))
	if err != nil {
		a.Close()
		return nil, err
	}
	a.verifier = v
	if a.strategies, err = a.buildStrategies(cfg); err != nil {
		a.Close()
		return nil, err
	}
	var apiKeys [][]byte
	if cfg.Server.APIKeys.IsSet() {
		lines, err := cfg.Server.APIKeys.ReadLines()
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("server.api_keys: %w", err)
		}
		for _, l := range lines {
			if l = strings.TrimSpace(l); l != "" {
				apiKeys = append(apiKeys, []byte(l))
			}
		}
	}
	vc := a.validatorConfig(cfg, a.strategies)
	vc.MaxBodyBytes = cfg.Server.MaxBodyBytes
	vc.APIKeys = apiKeys
	vc.Ready = a.Ready
	vc.Metrics = promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{})
	svc, err := validator.New(vc, validator.WithLogger(log), validator.WithClock(clk))
	if err != nil {
		a.Close()
		return nil, err
	}
	a.service = svc
	if err := a.mountRevocation(cfg, log, clk); err != nil {
		a.Close()
		return nil, err
	}
	if err := a.updateAuth(cfg, a.strategies); err != nil {
		a.Close()
		return nil, err
	}
	svc.HandleMain("/v1/auth", &a.auth)
	return a, nil
}

// buildStrategies builds the named strategies of cfg over the shared
// Verifier, instrumented. Called at start and on every reload: caches, key
// stores and revocation state live in the Verifier and survive.
func (a *App) buildStrategies(cfg *config.Config) (map[string]strategy.Strategy, error) {
	out := make(map[string]strategy.Strategy, len(cfg.Strategies))
	for name, sc := range cfg.Strategies {
		var s strategy.Strategy
		switch sc.Type {
		case "local":
			s = strategy.NewLocal(name, a.verifier)
		case "introspection":
			s = strategy.NewIntrospect(name, a.verifier, strategy.IntrospectConfig{
				StandardMaxAge: sc.StandardMaxAge, SensitiveMaxAge: sc.SensitiveMaxAge,
			})
		case "tiered":
			s = strategy.NewTiered(name, a.verifier, strategy.TieredConfig{
				SensitiveScopes: sc.SensitiveScopes, SensitiveIfTokenHas: sc.SensitiveIfTokenHas,
				MaxLocalAge: sc.MaxLocalAge, SensitiveMaxAge: sc.SensitiveMaxAge, StandardMaxAge: sc.StandardMaxAge,
				SampleRate: sc.SampleRate, OnUnavailable: strategy.OnUnavailable(sc.OnUnavailable),
				IntrospectWhenKeysUnavailable: sc.IntrospectWhenKeysUnavailable,
			})
		default:
			return nil, fmt.Errorf("strategies.%s.type: unknown type %q", name, sc.Type)
		}
		out[name] = strategy.Instrument(name, s, a.sm)
	}
	return out, nil
}

// validatorConfig is the reloadable part of the service's configuration.
func (a *App) validatorConfig(cfg *config.Config, strategies map[string]strategy.Strategy) validator.Config {
	return validator.Config{
		Strategies:            strategies,
		DefaultStrategy:       cfg.DefaultStrategy,
		AllowStrategyOverride: cfg.Server.AllowStrategyOverride,
		ExposeClaims:          cfg.Server.ExposeClaims,
	}
}

// updateAuth builds the forward-auth handler for cfg's routes and swaps it in.
func (a *App) updateAuth(cfg *config.Config, strategies map[string]strategy.Strategy) error {
	h, err := newAuthHandler(cfg, strategies, a.service, a.log)
	if err != nil {
		return err
	}
	a.auth.store(h)
	return nil
}

// mountRevocation serves the revocation sources on the admin listener:
// back-channel logout (when logout audiences are configured), Keycloak's
// not-before push (when a resource is configured) and the admin API (when
// an admin secret is configured).
func (a *App) mountRevocation(cfg *config.Config, log *slog.Logger, clk clock.Clock) error {
	keys := map[string]revocation.KeySource{}
	var algs []string
	for i, is := range cfg.Issuers {
		keys[is.Issuer] = a.resolvers[i]
		for _, alg := range is.Algorithms {
			if !slices.Contains(algs, alg) {
				algs = append(algs, alg)
			}
		}
	}
	rc := validator.RevocationConfig{Store: a.store, Logger: log, Clock: clk, MaxBodyBytes: cfg.Server.MaxBodyBytes}
	if len(cfg.Issuers) > 0 {
		rc.DefaultIssuer = cfg.Issuers[0].Issuer
	}
	if len(cfg.Revocation.LogoutAudiences) > 0 {
		lv, err := revocation.NewLogoutValidator(revocation.LogoutConfig{
			Issuers: keys, Algorithms: algs, Audiences: cfg.Revocation.LogoutAudiences,
		}, revocation.WithClock(clk), revocation.WithLogger(log))
		if err != nil {
			return fmt.Errorf("revocation.logout_audiences: %w", err)
		}
		rc.Logout = lv
	}
	if cfg.Revocation.NotBeforeResource != "" {
		nv, err := revocation.NewNotBeforeValidator(revocation.NotBeforeConfig{
			Issuers: keys, Algorithms: algs, Resource: cfg.Revocation.NotBeforeResource,
		}, revocation.WithClock(clk), revocation.WithLogger(log))
		if err != nil {
			return fmt.Errorf("revocation.not_before_resource: %w", err)
		}
		rc.NotBefore = nv
	}
	if cfg.Revocation.AdminSecret.IsSet() {
		b, err := cfg.Revocation.AdminSecret.Read()
		if err != nil {
			return fmt.Errorf("revocation.admin_secret: %w", err)
		}
		rc.AdminSecret = b
	}
	return a.service.MountRevocation(rc)
}

// jwksOptions are the collaborators of every issuer's key resolver.
func (a *App) jwksOptions(m *jwks.Metrics, log *slog.Logger, clk clock.Clock) []jwks.Option {
	opts := []jwks.Option{jwks.WithMetrics(m), jwks.WithLogger(log), jwks.WithClock(clk)}
	if a.client != nil {
		opts = append(opts, jwks.WithHTTPClient(a.client))
	}
	return opts
}

// Service is the validate service: Handler for the main listener,
// AdminHandler for the admin one.
func (a *App) Service() *validator.Service { return a.service }

// Gatherer is the registry the admin listener's /metrics serves.
func (a *App) Gatherer() prometheus.Gatherer { return a.registry }

// Strategy returns the named strategy of the running configuration,
// instrumented as the service runs it.
func (a *App) Strategy(name string) (strategy.Strategy, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.strategies[name]
	return s, ok
}

// Store is the revocation store that back-channel logouts, not-before
// pushes, the admin API and introspection answers write to.
func (a *App) Store() *revocation.Memory { return a.store }

// Start begins background key refresh for every issuer, owned by ctx.
func (a *App) Start(ctx context.Context) {
	for _, r := range a.resolvers {
		r.Start(ctx)
	}
}

// Ready reports whether every issuer's keys have loaded once. Later IdP
// trouble does not make the service unready: cached keys still verify.
func (a *App) Ready() bool {
	for _, r := range a.resolvers {
		if !r.Ready() {
			return false
		}
	}
	return true
}

// Close stops key refresh and the introspection clients and releases the
// Verifier. The service's handlers must no longer be served.
func (a *App) Close() {
	for _, r := range a.resolvers {
		r.Close()
	}
	for _, c := range a.introspectors {
		c.Close()
	}
	if a.verifier != nil {
		a.verifier.Close()
	}
}

// newIntrospectionClient builds the issuer's one RFC 7662 client, shared by
// every named strategy. The endpoint comes from the configuration or, lazily,
// from the issuer's discovery document.
func (a *App) newIntrospectionClient(is config.Issuer, r *jwks.Resolver, m *introspection.Metrics, log *slog.Logger, clk clock.Clock) (*introspection.Client, error) {
	ic := is.Introspection
	cfg := introspection.Config{
		Name: is.Name, Endpoint: ic.Endpoint, AuthMethod: ic.AuthMethod, ClientID: ic.ClientID,
		Headers: ic.Headers, Timeout: ic.Timeout, MaxConcurrent: ic.MaxConcurrent,
		RatePerSecond: ic.RatePerSecond, Burst: ic.Burst, MaxBodyBytes: ic.MaxBodyBytes,
		CacheMaxEntries: ic.Cache.MaxEntries, CacheMaxTTL: ic.Cache.MaxTTL, NegativeTTL: ic.Cache.NegativeTTL,
		BreakerFailures: ic.Breaker.FailureThreshold, BreakerOpenTimeout: ic.Breaker.OpenTimeout,
		PrivateKeyAlg: ic.PrivateKeyAlg, Audience: is.Issuer,
	}
	if ic.ClientSecret.IsSet() {
		b, err := ic.ClientSecret.Read()
		if err != nil {
			return nil, fmt.Errorf("client_secret: %w", err)
		}
		cfg.ClientSecret = b
	}
	if ic.PrivateKey.IsSet() {
		b, err := ic.PrivateKey.Read()
		if err != nil {
			return nil, fmt.Errorf("private_key: %w", err)
		}
		k, kid, err := parsePrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("private_key: %w", err)
		}
		cfg.PrivateKey, cfg.PrivateKeyID = k, kid
	}
	opts := []introspection.Option{introspection.WithMetrics(m), introspection.WithLogger(log), introspection.WithClock(clk)}
	if a.client != nil {
		opts = append(opts, introspection.WithHTTPClient(a.client))
	}
	if cfg.Endpoint == "" {
		opts = append(opts, introspection.WithEndpointFunc(func(ctx context.Context) (string, error) {
			md, err := r.Metadata(ctx)
			if err != nil {
				return "", err
			}
			if md.IntrospectionEndpoint == "" {
				return "", fmt.Errorf("the discovery document names no introspection_endpoint")
			}
			return md.IntrospectionEndpoint, nil
		}))
	}
	return introspection.New(cfg, opts...)
}

// parsePrivateKey reads a PEM (PKCS#8, PKCS#1 or SEC 1) or JWK private key.
func parsePrivateKey(b []byte) (crypto.Signer, string, error) {
	if k, err := jwk.ParseKey(b); err == nil {
		var raw any
		if err := k.Raw(&raw); err != nil {
			return nil, "", err
		}
		if s, ok := raw.(crypto.Signer); ok {
			return s, k.KeyID(), nil
		}
		return nil, "", fmt.Errorf("JWK is not a private signing key")
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, "", fmt.Errorf("neither PEM nor JWK")
	}
	if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, "", nil
		}
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return k, "", nil
	}
	if k, err := x509.ParseECPrivateKey(blk.Bytes); err == nil {
		return k, "", nil
	}
	return nil, "", fmt.Errorf("unsupported PEM private key")
}

// ServerConfig is the listeners' part of s, for validator.Serve.
func ServerConfig(s config.Server) validator.ServerConfig {
	return validator.ServerConfig{
		Addr: s.Addr, AdminAddr: s.AdminAddr,
		ReadTimeout: s.ReadTimeout, WriteTimeout: s.WriteTimeout, IdleTimeout: s.IdleTimeout,
		ShutdownTimeout: s.ShutdownTimeout, MaxHeaderBytes: s.MaxHeaderBytes, MaxInFlight: s.MaxInFlight,
	}
}
