package config

import (
	"math"
	"strings"
	"time"
)

// Defaults applied by [Config.ApplyDefaults] to keys left unset (zero).
// Because zero means "unset", a duration cannot be configured as exactly 0
// where it has a non-zero default; use a small value such as 1s instead.
const (
	DefaultAddr             = "127.0.0.1:8080"
	DefaultAdminAddr        = "127.0.0.1:8081"
	DefaultMaxBodyBytes     = 64 << 10 // server.max_body_bytes
	DefaultMaxHeaderBytes   = 32 << 10 // server.max_header_bytes
	DefaultReadTimeout      = 5 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	DefaultIdleTimeout      = 60 * time.Second
	DefaultShutdownTimeout  = 10 * time.Second
	DefaultMaxInFlight      = 1024
	DefaultVerifiedCache    = 100000
	DefaultAuthHeaderPrefix = "X-Auth-" // server.auth_header_prefix

	DefaultTokenProfile  = ProfileKeycloak
	DefaultAlgorithm     = "RS256"
	DefaultClockSkew     = 30 * time.Second
	DefaultMaxTokenBytes = 16 << 10

	DefaultJWKSRefreshInterval       = 5 * time.Minute
	DefaultJWKSUnknownKIDMinInterval = 10 * time.Second
	DefaultJWKSMaxStale              = time.Hour
	DefaultJWKSTimeout               = 5 * time.Second
	DefaultJWKSMaxBodyBytes          = 1 << 20

	DefaultIntrospectionAuthMethod    = AuthClientSecretBasic
	DefaultIntrospectionTimeout       = 2 * time.Second
	DefaultIntrospectionMaxConcurrent = 64
	DefaultIntrospectionMaxBodyBytes  = 64 << 10
	DefaultIntrospectionCacheEntries  = 100_000
	DefaultIntrospectionCacheMaxTTL   = 60 * time.Second
	DefaultIntrospectionNegativeTTL   = 10 * time.Second
	DefaultBreakerFailureThreshold    = 5
	DefaultBreakerOpenTimeout         = 10 * time.Second
	DefaultPrivateKeyAlg              = "RS256"

	DefaultRevocationWindow     = time.Hour
	DefaultRevocationMaxEntries = 100_000

	DefaultStrategyName   = "local" // the strategy created when none is configured
	DefaultStandardMaxAge = 30 * time.Second
	DefaultOnUnavailable  = OnUnavailableFailClosed

	DefaultLogLevel  = "info"
	DefaultLogFormat = "json"
)

// Enumerated values.
const (
	ProfileKeycloak = "keycloak"
	ProfileRFC9068  = "rfc9068"
	ProfileGeneric  = "generic"

	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthPrivateKeyJWT     = "private_key_jwt"
	AuthNone              = "none"

	StrategyLocal         = "local"
	StrategyIntrospection = "introspection"
	StrategyTiered        = "tiered"

	OnUnavailableFailClosed = "fail_closed"
	OnUnavailableLocal      = "local"
)

// DiscoveryPath is appended to the issuer (without its trailing slash) to
// form the default discovery URL (OpenID Connect Discovery 1.0 §4).
const DiscoveryPath = "/.well-known/openid-configuration"

// ApplyDefaults fills unset (zero) keys with the Default* values above and
// normalises case where the value is case-insensitive: route methods are
// upper-cased, log level and format lower-cased. Per issuer, DiscoveryURL
// defaults to Issuer + DiscoveryPath; introspection.burst defaults to
// ceil(rate_per_second) when a rate is set. When no strategy is configured,
// a single strategy "local" of type local is created; when exactly one is
// configured and default_strategy is empty, it becomes the default.
// revocation.restart_window defaults to true.
//
// ApplyDefaults is idempotent. It is not safe for concurrent use with other
// access to c.
func (c *Config) ApplyDefaults() {
	s := &c.Server
	setStr(&s.Addr, DefaultAddr)
	setStr(&s.AdminAddr, DefaultAdminAddr)
	setNum(&s.MaxBodyBytes, DefaultMaxBodyBytes)
	setNum(&s.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setNum(&s.ReadTimeout, DefaultReadTimeout)
	setNum(&s.WriteTimeout, DefaultWriteTimeout)
	setNum(&s.IdleTimeout, DefaultIdleTimeout)
	setNum(&s.ShutdownTimeout, DefaultShutdownTimeout)
	setNum(&s.MaxInFlight, DefaultMaxInFlight)
	setNum(&s.VerifiedCacheEntries, DefaultVerifiedCache)
	setStr(&s.AuthHeaderPrefix, DefaultAuthHeaderPrefix)

	for i := range c.Issuers {
		c.Issuers[i].applyDefaults()
	}

	r := &c.Revocation
	setNum(&r.Window, DefaultRevocationWindow)
	setNum(&r.MaxEntries, DefaultRevocationMaxEntries)
	if r.RestartWindow == nil {
		t := true
		r.RestartWindow = &t
	}

	if len(c.Strategies) == 0 {
		c.Strategies = map[string]Strategy{DefaultStrategyName: {Type: StrategyLocal}}
	}
	for name, st := range c.Strategies {
		setNum(&st.StandardMaxAge, DefaultStandardMaxAge)
		setStr(&st.OnUnavailable, DefaultOnUnavailable)
		c.Strategies[name] = st
	}
	if c.DefaultStrategy == "" && len(c.Strategies) == 1 {
		for name := range c.Strategies {
			c.DefaultStrategy = name
		}
	}

	for i := range c.Routes {
		for j, m := range c.Routes[i].Methods {
			c.Routes[i].Methods[j] = strings.ToUpper(strings.TrimSpace(m))
		}
	}

	c.Log.Level = strings.ToLower(c.Log.Level)
	c.Log.Format = strings.ToLower(c.Log.Format)
	setStr(&c.Log.Level, DefaultLogLevel)
	setStr(&c.Log.Format, DefaultLogFormat)
}

func (is *Issuer) applyDefaults() {
	if is.DiscoveryURL == "" && is.Issuer != "" {
		is.DiscoveryURL = strings.TrimSuffix(is.Issuer, "/") + DiscoveryPath
	}
	setStr(&is.TokenProfile, DefaultTokenProfile)
	if len(is.Algorithms) == 0 {
		is.Algorithms = []string{DefaultAlgorithm}
	}
	setNum(&is.ClockSkew, DefaultClockSkew)
	setNum(&is.MaxTokenBytes, DefaultMaxTokenBytes)

	j := &is.JWKS
	setNum(&j.RefreshInterval, DefaultJWKSRefreshInterval)
	setNum(&j.UnknownKIDMinInterval, DefaultJWKSUnknownKIDMinInterval)
	setNum(&j.MaxStale, DefaultJWKSMaxStale)
	setNum(&j.Timeout, DefaultJWKSTimeout)
	setNum(&j.MaxBodyBytes, DefaultJWKSMaxBodyBytes)

	in := &is.Introspection
	setStr(&in.AuthMethod, DefaultIntrospectionAuthMethod)
	setStr(&in.PrivateKeyAlg, DefaultPrivateKeyAlg)
	setNum(&in.Timeout, DefaultIntrospectionTimeout)
	setNum(&in.MaxConcurrent, DefaultIntrospectionMaxConcurrent)
	setNum(&in.MaxBodyBytes, DefaultIntrospectionMaxBodyBytes)
	if in.RatePerSecond > 0 && in.Burst == 0 && in.RatePerSecond < math.MaxInt32 {
		in.Burst = max(1, int(math.Ceil(in.RatePerSecond)))
	}
	setNum(&in.Cache.MaxEntries, DefaultIntrospectionCacheEntries)
	setNum(&in.Cache.MaxTTL, DefaultIntrospectionCacheMaxTTL)
	setNum(&in.Cache.NegativeTTL, DefaultIntrospectionNegativeTTL)
	setNum(&in.Breaker.FailureThreshold, DefaultBreakerFailureThreshold)
	setNum(&in.Breaker.OpenTimeout, DefaultBreakerOpenTimeout)
}

func setStr(p *string, def string) {
	if *p == "" {
		*p = def
	}
}

func setNum[T int | int64 | time.Duration](p *T, def T) {
	if *p == 0 {
		*p = def
	}
}
