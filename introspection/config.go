package introspection

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"math"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
)

// The client authentication methods (RFC 7591 §2 token_endpoint_auth_method
// names, as advertised in introspection_endpoint_auth_methods_supported).
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthPrivateKeyJWT     = "private_key_jwt"
	AuthNone              = "none"
)

// The defaults New applies to zero fields.
const (
	DefaultName               = "default"
	DefaultTimeout            = 2 * time.Second
	DefaultMaxConcurrent      = 64
	DefaultMaxBodyBytes       = 64 << 10
	DefaultCacheMaxEntries    = 100_000
	DefaultCacheMaxTTL        = 60 * time.Second
	DefaultNegativeTTL        = 10 * time.Second
	DefaultBreakerFailures    = 5
	DefaultBreakerOpenTimeout = 10 * time.Second
	// AssertionLifetime is the exp - iat of a private_key_jwt assertion.
	AssertionLifetime = 60 * time.Second
)

// maxNameLen bounds Config.Name: it is a metric label value.
const maxNameLen = 64

// maxBodyLimit bounds Config.MaxBodyBytes: an introspection answer is a
// handful of claims, and every cached answer keeps its body in Raw.
const maxBodyLimit = 16 << 20

// Config configures one Client (one issuer). It is plain data; New validates
// it and fills the defaults. The zero value of every field means its default.
type Config struct {
	// Name labels this issuer in metrics and logs. It must be a short,
	// bounded name (the configured issuer name), never a URL from a token.
	// Default "default".
	Name string `mapstructure:"name"`
	// Endpoint is the introspection endpoint URL (from discovery, or explicit
	// such as Hydra's admin port). When empty, WithEndpointFunc must resolve it.
	Endpoint string `mapstructure:"endpoint"`
	// AuthMethod is client_secret_basic (default), client_secret_post,
	// private_key_jwt or none.
	AuthMethod string `mapstructure:"auth_method"`
	// ClientID is this resource server's client id at the IdP.
	ClientID string `mapstructure:"client_id"`
	// ClientSecret is for client_secret_basic/post. It is never logged.
	ClientSecret []byte `mapstructure:"-"`
	// PrivateKey signs the private_key_jwt assertion (RSA, ECDSA or Ed25519).
	PrivateKey crypto.Signer `mapstructure:"-"`
	// PrivateKeyAlg is the assertion's alg; default from the key type
	// (RS256, ES256/ES384/ES512 by curve, EdDSA).
	PrivateKeyAlg string `mapstructure:"private_key_alg"`
	// PrivateKeyID is the assertion header's kid (optional).
	PrivateKeyID string `mapstructure:"private_key_id"`
	// Audience is the assertion's aud. Keycloak accepts the realm issuer URL
	// or the token endpoint. Default: the introspection endpoint URL.
	Audience string `mapstructure:"audience"`
	// Headers are static headers sent with every call (e.g. a gateway key for
	// auth_method none). They may not set Content-Type, Content-Length, Host
	// or, unless AuthMethod is none, Authorization.
	Headers map[string]string `mapstructure:"headers"`
	// Timeout bounds one IdP call, including the wait for a concurrency
	// slot and the retry. Default 2s.
	Timeout time.Duration `mapstructure:"timeout"`
	// MaxConcurrent caps concurrent IdP calls. Default 64.
	MaxConcurrent int `mapstructure:"max_concurrent"`
	// RatePerSecond is an optional budget of IdP calls per second (0: none);
	// Burst defaults to max(1, ceil(RatePerSecond)). An exhausted budget fails
	// at once with ErrBudget; nothing waits.
	RatePerSecond float64 `mapstructure:"rate_per_second"`
	Burst         int     `mapstructure:"burst"`
	// MaxBodyBytes bounds the response body. Default 64 KiB, at most 16 MiB.
	MaxBodyBytes int64 `mapstructure:"max_body_bytes"`
	// CacheMaxEntries bounds the answer cache. Default 100000; negative
	// disables the cache.
	CacheMaxEntries int `mapstructure:"cache_max_entries"`
	// CacheMaxTTL bounds how long an active answer is kept; never past the
	// answer's exp. Default 60s; negative: active answers are not cached.
	CacheMaxTTL time.Duration `mapstructure:"cache_max_ttl"`
	// NegativeTTL is how long an inactive answer (or an active one without
	// exp) is kept. Default 10s; negative: not cached.
	NegativeTTL time.Duration `mapstructure:"negative_ttl"`
	// BreakerFailures is the number of consecutive failures that opens the
	// breaker. Default 5; negative disables the breaker.
	BreakerFailures int `mapstructure:"breaker_failures"`
	// BreakerOpenTimeout is how long the breaker stays open before it lets one
	// probe through. Default 10s.
	BreakerOpenTimeout time.Duration `mapstructure:"breaker_open_timeout"`
	// DisableRetry turns off the single jittered retry after a transport error
	// (connection refused or reset before an answer). 4xx, 5xx and timeouts
	// are never retried.
	DisableRetry bool `mapstructure:"disable_retry"`
}

// withDefaults returns cfg with zero fields defaulted and validates it.
func (cfg Config) withDefaults() (Config, error) {
	bad := func(field, format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
	}
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if len(cfg.Name) > maxNameLen || strings.ContainsFunc(cfg.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return bad("name", "must be at most %d printable bytes", maxNameLen)
	}
	if cfg.Endpoint != "" {
		if err := checkEndpoint(cfg.Endpoint); err != nil {
			return bad("endpoint", "%v", err)
		}
	}
	if cfg.AuthMethod == "" {
		cfg.AuthMethod = AuthClientSecretBasic
	}
	switch cfg.AuthMethod {
	case AuthClientSecretBasic, AuthClientSecretPost:
		if cfg.ClientID == "" {
			return bad("client_id", "required for %s", cfg.AuthMethod)
		}
		if len(cfg.ClientSecret) == 0 {
			return bad("client_secret", "required for %s", cfg.AuthMethod)
		}
	case AuthPrivateKeyJWT:
		if cfg.ClientID == "" {
			return bad("client_id", "required for %s", cfg.AuthMethod)
		}
		if cfg.PrivateKey == nil {
			return bad("private_key", "required for %s", cfg.AuthMethod)
		}
		alg, err := keyAlg(cfg.PrivateKey, cfg.PrivateKeyAlg)
		if err != nil {
			return bad("private_key_alg", "%v", err)
		}
		cfg.PrivateKeyAlg = alg
	case AuthNone:
	default:
		return bad("auth_method", "%q is not client_secret_basic, client_secret_post, private_key_jwt or none", cfg.AuthMethod)
	}
	for k, v := range cfg.Headers {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		switch {
		case k == "" || strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) }):
			return bad("headers", "invalid header name %q", k)
		case strings.ContainsAny(v, "\r\n\x00"):
			return bad("headers", "value of %s contains a line break", ck)
		case ck == "Content-Type" || ck == "Content-Length" || ck == "Host" || ck == "Transfer-Encoding":
			return bad("headers", "%s is set by the client", ck)
		case ck == "Authorization" && cfg.AuthMethod != AuthNone:
			return bad("headers", "Authorization conflicts with auth_method %s", cfg.AuthMethod)
		}
	}
	type dur struct {
		name string
		p    *time.Duration
		def  time.Duration
	}
	for _, d := range []dur{{"timeout", &cfg.Timeout, DefaultTimeout}, {"breaker_open_timeout", &cfg.BreakerOpenTimeout, DefaultBreakerOpenTimeout}} {
		if *d.p < 0 {
			return bad(d.name, "must not be negative")
		}
		if *d.p == 0 {
			*d.p = d.def
		}
	}
	if cfg.MaxConcurrent < 0 {
		return bad("max_concurrent", "must not be negative")
	}
	if cfg.MaxConcurrent == 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	if cfg.RatePerSecond < 0 || math.IsNaN(cfg.RatePerSecond) || math.IsInf(cfg.RatePerSecond, 0) {
		return bad("rate_per_second", "must be a finite number >= 0")
	}
	if cfg.Burst < 0 {
		return bad("burst", "must not be negative")
	}
	if cfg.RatePerSecond > 0 && cfg.Burst == 0 {
		cfg.Burst = max(1, int(math.Ceil(cfg.RatePerSecond)))
	}
	if cfg.MaxBodyBytes < 0 || cfg.MaxBodyBytes > maxBodyLimit {
		return bad("max_body_bytes", "must be between 0 and %d", maxBodyLimit)
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.CacheMaxEntries == 0 {
		cfg.CacheMaxEntries = DefaultCacheMaxEntries
	}
	if cfg.CacheMaxTTL == 0 {
		cfg.CacheMaxTTL = DefaultCacheMaxTTL
	}
	if cfg.NegativeTTL == 0 {
		cfg.NegativeTTL = DefaultNegativeTTL
	}
	if cfg.BreakerFailures == 0 {
		cfg.BreakerFailures = DefaultBreakerFailures
	}
	return cfg, nil
}

// checkEndpoint accepts absolute http(s) URLs without a fragment. Whether
// plain http is allowed (loopback only) is internal/config's policy.
func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL")
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
		return fmt.Errorf("%q is not an absolute http(s) URL without fragment", u.Redacted())
	}
	return nil
}

// asymmetricAlgs are the assertion algorithms private_key_jwt allows; HMAC
// would be client_secret_jwt and "none" is never acceptable.
var asymmetricAlgs = map[string]jwa.SignatureAlgorithm{
	"RS256": jwa.RS256, "RS384": jwa.RS384, "RS512": jwa.RS512,
	"PS256": jwa.PS256, "PS384": jwa.PS384, "PS512": jwa.PS512,
	"ES256": jwa.ES256, "ES384": jwa.ES384, "ES512": jwa.ES512,
	"EdDSA": jwa.EdDSA,
}

// keyAlg returns the assertion algorithm for key: alg if it fits the key,
// or the key type's default when alg is empty.
func keyAlg(key crypto.Signer, alg string) (string, error) {
	var want []string
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 {
			return "", fmt.Errorf("RSA key of %d bits is too short (RFC 7518 §3.3 wants 2048)", pub.N.BitLen())
		}
		want = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			want = []string{"ES256"}
		case elliptic.P384():
			want = []string{"ES384"}
		case elliptic.P521():
			want = []string{"ES512"}
		default:
			return "", fmt.Errorf("unsupported ECDSA curve")
		}
	case ed25519.PublicKey:
		want = []string{"EdDSA"}
	default:
		return "", fmt.Errorf("unsupported private key type %T", pub)
	}
	if alg == "" {
		return want[0], nil
	}
	for _, w := range want {
		if w == alg {
			return alg, nil
		}
	}
	return "", fmt.Errorf("%q does not fit the private key (want one of %s)", alg, strings.Join(want, ", "))
}
