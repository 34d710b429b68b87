package strategy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/maypok86/otter/v2"

	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/internal/tokenhash"
	"github.com/tokenwarden/tokenwarden/jwks"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// Profile names the access-token format an issuer emits, which decides the
// typ rules (RFC 8725 §3.11).
type Profile string

// The token profiles.
const (
	// ProfileKeycloak: header typ "JWT" or "at+jwt", payload typ "Bearer".
	ProfileKeycloak Profile = "keycloak"
	// ProfileRFC9068: header typ "at+jwt" (or "application/at+jwt"); sub,
	// client_id and jti required (RFC 9068 §2.2).
	ProfileRFC9068 Profile = "rfc9068"
	// ProfileGeneric: any header typ except the known non-access types.
	ProfileGeneric Profile = "generic"
)

// KeySource resolves the public key for a kid and alg at one issuer.
// *jwks.Resolver implements it. Implementations must be safe for concurrent
// use and honour ctx. Errors are translated by keyError.
type KeySource interface {
	Key(ctx context.Context, kid, alg string) (jwks.Key, error)
}

// IssuerConfig is the verification policy for one trusted issuer.
type IssuerConfig struct {
	// Name labels the issuer in metrics and logs.
	Name string
	// Issuer is the exact expected "iss" (RFC 7519 §4.1.1; no normalisation).
	Issuer string
	// Audiences: aud must contain one of them (RFC 7519 §4.1.3).
	Audiences []string
	// AuthorizedParties: azp (or client_id) must be one of them. Required
	// when Audiences is empty; enforced in addition when both are set.
	AuthorizedParties []string
	// Profile selects the typ rules; default ProfileKeycloak.
	Profile Profile
	// Algorithms allowed; default RS256. none and HS* are refused by New.
	Algorithms []string
	// ClockSkew tolerated on exp, nbf and iat; default 30s.
	ClockSkew time.Duration
	// MaxTokenBytes caps the token before decoding; default 16 KiB.
	MaxTokenBytes int
	// Keys resolves this issuer's keys.
	Keys KeySource
	// Introspector asks this issuer's IdP (RFC 7662); nil disables
	// introspection for the issuer. *introspection.Client implements it.
	Introspector Introspector
	// IntrospectOpaque sends tokens that are not JWTs, and pass the opaque
	// format filter, to this issuer's introspection endpoint. At most one
	// issuer may set it.
	IntrospectOpaque bool
}

// DefaultMaxTokenBytes is the default size cap.
const DefaultMaxTokenBytes = 16 << 10

type issuer struct {
	IssuerConfig
	fingerprint uint64
	verifiers   map[string]jws.Verifier
}

// verified is a verified-claims cache entry: facts plus the policy that
// established them. Immutable.
type verified struct {
	claims      *Claims
	issuer      *issuer
	fingerprint uint64
}

// Verifier is the local verification pipeline shared by every strategy that
// verifies locally, with its verified-claims cache. Safe for concurrent use.
// Call Close to stop the cache's maintenance goroutine.
type Verifier struct {
	issuers  map[string]*issuer
	opaque   *issuer // the issuer opaque tokens are introspected at, or nil
	maxBytes int
	clock    clock.Clock
	cache    *otter.Cache[tokenhash.Key, *verified]
	maxTTL   time.Duration
	metrics  *Metrics
	revoked  RevocationStore
}

// VerifierOption configures a Verifier.
type VerifierOption func(*verifierOptions)

type verifierOptions struct {
	clock     clock.Clock
	cacheSize int
	maxTTL    time.Duration
	metrics   *Metrics
	revoked   RevocationStore
}

// RevocationStore is what strategies need from package revocation: an O(1)
// lookup on every decision (cache hits included) and a way to record what
// the IdP taught us. *revocation.Memory implements it.
type RevocationStore interface {
	Check(t revocation.TokenFacts) revocation.Verdict
	Add(ctx context.Context, e revocation.Event) error
}

// WithRevocation makes every decision consult store: denied tokens are
// refused with no IdP call, watched tokens are reported to the tiered
// strategy, and inactive answers about locally valid tokens are learned.
func WithRevocation(store RevocationStore) VerifierOption {
	return func(o *verifierOptions) { o.revoked = store }
}

// WithClock sets the clock all time rules read (default: wall clock).
func WithClock(c clock.Clock) VerifierOption {
	return func(o *verifierOptions) { o.clock = c }
}

// WithCacheSize bounds the verified-claims cache (default 100 000 entries; 0 disables it).
func WithCacheSize(n int) VerifierOption {
	return func(o *verifierOptions) { o.cacheSize = n }
}

// WithCacheMaxTTL bounds how long verified claims are reused (never past
// exp); default 5 minutes, so a key removed from the JWKS stops verifying
// cached tokens within that time.
func WithCacheMaxTTL(d time.Duration) VerifierOption {
	return func(o *verifierOptions) { o.maxTTL = d }
}

// WithMetrics records verified-cache lookups in m.
func WithMetrics(m *Metrics) VerifierOption {
	return func(o *verifierOptions) { o.metrics = m }
}

var allowedAlgs = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"EdDSA": true,
}

// NewVerifier validates the issuer policies and builds a Verifier. It does no I/O.
func NewVerifier(issuers []IssuerConfig, opts ...VerifierOption) (*Verifier, error) {
	o := verifierOptions{cacheSize: 100_000, maxTTL: 5 * time.Minute}
	for _, opt := range opts {
		opt(&o)
	}
	if len(issuers) == 0 {
		return nil, errors.New("strategy: no issuer configured")
	}
	v := &Verifier{issuers: map[string]*issuer{}, clock: clock.OrReal(o.clock), maxTTL: o.maxTTL, metrics: o.metrics, revoked: o.revoked}

	for i, ic := range issuers {
		if ic.Issuer == "" {
			return nil, fmt.Errorf("strategy: issuers[%d]: empty issuer", i)
		}
		if _, dup := v.issuers[ic.Issuer]; dup {
			return nil, fmt.Errorf("strategy: issuers[%d]: duplicate issuer %q", i, ic.Issuer)
		}
		if ic.Keys == nil {
			return nil, fmt.Errorf("strategy: issuers[%d]: no key source", i)
		}
		if len(ic.Audiences) == 0 && len(ic.AuthorizedParties) == 0 {
			return nil, fmt.Errorf("strategy: issuers[%d]: audiences or authorized parties required", i)
		}
		if ic.Profile == "" {
			ic.Profile = ProfileKeycloak
		}
		switch ic.Profile {
		case ProfileKeycloak, ProfileRFC9068, ProfileGeneric:
		default:
			return nil, fmt.Errorf("strategy: issuers[%d]: unknown token profile %q", i, ic.Profile)
		}
		if len(ic.Algorithms) == 0 {
			ic.Algorithms = []string{"RS256"}
		}
		if ic.ClockSkew == 0 {
			ic.ClockSkew = 30 * time.Second
		}
		if ic.ClockSkew < 0 || ic.ClockSkew > 5*time.Minute {
			return nil, fmt.Errorf("strategy: issuers[%d]: clock skew %s out of range [0, 5m]", i, ic.ClockSkew)
		}
		if ic.MaxTokenBytes <= 0 {
			ic.MaxTokenBytes = DefaultMaxTokenBytes
		}
		is := &issuer{IssuerConfig: ic, verifiers: map[string]jws.Verifier{}}
		for _, alg := range ic.Algorithms {
			if !allowedAlgs[alg] {
				return nil, fmt.Errorf("strategy: issuers[%d]: algorithm %q not allowed (asymmetric JWS algorithms only)", i, alg)
			}
			jv, err := jws.NewVerifier(jwa.SignatureAlgorithm(alg))
			if err != nil {
				return nil, fmt.Errorf("strategy: issuers[%d]: %w", i, err)
			}
			is.verifiers[alg] = jv
		}
		is.fingerprint = policyFingerprint(&is.IssuerConfig)
		v.issuers[ic.Issuer] = is
		if ic.IntrospectOpaque {
			if ic.Introspector == nil {
				return nil, fmt.Errorf("strategy: issuers[%d]: introspect_opaque needs an introspector", i)
			}
			if v.opaque != nil {
				return nil, fmt.Errorf("strategy: issuers[%d]: only one issuer may introspect opaque tokens", i)
			}
			v.opaque = is
		}
		v.maxBytes = max(v.maxBytes, ic.MaxTokenBytes)
	}
	if o.cacheSize > 0 {
		c, err := otter.New(&otter.Options[tokenhash.Key, *verified]{
			MaximumSize: o.cacheSize,
			ExpiryCalculator: otter.ExpiryCreatingFunc(func(e otter.Entry[tokenhash.Key, *verified]) time.Duration {
				// Bound by the token's own exp (plus skew) on the
				// verifier's clock, and by maxTTL; hits re-check exp anyway.
				ttl := e.Value.claims.ExpiresAt.Add(e.Value.issuer.ClockSkew).Sub(v.clock.Now())
				return max(min(ttl, v.maxTTL), time.Millisecond)
			}),
		})
		if err != nil {
			return nil, fmt.Errorf("strategy: verified cache: %w", err)
		}
		v.cache = c
	}
	return v, nil
}

// Close stops the cache's background maintenance. Idempotent.
func (v *Verifier) Close() {
	if v.cache != nil {
		v.cache.StopAllGoroutines()
	}
}

// Purge empties the verified-claims cache (tests, key compromise response).
func (v *Verifier) Purge() {
	if v.cache != nil {
		v.cache.InvalidateAll()
	}
}

// policyFingerprint hashes the parts of an issuer policy that decide whether
// a token verifies, so that cache entries made under another policy are not
// reused (lua-resty-openidc#399).
func policyFingerprint(ic *IssuerConfig) uint64 {
	h := sha256.New()
	w := func(ss ...string) {
		for _, s := range ss {
			_ = binary.Write(h, binary.LittleEndian, uint32(len(s)))
			h.Write([]byte(s))
		}
		h.Write([]byte{0xff})
	}
	w(ic.Issuer, string(ic.Profile), ic.ClockSkew.String())
	w(ic.Audiences...)
	w(ic.AuthorizedParties...)
	w(ic.Algorithms...)
	sum := h.Sum(nil)
	return binary.LittleEndian.Uint64(sum)
}

func invalid(r Reason, detail string, cause error) *Error {
	return &Error{Kind: ErrInvalid, Reason: r, Detail: detail, Err: cause}
}

func inactive(r Reason, detail string) *Error {
	return &Error{Kind: ErrInactive, Reason: r, Detail: detail}
}

// shape is how a token looks before anything is verified.
type shape int

const (
	shapeJWS       shape = iota // three dot-separated segments (RFC 7515 §7.1)
	shapeOpaque                 // not a JWT: no or one dot (Hydra's ory_at_<key>.<sig>)
	shapeMalformed              // JWS JSON serialisation, a JWE (five segments) or other segment counts
)

// shapeOf is the one classification every strategy routes by, so that what
// local verification calls malformed is never sent to the IdP as opaque.
func shapeOf(token string) shape {
	if token != "" && token[0] == '{' {
		return shapeMalformed
	}
	switch strings.Count(token, ".") {
	case 2:
		return shapeJWS
	case 0, 1:
		return shapeOpaque
	default:
		return shapeMalformed
	}
}

// IsJWS reports whether token looks like a compact JWS (three dot-separated
// segments), without verifying anything. Tokens that are not are "opaque"
// or malformed.
func IsJWS(token string) bool { return shapeOf(token) == shapeJWS }

var b64 = base64.RawURLEncoding.Strict()

// Verify runs the local pipeline: it returns the verified claims of token,
// or an *Error. cached reports a verified-claims cache hit. Tokens a
// revocation entry denies are refused (ErrInactive, reason revoked). The
// caller checks scopes and roles (Authorize).
func (v *Verifier) Verify(ctx context.Context, token string) (c *Claims, cached bool, err error) {
	c, cached, _, err = v.verify(ctx, token)
	return c, cached, err
}

// verify is Verify that also returns the revocation verdict (watch windows).
func (v *Verifier) verify(ctx context.Context, token string) (*Claims, bool, revocation.Verdict, error) {
	var none revocation.Verdict
	if len(token) > v.maxBytes {
		return nil, false, none, invalid(ReasonTooLarge, "token exceeds the size limit", nil)
	}
	if len(token) == 0 {
		return nil, false, none, &Error{Kind: ErrInvalid, Reason: ReasonMissing, Detail: "no token"}
	}
	var key tokenhash.Key
	if v.cache != nil {
		key = tokenhash.Of(token)
		if e, ok := v.cache.GetIfPresent(key); ok && e.fingerprint == e.issuer.fingerprint && !keysStale(e.issuer.Keys) {
			v.metrics.cacheLookup(true)
			if err := v.checkTimes(e.claims, e.issuer); err != nil {
				return nil, false, none, err
			}
			verdict, err := v.revocation(e.claims)
			if err != nil {
				return nil, false, verdict, err
			}
			return e.claims, true, verdict, nil
		}
		v.metrics.cacheLookup(false)
	}
	c, is, err := v.verifyToken(ctx, token)
	if err != nil {
		return nil, false, none, err
	}
	if v.cache != nil {
		v.cache.Set(key, &verified{claims: c, issuer: is, fingerprint: is.fingerprint})
	}
	verdict, rerr := v.revocation(c)
	if rerr != nil {
		return nil, false, verdict, rerr
	}
	return c, false, verdict, nil
}

// keysStale reports whether the issuer's keys are past max_stale: a cached
// verification made with them is then not reused, so the token is judged
// like any other (and refused 503 while the keys stay unavailable).
func keysStale(ks KeySource) bool {
	s, ok := ks.(interface{ Stale() bool })
	return ok && s.Stale()
}

// facts are the claims revocation entries are keyed by.
func facts(c *Claims) revocation.TokenFacts {
	return revocation.TokenFacts{
		Issuer: c.Issuer, Subject: c.Subject, SessionID: c.SessionID, TokenID: c.TokenID,
		ClientID: c.ClientID, IssuedAt: c.IssuedAt,
	}
}

// revocation consults the store: a deny refuses the token (no IdP call).
func (v *Verifier) revocation(c *Claims) (revocation.Verdict, *Error) {
	if v.revoked == nil {
		return revocation.Verdict{}, nil
	}
	verdict := v.revoked.Check(facts(c))
	if verdict.Denied {
		return verdict, &Error{Kind: ErrInactive, Reason: ReasonRevoked, Detail: "token revoked (" + verdict.Reason + ")", DecidedBy: DecidedByRevocation}
	}
	return verdict, nil
}

// denied checks claims the IdP vouched for against the store.
func (v *Verifier) denied(c *Claims) *Error {
	_, err := v.revocation(c)
	return err
}

// learnInactive records that the IdP called a locally valid token inactive:
// its jti is denied (not its session: revoking one access token in Keycloak
// does not end the session).
func (v *Verifier) learnInactive(ctx context.Context, c *Claims) {
	if v.revoked == nil || c.TokenID == "" {
		return
	}
	_ = v.revoked.Add(ctx, revocation.LearnedInactive(c.Issuer, c.TokenID, v.clock.Now()))
}

func (v *Verifier) verifyToken(ctx context.Context, token string) (*Claims, *issuer, error) {
	// Compact serialisation only: exactly three segments (RFC 7515 §7.1).
	// Five segments is a JWE (RFC 7516 §7.1), refused rather than decrypted.
	switch shapeOf(token) {
	case shapeJWS: // judged below
	case shapeOpaque:
		// Not a JWT: only the IdP can judge it.
		return nil, nil, &Error{Kind: ErrNotApplicable, Reason: ReasonOpaque, Detail: "not a JWT"}
	default:
		if token[0] == '{' {
			return nil, nil, invalid(ReasonMalformed, "JWS JSON serialisation is not accepted", nil)
		}
		return nil, nil, invalid(ReasonMalformed, "not a compact JWS (JWE or extra segments)", nil)
	}
	d1 := strings.IndexByte(token, '.')
	d2 := strings.LastIndexByte(token, '.')
	hSeg, pSeg, sSeg := token[:d1], token[d1+1:d2], token[d2+1:]
	if len(hSeg) == 0 || len(pSeg) == 0 {
		return nil, nil, invalid(ReasonMalformed, "empty JWS segment", nil)
	}
	hb, err := b64.DecodeString(hSeg)
	if err != nil {
		return nil, nil, invalid(ReasonMalformed, "header is not base64url", nil)
	}
	var h header
	if err := strictUnmarshal(hb, &h); err != nil {
		return nil, nil, invalid(ReasonMalformed, "header is not a JSON object", nil)
	}
	if len(h.Enc) != 0 {
		return nil, nil, invalid(ReasonMalformed, "JWE is not accepted", nil)
	}
	if h.Alg == "" || !allowedAlgs[h.Alg] {
		return nil, nil, invalid(ReasonAlg, "algorithm not allowed", nil)
	}
	if len(h.Crit) != 0 || len(h.B64) != 0 {
		return nil, nil, invalid(ReasonCrit, "critical header extensions are not supported", nil)
	}
	if len(h.JKU) != 0 || len(h.X5U) != 0 || len(h.JWK) != 0 || len(h.X5C) != 0 {
		return nil, nil, invalid(ReasonHeader, "keys named by the token are never used", nil)
	}
	if badHeaderType(h.Typ) {
		return nil, nil, invalid(ReasonType, "not an access token", nil)
	}
	if len(sSeg) == 0 {
		// Unsecured JWS (RFC 7515 §A.5) or a stripped signature.
		return nil, nil, invalid(ReasonSignature, "signature missing", nil)
	}
	pb, err := b64.DecodeString(pSeg)
	if err != nil {
		return nil, nil, invalid(ReasonMalformed, "payload is not base64url", nil)
	}
	sig, err := b64.DecodeString(sSeg)
	if err != nil {
		return nil, nil, invalid(ReasonMalformed, "signature is not base64url", nil)
	}
	if !utf8.Valid(pb) {
		return nil, nil, invalid(ReasonMalformed, "claims are not valid UTF-8", nil)
	}
	var w wireClaims
	if err := strictUnmarshal(pb, &w); err != nil {
		return nil, nil, invalid(ReasonClaims, "claims are not a well-typed JSON object", nil)
	}
	is, ok := v.issuers[w.Iss]
	if !ok {
		return nil, nil, invalid(ReasonIssuer, "issuer not trusted", nil)
	}
	if len(token) > is.MaxTokenBytes {
		return nil, nil, invalid(ReasonTooLarge, "token exceeds the size limit", nil)
	}
	jv, ok := is.verifiers[h.Alg]
	if !ok {
		return nil, nil, invalid(ReasonAlg, "algorithm not allowed for this issuer", nil)
	}
	k, err := is.Keys.Key(ctx, h.KID, h.Alg)
	if err != nil {
		return nil, nil, keyError(err)
	}
	if k.Alg != h.Alg {
		return nil, nil, invalid(ReasonAlg, "algorithm does not match the key", nil)
	}
	if err := jv.Verify([]byte(token[:d2]), sig, k.Public); err != nil {
		return nil, nil, invalid(ReasonSignature, "signature does not verify", nil)
	}
	c, err := buildClaims(&w, pb)
	if err != nil {
		return nil, nil, err
	}
	if err := v.checkTimes(c, is); err != nil {
		return nil, nil, err
	}
	if err := checkPolicy(c, &h, &w, is); err != nil {
		return nil, nil, err
	}
	return c, is, nil
}

// strictUnmarshal decodes a JSON object, refusing trailing data.
func strictUnmarshal(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return errors.New("not a JSON object")
	}
	// goccy/go-json (already a dependency of jwx) decodes these small,
	// fixed-shape objects several times faster than encoding/json; the
	// payload was checked for UTF-8 validity before.
	return gojson.Unmarshal(b, v)
}

// keyError translates jwks errors into the strategy taxonomy: the one place
// where key resolution outcomes become decisions.
func keyError(err error) *Error {
	switch {
	case errors.Is(err, jwks.ErrRefreshSuppressed):
		// A token signed by a freshly rotated key must not get a 401
		// because someone spent the refresh budget: retryable.
		return &Error{Kind: ErrUnavailable, Reason: ReasonKeysUnavailable, Detail: "signing key not yet known; retry", RetryAfter: time.Second, Err: err}
	case errors.Is(err, jwks.ErrUnknownKID):
		return invalid(ReasonKID, "unknown signing key", err)
	case errors.Is(err, jwks.ErrAlgMismatch):
		return invalid(ReasonAlg, "algorithm does not match the key", err)
	default:
		// ErrKeysUnavailable, context errors and anything unexpected: an
		// outage is never a 401.
		return &Error{Kind: ErrUnavailable, Reason: ReasonKeysUnavailable, Detail: "signing keys unavailable", RetryAfter: time.Second, Err: err}
	}
}

func badHeaderType(typ string) bool {
	switch strings.ToLower(typ) {
	case "logout+jwt", "application/logout+jwt", "secevent+jwt", "application/secevent+jwt",
		"token-introspection+jwt", "application/token-introspection+jwt", "dpop+jwt":
		return true
	}
	return false
}

// nonAccessTypes are payload typ values of Keycloak's other tokens.
var nonAccessTypes = map[string]bool{
	"refresh": true, "offline": true, "id": true, "logout": true, "serialized-id": true,
}

func buildClaims(w *wireClaims, raw []byte) (*Claims, error) {
	c := &Claims{
		Issuer: w.Iss, Subject: w.Sub, SessionID: w.Sid, TokenID: w.Jti, Type: w.Typ,
		ClientID: w.Azp, Raw: json.RawMessage(raw),
	}
	if c.ClientID == "" {
		c.ClientID = w.ClientID
	}
	var err error
	if len(w.Exp) == 0 {
		return nil, invalid(ReasonExpired, "exp is required", nil)
	}
	if c.ExpiresAt, err = parseNumericDate(w.Exp); err != nil {
		return nil, invalid(ReasonExpired, "exp is not a valid NumericDate", nil)
	}
	if len(w.Iat) == 0 {
		return nil, invalid(ReasonIssuedAt, "iat is required", nil)
	}
	if c.IssuedAt, err = parseNumericDate(w.Iat); err != nil {
		return nil, invalid(ReasonIssuedAt, "iat is not a valid NumericDate", nil)
	}
	if len(w.Nbf) != 0 {
		if c.NotBefore, err = parseNumericDate(w.Nbf); err != nil {
			return nil, invalid(ReasonNotBefore, "nbf is not a valid NumericDate", nil)
		}
	}
	if c.Audience, err = stringOrArray(w.Aud); err != nil {
		return nil, invalid(ReasonAudience, "aud is not a string or array of strings", nil)
	}
	if c.Scopes, err = scopesOf(w.Scope, w.Scp); err != nil {
		return nil, invalid(ReasonClaims, "scope is ill-typed", nil)
	}
	if w.RealmAccess != nil {
		c.RealmRoles = w.RealmAccess.Roles
	}
	if len(w.ResourceAccess) > 0 {
		c.ClientRoles = make(map[string][]string, len(w.ResourceAccess))
		for client, raw := range w.ResourceAccess {
			var rc rolesClaim
			if err := gojson.Unmarshal(raw, &rc); err != nil {
				return nil, invalid(ReasonClaims, "resource_access is ill-typed", nil)
			}
			c.ClientRoles[client] = rc.Roles
		}
	}
	if c.Bound, err = hasBinding(w.Cnf); err != nil {
		return nil, invalid(ReasonClaims, "cnf is ill-typed", nil)
	}
	return c, nil
}

// checkTimes applies the time-dependent rules (RFC 7519 §4.1.4-4.1.6); it
// runs on every cache hit too.
func (v *Verifier) checkTimes(c *Claims, is *issuer) *Error {
	now := v.clock.Now()
	skew := is.ClockSkew
	if !now.Before(c.ExpiresAt.Add(skew)) {
		return inactive(ReasonExpired, "token expired")
	}
	if !c.NotBefore.IsZero() && now.Add(skew).Before(c.NotBefore) {
		return inactive(ReasonNotBefore, "token not yet valid")
	}
	if now.Add(skew).Before(c.IssuedAt) {
		return invalid(ReasonIssuedAt, "token issued in the future", nil)
	}
	return nil
}

// checkAudience applies the issuer's audience and authorized-party rules.
func checkAudience(c *Claims, is *issuer) *Error {
	if len(is.Audiences) > 0 {
		ok := false
		for _, a := range c.Audience {
			if slices.Contains(is.Audiences, a) {
				ok = true
				break
			}
		}
		if !ok {
			return invalid(ReasonAudience, "token not issued for this audience", nil)
		}
	}
	if len(is.AuthorizedParties) > 0 && !slices.Contains(is.AuthorizedParties, c.ClientID) {
		return invalid(ReasonAZP, "authorized party not allowed", nil)
	}
	return nil
}

// checkPolicy applies the time-independent claim rules of the issuer.
func checkPolicy(c *Claims, h *header, w *wireClaims, is *issuer) *Error {
	if err := checkAudience(c, is); err != nil {
		return err
	}
	if nonAccessTypes[strings.ToLower(c.Type)] {
		return invalid(ReasonType, "not an access token", nil)
	}
	htyp := strings.ToLower(h.Typ)
	switch is.Profile {
	case ProfileKeycloak:
		if htyp != "jwt" && htyp != "at+jwt" && htyp != "application/at+jwt" {
			return invalid(ReasonType, "header typ is not JWT or at+jwt", nil)
		}
		if !strings.EqualFold(c.Type, "Bearer") {
			return invalid(ReasonType, "payload typ is not Bearer", nil)
		}
	case ProfileRFC9068:
		if htyp != "at+jwt" && htyp != "application/at+jwt" {
			return invalid(ReasonType, "header typ is not at+jwt (RFC 9068 §2.1)", nil)
		}
		if w.ClientID == "" || c.Subject == "" || c.TokenID == "" {
			return invalid(ReasonClaims, "client_id, sub and jti are required (RFC 9068 §2.2)", nil)
		}
	}
	if c.Bound {
		return invalid(ReasonBoundToken, "sender-constrained token presented as a bearer token", nil)
	}
	return nil
}

// Authorize checks that c grants every scope and role the request requires.
// Roles are realm roles, or "client:role" (split at the last colon) for
// client roles.
func Authorize(c *Claims, req *Request) *Error {
	for _, s := range req.Scopes {
		if !slices.Contains(c.Scopes, s) {
			return &Error{Kind: ErrForbidden, Reason: ReasonScope, Detail: "required scope missing"}
		}
	}
	for _, r := range req.Roles {
		if i := strings.LastIndexByte(r, ':'); i > 0 {
			if !slices.Contains(c.ClientRoles[r[:i]], r[i+1:]) {
				return &Error{Kind: ErrForbidden, Reason: ReasonRole, Detail: "required role missing"}
			}
			continue
		}
		if !slices.Contains(c.RealmRoles, r) {
			return &Error{Kind: ErrForbidden, Reason: ReasonRole, Detail: "required role missing"}
		}
	}
	return nil
}

// Result builds the public Result of verified claims.
func (c *Claims) Result(name string, by DecidedBy, cached bool) *Result {
	return &Result{
		Issuer: c.Issuer, Subject: c.Subject, ClientID: c.ClientID, SessionID: c.SessionID,
		TokenID: c.TokenID, Scopes: c.Scopes, RealmRoles: c.RealmRoles, ClientRoles: c.ClientRoles,
		ExpiresAt: c.ExpiresAt, IssuedAt: c.IssuedAt, Claims: c.Raw,
		Strategy: name, DecidedBy: by, Cached: cached,
	}
}

// KeySourceFunc adapts a function to KeySource (static keys, tests).
type KeySourceFunc func(ctx context.Context, kid, alg string) (jwks.Key, error)

// Key calls f.
func (f KeySourceFunc) Key(ctx context.Context, kid, alg string) (jwks.Key, error) {
	return f(ctx, kid, alg)
}
