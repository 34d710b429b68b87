package strategy

import (
	"context"
	"encoding/json"
	"time"
)

// Strategy decides whether a bearer token is good for a request.
//
// Validate returns a non-nil *Result and a nil error when the token is
// accepted. Otherwise it returns a nil *Result and an error that matches
// exactly one of the kinds ErrInvalid, ErrInactive, ErrForbidden,
// ErrUnavailable or ErrNotApplicable under errors.Is, and is (or wraps) an
// *Error carrying a bounded reason code.
//
// Implementations must be safe for concurrent use and must honour ctx: no call
// waits longer than its context for keys or the IdP.
type Strategy interface {
	Validate(ctx context.Context, req Request) (*Result, error)
}

// Func adapts a function to Strategy.
type Func func(ctx context.Context, req Request) (*Result, error)

// Validate calls f(ctx, req).
func (f Func) Validate(ctx context.Context, req Request) (*Result, error) { return f(ctx, req) }

// Request is one question: is Token good for an operation that needs Scopes
// and Roles?
type Request struct {
	// Token is the bearer token exactly as presented (no "Bearer " prefix).
	Token string
	// Scopes are required scopes; all must be granted (RFC 6749 §3.3).
	Scopes []string
	// Roles are required roles; all must be held. A plain name is a Keycloak
	// realm role (realm_access.roles); "client:role" is a client role
	// (resource_access.client.roles).
	Roles []string
	// Sensitive marks the request as sensitive (e.g. from a route rule); a
	// tiered strategy then asks the IdP (trigger sensitive_scope).
	Sensitive bool
}

// DecidedBy names the component whose evidence settled a decision.
type DecidedBy string

// The deciders.
const (
	DecidedByLocal         DecidedBy = "local"         // signature and claims checked locally
	DecidedByIntrospection DecidedBy = "introspection" // the IdP's RFC 7662 answer
	DecidedByRevocation    DecidedBy = "revocation"    // a revocation entry we hold (refusals only)
)

// Trigger is a reason a tiered or introspecting strategy asked the IdP.
type Trigger string

// The triggers (bounded: they are metric label values).
const (
	TriggerSensitiveScope   Trigger = "sensitive_scope"
	TriggerRevocationWindow Trigger = "revocation_window"
	TriggerTokenAge         Trigger = "token_age"
	TriggerOpaque           Trigger = "opaque"
	TriggerLightweight      Trigger = "lightweight"
	TriggerKeyUnavailable   Trigger = "key_unavailable"
	TriggerSampled          Trigger = "sampled"
	TriggerRestartWindow    Trigger = "restart_window"
)

// Result describes an accepted token. A Result is immutable once returned:
// callers must not modify its slices, maps or Claims, which may be shared with
// a cache.
type Result struct {
	Issuer    string // iss, equal to a configured issuer
	Subject   string // sub (may be empty for Keycloak lightweight tokens judged locally)
	ClientID  string // azp, or client_id (RFC 9068 §2.2)
	SessionID string // sid
	TokenID   string // jti

	// Scopes from the space-separated "scope" claim (RFC 8693 §4.2, RFC 9068
	// §2.2.3) or the "scp" array some issuers use.
	Scopes []string
	// RealmRoles from Keycloak's realm_access.roles.
	RealmRoles []string
	// ClientRoles from Keycloak's resource_access.{client}.roles.
	ClientRoles map[string][]string

	ExpiresAt time.Time
	IssuedAt  time.Time

	// Claims is the verified JWT payload, or the introspection response, as
	// raw JSON. Decode it with ClaimsMap or json.Unmarshal.
	Claims json.RawMessage

	// Strategy is the name of the strategy that decided.
	Strategy string
	// DecidedBy says whose evidence settled the decision.
	DecidedBy DecidedBy
	// Cached is true when the decision reused a cached verification or
	// introspection answer.
	Cached bool
	// Triggers lists every rule that made the strategy ask the IdP.
	Triggers []Trigger
	// Degraded is true when the token was accepted on local evidence only
	// because introspection was unavailable (on_unavailable: local).
	Degraded bool
}

// ClaimsMap decodes Claims into a map.
func (r *Result) ClaimsMap() (map[string]any, error) {
	var m map[string]any
	if len(r.Claims) == 0 {
		return map[string]any{}, nil
	}
	if err := json.Unmarshal(r.Claims, &m); err != nil {
		return nil, err
	}
	return m, nil
}
