package revocation

import (
	"errors"
	"strings"
)

// Error kinds, checked with errors.Is. Every *Error matches exactly one of
// them. The HTTP handlers map them: ErrLogoutToken, ErrNotBeforeAction and
// ErrAdminEvent are the sender's fault (400); ErrKeysUnavailable is ours or
// the IdP's (503, so that the sender may retry); ErrFull is 503 too.
var (
	// ErrLogoutToken: the back-channel logout token is not valid (OIDC
	// Back-Channel Logout 1.0 §2.6). Reason says which check failed.
	ErrLogoutToken = errors.New("revocation: invalid logout token")
	// ErrNotBeforeAction: the PUSH_NOT_BEFORE admin action is not valid.
	ErrNotBeforeAction = errors.New("revocation: invalid not-before push")
	// ErrAdminEvent: the admin API body is not a valid event.
	ErrAdminEvent = errors.New("revocation: invalid admin event")
	// ErrKeysUnavailable: the issuer's keys could not be obtained, so the
	// token could not be judged. Never matches ErrLogoutToken or
	// ErrNotBeforeAction: an outage is not a bad token.
	ErrKeysUnavailable = errors.New("revocation: signing keys unavailable")
	// ErrFull: the store is full of deny entries and the event was not
	// recorded. Never silent: Add logs it and counts it.
	ErrFull = errors.New("revocation: store full")
	// ErrInvalidEvent: Add was given an event that is not well formed.
	ErrInvalidEvent = errors.New("revocation: invalid event")
	// ErrInvalidConfig is returned by the constructors.
	ErrInvalidConfig = errors.New("revocation: invalid config")
)

// Reason is a short bounded code saying which check failed. Reasons are
// metric label values and may appear in HTTP error bodies.
type Reason string

// The reason codes.
const (
	ReasonMalformed       Reason = "malformed"        // not a compact JWS, bad base64url or JSON, ill-typed claim
	ReasonTooLarge        Reason = "too_large"        // over the size bound
	ReasonAlg             Reason = "alg"              // alg not allowed or not the key's alg
	ReasonSignature       Reason = "signature"        // no key of the issuer verifies it
	ReasonIssuer          Reason = "iss"              // issuer missing or not configured
	ReasonAudience        Reason = "aud"              // aud lacks every accepted audience
	ReasonIssuedAt        Reason = "iat"              // iat missing, too old or in the future
	ReasonExp             Reason = "exp"              // logout token exp passed
	ReasonType            Reason = "typ"              // explicit type says it is another kind of JWT
	ReasonEvents          Reason = "events"           // events member or its back-channel logout event missing
	ReasonSubject         Reason = "subject"          // neither sub nor sid (or too long)
	ReasonNonce           Reason = "nonce"            // nonce present (prohibited in logout tokens)
	ReasonJTI             Reason = "jti"              // jti missing or too long
	ReasonReplay          Reason = "replay"           // jti already seen from this issuer
	ReasonKeysUnavailable Reason = "keys_unavailable" // key fetch failed or was rate-limited
	ReasonAction          Reason = "action"           // admin action is not PUSH_NOT_BEFORE
	ReasonExpired         Reason = "expired"          // admin action expired
	ReasonResource        Reason = "resource"         // admin action is for another client
	ReasonKey             Reason = "key"              // admin API: not exactly one key field
	ReasonValue           Reason = "value"            // admin API: bad action, issuer or at
)

// Error is the typed error of this package. Its message never contains a
// token or a raw identifier from one.
type Error struct {
	Kind   error  // one of the Err* kinds above
	Reason Reason // bounded code
	Detail string // short description, safe to show to the sender
	Err    error  // underlying cause, may be nil
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.Error())
	b.WriteString(" (")
	b.WriteString(string(e.Reason))
	b.WriteString(")")
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is match both the kind and the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// ReasonOf returns the reason code of err, or "" when err is not an *Error.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func newErr(kind error, r Reason, detail string) *Error {
	return &Error{Kind: kind, Reason: r, Detail: detail}
}
