package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/internal/config"
	"github.com/tokenwarden/tokenwarden/jwks"
	"github.com/tokenwarden/tokenwarden/strategy"
	"github.com/tokenwarden/tokenwarden/validator"
)

// app is one wired tokenwarden: per issuer one key resolver, one shared
// Verifier (and its verified-claims cache), and the named strategies built
// on them once.
type app struct {
	cfg        *config.Config
	registry   *prometheus.Registry
	resolvers  []*jwks.Resolver
	verifier   *strategy.Verifier
	strategies map[string]strategy.Strategy
	service    *validator.Service
	log        *slog.Logger
}

func newLogger(c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

// build wires cfg. It does no I/O; start begins key loading.
func build(cfg *config.Config, log *slog.Logger, clk clock.Clock) (*app, error) {
	a := &app{cfg: cfg, registry: prometheus.NewRegistry(), log: log, strategies: map[string]strategy.Strategy{}}
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	jm := jwks.NewMetrics(a.registry)
	sm := strategy.NewMetrics(a.registry)
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
		}, jwks.WithMetrics(jm), jwks.WithLogger(log), jwks.WithClock(clk))
		if err != nil {
			return nil, fmt.Errorf("issuer %s: %w", is.Name, err)
		}
		a.resolvers = append(a.resolvers, r)
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
		})
	}
	v, err := strategy.NewVerifier(issuers, strategy.WithClock(clk), strategy.WithMetrics(sm))
	if err != nil {
		return nil, err
	}
	a.verifier = v
	for name, sc := range cfg.Strategies {
		var s strategy.Strategy
		switch sc.Type {
		case "local":
			s = strategy.NewLocal(name, v)
		default:
			v.Close()
			return nil, fmt.Errorf("strategies.%s.type: %q is not available in this build (local only)", name, sc.Type)
		}
		a.strategies[name] = strategy.Instrument(name, s, sm)
	}
	var apiKeys [][]byte
	if cfg.Server.APIKeys.IsSet() {
		lines, err := cfg.Server.APIKeys.ReadLines()
		if err != nil {
			v.Close()
			return nil, fmt.Errorf("server.api_keys: %w", err)
		}
		for _, l := range lines {
			if l = strings.TrimSpace(l); l != "" {
				apiKeys = append(apiKeys, []byte(l))
			}
		}
	}
	svc, err := validator.New(validator.Config{
		Strategies:            a.strategies,
		DefaultStrategy:       cfg.DefaultStrategy,
		AllowStrategyOverride: cfg.Server.AllowStrategyOverride,
		ExposeClaims:          cfg.Server.ExposeClaims,
		MaxBodyBytes:          cfg.Server.MaxBodyBytes,
		APIKeys:               apiKeys,
		Ready:                 a.ready,
		Metrics:               promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{}),
	}, validator.WithLogger(log), validator.WithClock(clk))
	if err != nil {
		v.Close()
		return nil, err
	}
	a.service = svc
	return a, nil
}

// start begins background key refresh for every issuer, owned by ctx.
func (a *app) start(ctx context.Context) {
	for _, r := range a.resolvers {
		r.Start(ctx)
	}
}

// ready reports whether every issuer's keys have loaded once. Later IdP
// trouble does not make the service unready: cached keys still verify.
func (a *app) ready() bool {
	for _, r := range a.resolvers {
		if !r.Ready() {
			return false
		}
	}
	return true
}

func (a *app) close() {
	for _, r := range a.resolvers {
		r.Close()
	}
	a.verifier.Close()
}

func serverConfig(s config.Server) validator.ServerConfig {
	return validator.ServerConfig{
		Addr: s.Addr, AdminAddr: s.AdminAddr,
		ReadTimeout: s.ReadTimeout, WriteTimeout: s.WriteTimeout, IdleTimeout: s.IdleTimeout,
		ShutdownTimeout: s.ShutdownTimeout, MaxHeaderBytes: s.MaxHeaderBytes, MaxInFlight: s.MaxInFlight,
	}
}
