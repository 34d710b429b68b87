package strategy

import (
	"errors"
	"time"
)

// The error kinds. Every error a Strategy returns matches exactly one of them
// under errors.Is. The HTTP mapping lives in one place, package validator:
//
//	ErrInvalid       401 invalid_token
//	ErrInactive      401 invalid_token
//	ErrForbidden     403 insufficient_scope (RFC 6750 §3.1)
//	ErrUnavailable   503 with Retry-After
//	ErrNotApplicable 401 when no other tier can judge the token
//
// An outage of the IdP or of the keys is always ErrUnavailable, never
// ErrInvalid or ErrInactive.
var (
	// ErrInvalid: the token is malformed or fails a check that cannot change
	// with time: signature, alg, kid, iss, aud, azp, typ, size, bound token.
	ErrInvalid = errors.New("invalid token")
	// ErrInactive: the token was well formed but is not usable now: expired,
	// not yet valid, revoked, or introspected as active:false.
	ErrInactive = errors.New("inactive token")
	// ErrForbidden: the token is good but lacks a required scope or role.
	ErrForbidden = errors.New("insufficient scope")
	// ErrUnavailable: the decision could not be made because keys or the
	// IdP could not be reached in time; the caller may retry.
	ErrUnavailable = errors.New("validation unavailable")
	// ErrNotApplicable: this strategy (or tier) cannot judge this token, for
	// example an opaque token offered to local verification.
	ErrNotApplicable = errors.New("token not applicable")
)

// Reason is a short, bounded code saying why a token was refused. Reasons
// are metric label values and appear in HTTP error bodies.
type Reason string

// The reason codes.
const (
	ReasonMalformed       Reason = "malformed"        // not a compact JWS, bad base64url or JSON
	ReasonTooLarge        Reason = "too_large"        // over max_token_bytes
	ReasonAlg             Reason = "alg"              // alg not allowed or not the key's alg
	ReasonKID             Reason = "kid"              // no key with that kid
	ReasonSignature       Reason = "signature"        // signature does not verify
	ReasonCrit            Reason = "crit"             // unknown critical header (RFC 7515 §4.1.11)
	ReasonHeader          Reason = "header"           // forbidden header (jku, x5u, jwk, x5c)
	ReasonIssuer          Reason = "iss"              // issuer not configured or mismatched
	ReasonAudience        Reason = "aud"              // audience not ours
	ReasonAZP             Reason = "azp"              // authorized party not allowed
	ReasonType            Reason = "typ"              // not an access token
	ReasonExpired         Reason = "exp"              // expired or exp missing/malformed
	ReasonNotBefore       Reason = "nbf"              // not yet valid
	ReasonIssuedAt        Reason = "iat"              // iat missing, malformed or in the future
	ReasonClaims          Reason = "claims"           // a required claim missing or ill-typed
	ReasonBoundToken      Reason = "bound_token"      // cnf-bound token presented as bearer (RFC 9449 §7.2)
	ReasonRevoked         Reason = "revoked"          // a revocation entry refuses it
	ReasonInactive        Reason = "inactive"         // introspection said active:false
	ReasonScope           Reason = "scope"            // a required scope is missing
	ReasonRole            Reason = "role"             // a required role is missing
	ReasonOpaque          Reason = "opaque"           // not a JWT and no tier can introspect it
	ReasonKeysUnavailable Reason = "keys_unavailable" // JWKS unreachable past max_stale, or refresh rate-limited
	ReasonIDPUnavailable  Reason = "idp_unavailable"  // introspection unreachable, 5xx, timeout, breaker open
	ReasonMissing         Reason = "missing"          // no token presented
)

// Error is the typed error every strategy returns. It carries the kind (one of
// the Err* sentinels), a bounded reason code and the cause. Error messages
// never contain the token.
type Error struct {
	Kind   error  // ErrInvalid, ErrInactive, ErrForbidden, ErrUnavailable or ErrNotApplicable
	Reason Reason // bounded code
	// Detail is a short human description, safe to show to the caller.
	Detail string
	// RetryAfter suggests when to retry an ErrUnavailable decision (zero: no advice).
	RetryAfter time.Duration
	// DecidedBy says whose evidence refused the token (empty: local checks).
	DecidedBy DecidedBy
	// Triggers lists the rules that made a strategy ask the IdP before it
	// refused (counted in tokenwarden_introspection_triggers_total).
	Triggers []Trigger
	// Err is the underlying cause, for logs; it may be nil. It never
	// contains the token.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	s := e.Kind.Error() + ": " + string(e.Reason)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is reports whether target is e's kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// NewError builds an *Error.
func NewError(kind error, reason Reason, detail string, cause error) *Error {
	return &Error{Kind: kind, Reason: reason, Detail: detail, Err: cause}
}

// ReasonOf returns the reason code of err, or "" when err carries none.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// KindOf returns the kind sentinel err matches, or nil when it matches none.
func KindOf(err error) error {
	for _, k := range []error{ErrInvalid, ErrInactive, ErrForbidden, ErrUnavailable, ErrNotApplicable} {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

// Outcome returns the bounded outcome label for a decision: "accepted" for a
// nil error, otherwise invalid|inactive|forbidden|unavailable|not_applicable
// (an unknown error counts as invalid: it was not an accept).
func Outcome(err error) string {
	switch KindOf(err) {
	case nil:
		if err == nil {
			return "accepted"
		}
		return "invalid"
	case ErrInvalid:
		return "invalid"
	case ErrInactive:
		return "inactive"
	case ErrForbidden:
		return "forbidden"
	case ErrUnavailable:
		return "unavailable"
	default:
		return "not_applicable"
	}
}
