package config

import "time"

// Config is tokenwarden's whole configuration (YAML file, TOKENWARDEN_* env
// variables, flags). Keys are snake_case; unknown keys are errors.
type Config struct {
	Server     Server     `mapstructure:"server"`
	Issuers    []Issuer   `mapstructure:"issuers"`
	Revocation Revocation `mapstructure:"revocation"`
	// Strategies maps a name (lower case: viper folds keys) to a strategy.
	Strategies      map[string]Strategy `mapstructure:"strategies"`
	DefaultStrategy string              `mapstructure:"default_strategy"`
	Routes          []Route             `mapstructure:"routes"`
	Log             Log                 `mapstructure:"log"`
}

// Server configures the two listeners.
type Server struct {
	// Addr serves /v1/validate, /v1/auth and health. Default 127.0.0.1:8080.
	Addr string `mapstructure:"addr"`
	// AdminAddr serves revocation endpoints, /metrics and health. Default 127.0.0.1:8081.
	AdminAddr string `mapstructure:"admin_addr"`
	// AllowStrategyOverride lets a /v1/validate body name a strategy. Default false.
	AllowStrategyOverride bool `mapstructure:"allow_strategy_override"`
	// ExposeClaims lists the claims a 200 response may contain.
	ExposeClaims []string `mapstructure:"expose_claims"`
	// MaxBodyBytes bounds request bodies. Default 64 KiB.
	MaxBodyBytes int64 `mapstructure:"max_body_bytes"`
	// MaxHeaderBytes bounds request headers. Default 32 KiB.
	MaxHeaderBytes int `mapstructure:"max_header_bytes"`
	// Timeouts of both servers. Defaults 5s, 10s, 60s; shutdown 10s.
	ReadTimeout     time.Duration `mapstructure:"read_timeout"`
	WriteTimeout    time.Duration `mapstructure:"write_timeout"`
	IdleTimeout     time.Duration `mapstructure:"idle_timeout"`
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// MaxInFlight sheds requests over this many in flight per listener with 503 (default 1024).
	MaxInFlight int `mapstructure:"max_in_flight"`
	// VerifiedCacheEntries bounds the verified-claims cache shared by every
	// strategy (about 1.8 KiB an entry). Default 100000.
	VerifiedCacheEntries int `mapstructure:"verified_cache_entries"`
	// APIKeys, when set, are required from callers of the validate API
	// (header X-API-Key). One key per line in the file or env value.
	APIKeys Secret `mapstructure:"api_keys"`
	// TrustedProxies are CIDRs whose X-Forwarded-*/X-Original-* headers are believed.
	TrustedProxies []string `mapstructure:"trusted_proxies"`
	// AuthHeaderPrefix prefixes the identity headers of a /v1/auth 200
	// (Subject, Client-Id, Scope, Roles, Decided-By, Rule). Default "X-Auth-".
	AuthHeaderPrefix string `mapstructure:"auth_header_prefix"`
}

// Secret names where a secret comes from: a file or an environment variable,
// never the config file or a flag itself.
type Secret struct {
	File string `mapstructure:"file"`
	Env  string `mapstructure:"env"`
}

// IsSet reports whether a source is configured.
func (s Secret) IsSet() bool { return s.File != "" || s.Env != "" }

// Issuer is one trusted token issuer (an OIDC provider or Keycloak realm).
type Issuer struct {
	// Name is a short label used in metrics and logs.
	Name string `mapstructure:"name"`
	// DiscoveryURL is the OpenID discovery document URL. Default: Issuer +
	// "/.well-known/openid-configuration".
	DiscoveryURL string `mapstructure:"discovery_url"`
	// Issuer is the expected "iss", compared exactly; the discovery
	// document's issuer must equal it.
	Issuer string `mapstructure:"issuer"`
	// JWKSURL overrides the discovery document's jwks_uri.
	JWKSURL string `mapstructure:"jwks_url"`
	// Audiences: a token's aud must contain one of them.
	Audiences []string `mapstructure:"audiences"`
	// AuthorizedParties: an azp allowlist; required when Audiences is empty.
	AuthorizedParties []string `mapstructure:"authorized_parties"`
	// TokenProfile: keycloak (default) | rfc9068 | generic.
	TokenProfile string `mapstructure:"token_profile"`
	// Algorithms allowed; default [RS256]. Never none or HS*.
	Algorithms []string `mapstructure:"algorithms"`
	// ClockSkew tolerated on exp/nbf/iat. Default 30s, at most 5m.
	ClockSkew time.Duration `mapstructure:"clock_skew"`
	// MaxTokenBytes caps a token before any decoding. Default 16384.
	MaxTokenBytes int `mapstructure:"max_token_bytes"`

	TLS           TLS           `mapstructure:"tls"`
	JWKS          JWKS          `mapstructure:"jwks"`
	Introspection Introspection `mapstructure:"introspection"`
}

// TLS for connections to the issuer.
type TLS struct {
	// CAFile is a PEM bundle trusted in addition to the system roots.
	CAFile string `mapstructure:"ca_file"`
}

// JWKS configures key resolution.
type JWKS struct {
	RefreshInterval       time.Duration `mapstructure:"refresh_interval"`         // default 5m
	UnknownKIDMinInterval time.Duration `mapstructure:"unknown_kid_min_interval"` // default 10s
	MaxStale              time.Duration `mapstructure:"max_stale"`                // default 1h
	Timeout               time.Duration `mapstructure:"timeout"`                  // default 5s
	MaxBodyBytes          int64         `mapstructure:"max_body_bytes"`           // default 1 MiB
}

// Introspection configures RFC 7662 introspection at this issuer.
type Introspection struct {
	// Enabled turns introspection on for this issuer.
	Enabled bool `mapstructure:"enabled"`
	// Endpoint overrides the discovery document's introspection_endpoint.
	Endpoint string `mapstructure:"endpoint"`
	// AuthMethod: client_secret_basic (default) | client_secret_post | private_key_jwt | none.
	AuthMethod   string `mapstructure:"auth_method"`
	ClientID     string `mapstructure:"client_id"`
	ClientSecret Secret `mapstructure:"client_secret"`
	// PrivateKey is a PEM or JWK private key for private_key_jwt.
	PrivateKey Secret `mapstructure:"private_key"`
	// PrivateKeyAlg signs the private_key_jwt assertion. Default RS256.
	PrivateKeyAlg string `mapstructure:"private_key_alg"`
	// Headers are static headers sent with every call (auth_method none).
	Headers map[string]string `mapstructure:"headers"`
	// Timeout per call. Default 2s.
	Timeout time.Duration `mapstructure:"timeout"`
	// MaxConcurrent caps concurrent calls to the IdP. Default 64.
	MaxConcurrent int `mapstructure:"max_concurrent"`
	// RatePerSecond is an optional budget of calls per second (0: none), with Burst.
	RatePerSecond float64 `mapstructure:"rate_per_second"`
	Burst         int     `mapstructure:"burst"`
	// IntrospectOpaque sends non-JWT tokens that pass the format filter to this issuer.
	IntrospectOpaque bool `mapstructure:"introspect_opaque"`
	// MaxBodyBytes bounds the response. Default 64 KiB.
	MaxBodyBytes int64              `mapstructure:"max_body_bytes"`
	Cache        IntrospectionCache `mapstructure:"cache"`
	Breaker      Breaker            `mapstructure:"breaker"`
}

// IntrospectionCache bounds the introspection cache.
type IntrospectionCache struct {
	MaxEntries  int           `mapstructure:"max_entries"`  // default 100000
	MaxTTL      time.Duration `mapstructure:"max_ttl"`      // positive entries, never past exp; default 60s
	NegativeTTL time.Duration `mapstructure:"negative_ttl"` // default 10s
}

// Breaker configures the introspection circuit breaker.
type Breaker struct {
	FailureThreshold int           `mapstructure:"failure_threshold"` // consecutive failures; default 5
	OpenTimeout      time.Duration `mapstructure:"open_timeout"`      // default 10s
}

// Revocation configures what tokenwarden remembers of revocation events.
type Revocation struct {
	// Window is how long an entry lives: at least the longest access-token
	// lifetime. Default 1h.
	Window time.Duration `mapstructure:"window"`
	// RestartWindow treats tokens issued before start as in a window. Default true.
	RestartWindow *bool `mapstructure:"restart_window"`
	// MaxEntries bounds the store. Default 100000.
	MaxEntries int `mapstructure:"max_entries"`
	// AdminSecret authenticates /v1/revocations.
	AdminSecret Secret `mapstructure:"admin_secret"`
	// LogoutAudiences are accepted aud values of back-channel logout tokens.
	LogoutAudiences []string `mapstructure:"logout_audiences"`
	// NotBeforeResource is the client id expected in Keycloak's PUSH_NOT_BEFORE action.
	NotBeforeResource string `mapstructure:"not_before_resource"`
}

// Strategy is one named strategy and its policy.
type Strategy struct {
	// Type: local | introspection | tiered.
	Type string `mapstructure:"type"`
	// SensitiveScopes: requiring (or, with SensitiveIfTokenHas, carrying) one
	// makes a request sensitive (tiered).
	SensitiveScopes     []string `mapstructure:"sensitive_scopes"`
	SensitiveIfTokenHas bool     `mapstructure:"sensitive_if_token_has"`
	// MaxLocalAge: older tokens are introspected (tiered; 0 = off).
	MaxLocalAge time.Duration `mapstructure:"max_local_age"`
	// SensitiveMaxAge: freshness of introspection answers for sensitive requests (default 0).
	SensitiveMaxAge time.Duration `mapstructure:"sensitive_max_age"`
	// StandardMaxAge: freshness for other triggers (default 30s).
	StandardMaxAge time.Duration `mapstructure:"standard_max_age"`
	// SampleRate: fraction of local decisions also introspected (0..1).
	SampleRate float64 `mapstructure:"sample_rate"`
	// OnUnavailable: fail_closed (default) | local.
	OnUnavailable string `mapstructure:"on_unavailable"`
	// IntrospectWhenKeysUnavailable asks the IdP when local keys cannot judge.
	IntrospectWhenKeysUnavailable bool `mapstructure:"introspect_when_keys_unavailable"`
}

// Route is one forward-auth rule of /v1/auth; the first match wins, and a
// request no rule matches gets the default strategy with no required scopes
// or roles. Matching is on the decoded, cleaned path, case-sensitively (see
// validator.Route and validator.CanonicalPath).
type Route struct {
	// Name labels the rule in logs and X-Auth-Rule: [a-z0-9_-]+, unique,
	// not "default". Optional.
	Name string `mapstructure:"name"`
	// Methods, upper-cased on load; empty means any. GET also matches HEAD.
	Methods []string `mapstructure:"methods"`
	// Path is a segment prefix ("/api/" and "/api" both match /api and
	// everything below, not /apix) or a glob ("/api/*/admin": * is one
	// segment; "/api/*/admin/**": ** is any suffix, last segment only).
	Path string `mapstructure:"path"`
	// Host restricts the rule to one host (no port; case-insensitive).
	Host     string   `mapstructure:"host"`
	Scopes   []string `mapstructure:"scopes"`
	Roles    []string `mapstructure:"roles"`
	Strategy string   `mapstructure:"strategy"` // default: default_strategy
	// Sensitive makes a tiered strategy ask the IdP for matching requests.
	Sensitive bool `mapstructure:"sensitive"`
	// OnUnavailable overrides the tiered strategy's on_unavailable for this
	// rule: fail_closed | local. Empty keeps the strategy's.
	OnUnavailable string `mapstructure:"on_unavailable"`
	// Public rules need no token (no scopes, roles, strategy, sensitive or
	// on_unavailable then).
	Public bool `mapstructure:"public"`
}

// Log configures logging.
type Log struct {
	Level  string `mapstructure:"level"`  // debug | info (default) | warn | error
	Format string `mapstructure:"format"` // json (default) | text
}
