package jwks

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokenwarden/tokenwarden/internal/clock"
)

// Defaults applied by New to zero-valued Config fields.
const (
	DefaultRefreshInterval       = 5 * time.Minute
	DefaultUnknownKIDMinInterval = 10 * time.Second
	DefaultMaxStale              = time.Hour
	DefaultTimeout               = 5 * time.Second
	DefaultMaxBodyBytes          = 1 << 20
)

// Internal bounds. They are not configurable because no legitimate issuer
// needs more, and each one caps what an attacker (or a broken IdP) can make
// the resolver store or do.
const (
	maxKIDLen        = 256  // longer kids are never stored nor looked up
	maxNegative      = 1024 // negative-cache entries
	maxKeysPerSet    = 256  // usable keys kept from one JWK Set
	maxRedirects     = 3
	maxLoggedValue   = 128 // remote strings quoted in errors and logs are cut here
	maxBackoffShifts = 16
)

// Config describes one issuer's key source. The zero value of every duration
// and size selects its default.
type Config struct {
	// Name labels this issuer in metrics and logs; keep it short (a metric
	// label). Default: Issuer.
	Name string
	// Issuer is the expected issuer. The discovery document's "issuer" must
	// equal it exactly (OIDC Discovery §4.3); a trailing-slash difference is
	// a mismatch.
	Issuer string
	// DiscoveryURL defaults to Issuer (trailing "/" removed) +
	// "/.well-known/openid-configuration".
	DiscoveryURL string
	// JWKSURL, when set, is used instead of the discovery document's
	// jwks_uri, and key resolution then needs no discovery at all.
	JWKSURL string
	// Algorithms allowed (RS256, RS384, RS512, PS256, PS384, PS512, ES256,
	// ES384, ES512, EdDSA). Default [RS256]. "none" and HS* are refused by New.
	Algorithms []string
	// RefreshInterval between background refreshes. Default 5m.
	RefreshInterval time.Duration
	// UnknownKIDMinInterval: at most one forced fetch for unknown kids per
	// interval, and at most one on-demand load attempt per interval while
	// keys are missing or too stale. Default 10s.
	UnknownKIDMinInterval time.Duration
	// NegativeTTL: how long a kid still unknown after a forced refresh is
	// answered with ErrUnknownKID without fetching. Default UnknownKIDMinInterval.
	NegativeTTL time.Duration
	// MaxStale: last good keys are served this long after the last success.
	// Default 1h.
	MaxStale time.Duration
	// Timeout per HTTP fetch. Default 5s.
	Timeout time.Duration
	// MaxBodyBytes bounds the discovery and JWKS responses. Default 1 MiB.
	MaxBodyBytes int64
	// CAFile is a PEM bundle trusted in addition to the system roots. Used
	// only when no WithHTTPClient is given. New reads it (the one local I/O
	// it does) so that a bad file fails at startup, not at the first fetch.
	CAFile string
}

// Errors. Callers branch on them with errors.Is; package strategy translates
// them: ErrUnknownKID and ErrAlgMismatch are invalid tokens (401), the others
// are unavailability (503, retryable).
var (
	// ErrUnknownKID: no key with this kid after a refresh (or negative-cached),
	// or no kid and not exactly one key for the alg.
	ErrUnknownKID = errors.New("jwks: unknown kid")
	// ErrAlgMismatch: the alg is not allowed, or is not the alg the key is
	// bound to.
	ErrAlgMismatch = errors.New("jwks: alg mismatch")
	// ErrRefreshSuppressed: the kid is unknown and a forced refresh is
	// rate-limited right now. Retryable; never negative-cached, so a token
	// signed with a freshly rotated key succeeds once a fetch is allowed.
	ErrRefreshSuppressed = errors.New("jwks: unknown kid, refresh suppressed")
	// ErrKeysUnavailable: keys were never loaded, or the last success is older
	// than MaxStale, or the fetch failed, or the caller's ctx ended while
	// waiting. Every fetch failure (including ErrDiscovery and
	// ErrIssuerMismatch) matches it.
	ErrKeysUnavailable = errors.New("jwks: keys unavailable")
	// ErrDiscovery: the discovery document is not usable (bad JSON, no
	// jwks_uri, issuer mismatch).
	ErrDiscovery = errors.New("invalid discovery document")
	// ErrIssuerMismatch: the discovery document names another issuer. It
	// also matches ErrDiscovery and ErrKeysUnavailable.
	ErrIssuerMismatch = errors.New("issuer mismatch")
	// ErrInvalidConfig is returned by New.
	ErrInvalidConfig = errors.New("jwks: invalid config")
)

// Option configures collaborators and test seams of a Resolver.
type Option func(*options)

type options struct {
	client  *http.Client
	reg     prometheus.Registerer
	regSet  bool
	metrics *Metrics
	clock   clock.Clock
	log     *slog.Logger
}

// WithHTTPClient sets the client for discovery and JWKS fetches; CAFile is
// then ignored. Each fetch is still bounded by Config.Timeout.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithRegisterer registers the resolver's metrics with reg (nil: none).
// Several resolvers may share one registry: an already registered family is
// reused (see NewMetrics).
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(o *options) { o.reg, o.regSet = reg, true }
}

// WithMetrics shares one Metrics between resolvers; it wins over WithRegisterer.
func WithMetrics(m *Metrics) Option { return func(o *options) { o.metrics = m } }

// WithClock sets the clock for staleness, rate-limit and negative-cache
// decisions (not for the background loop's timer).
func WithClock(c clock.Clock) Option { return func(o *options) { o.clock = c } }

// WithLogger sets the logger. Default slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// sigAlgs maps every supported JWS algorithm to the key type it needs.
// Nothing else (none, HS*, RSA-OAEP, ...) can ever be bound to a key.
var sigAlgs = map[string]string{
	"RS256": "RSA", "RS384": "RSA", "RS512": "RSA",
	"PS256": "RSA", "PS384": "RSA", "PS512": "RSA",
	"ES256": "EC", "ES384": "EC", "ES512": "EC",
	"EdDSA": "OKP",
}

// withDefaults validates c and fills in defaults.
func (c Config) withDefaults() (Config, error) {
	bad := func(format string, a ...any) (Config, error) {
		return c, fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, a...))
	}
	if c.Issuer == "" {
		return bad("issuer is required")
	}
	if c.Name == "" {
		c.Name = c.Issuer
	}
	if c.DiscoveryURL == "" {
		// OIDC Discovery §4: remove a terminating "/" before appending.
		c.DiscoveryURL = strings.TrimSuffix(c.Issuer, "/") + "/.well-known/openid-configuration"
	}
	for _, u := range []struct{ name, v string }{{"discovery_url", c.DiscoveryURL}, {"jwks_url", c.JWKSURL}} {
		if u.v == "" {
			continue
		}
		p, err := url.Parse(u.v)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return bad("%s %q is not an absolute http(s) URL", u.name, u.v)
		}
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{"RS256"}
	}
	for _, a := range c.Algorithms {
		if _, ok := sigAlgs[a]; !ok {
			return bad("algorithm %q not supported (never none or HS*)", a)
		}
	}
	c.Algorithms = append([]string(nil), c.Algorithms...)
	for _, d := range []struct {
		name string
		p    *time.Duration
		def  time.Duration
	}{
		{"refresh_interval", &c.RefreshInterval, DefaultRefreshInterval},
		{"unknown_kid_min_interval", &c.UnknownKIDMinInterval, DefaultUnknownKIDMinInterval},
		{"negative_ttl", &c.NegativeTTL, 0},
		{"max_stale", &c.MaxStale, DefaultMaxStale},
		{"timeout", &c.Timeout, DefaultTimeout},
	} {
		if *d.p < 0 {
			return bad("%s must not be negative", d.name)
		}
		if *d.p == 0 {
			*d.p = d.def
			if d.name == "negative_ttl" {
				*d.p = c.UnknownKIDMinInterval // defaulted by the row above
			}
		}
	}
	if c.MaxBodyBytes < 0 {
		return bad("max_body_bytes must not be negative")
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return c, nil
}

// newHTTPClient builds the default client: TLS 1.2+, system roots plus
// CAFile, per-request timeout, at most maxRedirects redirects.
func newHTTPClient(c Config) (*http.Client, error) {
	tcfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: ca_file: %w", ErrInvalidConfig, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: ca_file %q holds no PEM certificate", ErrInvalidConfig, c.CAFile)
		}
		tcfg.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tcfg
	return &http.Client{
		Transport: tr,
		Timeout:   c.Timeout,
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return nil
		},
	}, nil
}

// Metadata is the part of the issuer's discovery document tokenwarden uses.
// Raw holds the whole (size-bounded) document.
type Metadata struct {
	Issuer                   string          `json:"issuer"`
	JWKSURI                  string          `json:"jwks_uri"` // the effective one: Config.JWKSURL if set
	IntrospectionEndpoint    string          `json:"introspection_endpoint"`
	TokenEndpoint            string          `json:"token_endpoint"`
	RevocationEndpoint       string          `json:"revocation_endpoint"`
	EndSessionEndpoint       string          `json:"end_session_endpoint"`
	IntrospectionAuthMethods []string        `json:"introspection_endpoint_auth_methods_supported"`
	Raw                      json.RawMessage `json:"-"`
}

// clip bounds a remote-controlled string before it goes into an error or log.
func clip(s string) string {
	if len(s) <= maxLoggedValue {
		return s
	}
	return s[:maxLoggedValue] + "..."
}
