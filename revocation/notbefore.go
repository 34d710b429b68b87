package revocation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/internal/numericdate"
	"github.com/tokenwarden/tokenwarden/jwks"
)

// ActionPushNotBefore is the action of Keycloak's PushNotBeforeAction.
const ActionPushNotBefore = "PUSH_NOT_BEFORE"

// NotBeforeConfig configures a NotBeforeValidator.
type NotBeforeConfig struct {
	// Issuers maps each accepted issuer to its keys. Keycloak's admin action
	// has no iss claim: the issuer is the one whose keys hold the kid.
	// Required.
	Issuers map[string]KeySource
	// Resource is our client id at the IdP: the action's resource must equal
	// it. Required.
	Resource string
	// Algorithms allowed. Default [RS256]. Never none or HS*.
	Algorithms []string
	// MaxBodyBytes bounds the body. Default 16 KiB.
	MaxBodyBytes int64
	// ClockSkew tolerated on the action's expiration. Default 0, as in
	// Keycloak's adapters (the action lives 30s).
	ClockSkew time.Duration
}

// NotBefore is a verified PUSH_NOT_BEFORE action.
type NotBefore struct {
	Issuer     string // the issuer whose key signed it
	ID         string // the action's id
	Resource   string
	Expiration time.Time
	// NotBefore is the client's not-before policy (Keycloak sends
	// max(realm, client)); zero means "no policy".
	NotBefore time.Time
}

// NotBeforeValidator validates Keycloak's PUSH_NOT_BEFORE admin action
// (POST {adminUrl}/k_push_not_before, a compact JWS signed with the realm
// key). Safe for concurrent use. It starts no goroutine.
//
// Security caveat: the action carries no issuer and no audience; it is bound
// to us only by Resource and to an issuer only by its key. A key published by
// two configured issuers is refused, since the action could not be
// attributed.
type NotBeforeValidator struct {
	cfg       NotBeforeConfig
	issuers   []string // sorted, for deterministic lookups
	verifiers map[string]jws.Verifier
	clk       clock.Clock
}

// NewNotBeforeValidator validates cfg. It does no I/O.
func NewNotBeforeValidator(cfg NotBeforeConfig, opts ...Option) (*NotBeforeValidator, error) {
	bad := func(format string, a ...any) (*NotBeforeValidator, error) {
		return nil, fmt.Errorf("%w: not_before: %s", ErrInvalidConfig, fmt.Sprintf(format, a...))
	}
	if len(cfg.Issuers) == 0 {
		return bad("at least one issuer is required")
	}
	if cfg.Resource == "" {
		return bad("resource (our client id) is required")
	}
	if cfg.MaxBodyBytes < 0 || cfg.ClockSkew < 0 || cfg.ClockSkew > 5*time.Minute {
		return bad("max_body_bytes or clock_skew out of range")
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxTokenBytes
	}
	verifiers, err := verifiersFor(cfg.Algorithms)
	if err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	v := &NotBeforeValidator{cfg: cfg, verifiers: verifiers, clk: o.clock}
	v.cfg.Issuers = make(map[string]KeySource, len(cfg.Issuers))
	for iss, ks := range cfg.Issuers {
		if iss == "" || ks == nil {
			return bad("issuer %q has no key source", iss)
		}
		v.cfg.Issuers[iss] = ks
		v.issuers = append(v.issuers, iss)
	}
	slices.Sort(v.issuers)
	return v, nil
}

// notBeforeWire is Keycloak's PushNotBeforeAction (AdminAction + notBefore).
// Unknown members are tolerated: Keycloak may add some.
type notBeforeWire struct {
	ID         *string `json:"id"`
	Expiration *int64  `json:"expiration"`
	Resource   *string `json:"resource"`
	Action     *string `json:"action"`
	NotBefore  *int64  `json:"notBefore"`
}

// Validate checks a k_push_not_before body. Errors are *Error of kind
// ErrNotBeforeAction, or ErrKeysUnavailable when no configured issuer holds
// the key and some issuer's keys could not be obtained. Surrounding ASCII
// whitespace is ignored.
func (v *NotBeforeValidator) Validate(ctx context.Context, body []byte) (*NotBefore, error) {
	if int64(len(body)) > v.cfg.MaxBodyBytes {
		return nil, newErr(ErrNotBeforeAction, ReasonTooLarge, fmt.Sprintf("larger than %d bytes", v.cfg.MaxBodyBytes))
	}
	c, err := parseCompact(ErrNotBeforeAction, string(bytes.TrimSpace(body)), int(v.cfg.MaxBodyBytes), v.verifiers)
	if err != nil {
		return nil, err
	}
	iss, k, err := v.key(ctx, c.hdr.KID, c.hdr.Alg)
	if err != nil {
		return nil, err
	}
	if err := c.verify(ErrNotBeforeAction, k, v.verifiers); err != nil {
		return nil, err
	}
	var w notBeforeWire
	if err := decodeObject(c.payload, &w); err != nil {
		return nil, newErr(ErrNotBeforeAction, ReasonMalformed, "action is not a well-typed JSON object")
	}
	if w.Action == nil || *w.Action != ActionPushNotBefore {
		return nil, newErr(ErrNotBeforeAction, ReasonAction, "not a PUSH_NOT_BEFORE action")
	}
	if w.Expiration == nil || *w.Expiration <= 0 || *w.Expiration > numericdate.Max {
		return nil, newErr(ErrNotBeforeAction, ReasonMalformed, "expiration missing or malformed")
	}
	if w.NotBefore == nil || *w.NotBefore < 0 || *w.NotBefore > numericdate.Max {
		return nil, newErr(ErrNotBeforeAction, ReasonMalformed, "notBefore missing or malformed")
	}
	out := &NotBefore{Issuer: iss, Expiration: time.Unix(*w.Expiration, 0).UTC()}
	// Keycloak's AdminAction.isExpired: now > expiration.
	if v.clk.Now().After(out.Expiration.Add(v.cfg.ClockSkew)) {
		return nil, newErr(ErrNotBeforeAction, ReasonExpired, "action expired")
	}
	if w.Resource == nil || *w.Resource != v.cfg.Resource {
		return nil, newErr(ErrNotBeforeAction, ReasonResource, "action is for another client")
	}
	out.Resource = *w.Resource
	if w.ID != nil {
		out.ID = *w.ID
	}
	if *w.NotBefore > 0 {
		out.NotBefore = time.Unix(*w.NotBefore, 0).UTC()
	}
	return out, nil
}

// key finds the signing key in exactly one configured issuer.
func (v *NotBeforeValidator) key(ctx context.Context, kid, alg string) (string, jwks.Key, error) {
	var (
		foundIss  string
		found     jwks.Key
		n         int
		outage    error
		algRefuse error
	)
	for _, iss := range v.issuers {
		k, err := v.cfg.Issuers[iss].Key(ctx, kid, alg)
		switch {
		case err == nil:
			foundIss, found = iss, k
			n++
		case errors.Is(err, jwks.ErrUnknownKID):
		case errors.Is(err, jwks.ErrAlgMismatch):
			algRefuse = err
		default:
			// ErrKeysUnavailable, ErrRefreshSuppressed, ctx errors.
			outage = err
		}
	}
	switch {
	case n > 1:
		return "", jwks.Key{}, newErr(ErrNotBeforeAction, ReasonSignature, "signing key is published by several issuers")
	case n == 1:
		// Found: accepted even if another issuer is down. Attribution could
		// only be wrong if that issuer shares the key, and refusing would
		// lose a revocation.
		return foundIss, found, nil
	case algRefuse != nil:
		return "", jwks.Key{}, keyError(ErrNotBeforeAction, algRefuse)
	case outage != nil:
		return "", jwks.Key{}, keyError(ErrNotBeforeAction, outage)
	default:
		return "", jwks.Key{}, newErr(ErrNotBeforeAction, ReasonSignature, "unknown signing key")
	}
}

// Events turns a verified action into store events: one client-level deny
// not-before for the resource with At = notBefore (tokens with iat <
// notBefore are stale; iat == notBefore is not, as in Keycloak), or none
// when the action carries no policy (notBefore 0).
//
// Keycloak pushes max(realm, client) not-before for the client, so the entry
// is recorded per client, not realm-wide.
func (v *NotBeforeValidator) Events(n *NotBefore) []Event {
	if n == nil || n.NotBefore.IsZero() {
		return nil
	}
	return []Event{{
		Issuer: n.Issuer, Kind: KindNotBefore, Value: n.Resource,
		Action: ActionDeny, At: n.NotBefore, Source: SourceNotBeforePush,
	}}
}
