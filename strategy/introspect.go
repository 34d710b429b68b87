package strategy

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/tokenwarden/tokenwarden/introspection"
)

// Introspector asks an IdP about a token (RFC 7662 §2). maxAge is the
// freshness the caller needs: a cached answer older than maxAge is not
// used (0: always a fresh call). *introspection.Client implements it.
// Implementations must be safe for concurrent use and honour ctx.
type Introspector interface {
	Introspect(ctx context.Context, token string, maxAge time.Duration) (*introspection.Answer, error)
}

// Opaque tokens reach the IdP only when they pass this filter, so that
// garbage costs no IdP call: length and the RFC 6750 §2.1 b64token charset.
const (
	minOpaqueBytes = 16
)

func opaqueShapeOK(tok string, maxBytes int) bool {
	if len(tok) < minOpaqueBytes || len(tok) > maxBytes {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/', c == '=':
		default:
			return false
		}
	}
	return true
}

// peek decodes an unverified JWS payload: its issuer for routing, and the
// facts revocation entries are keyed by. Unverified facts may only refuse
// (a forged sid can get a token denied, never accepted).
func (v *Verifier) peek(token string) (*issuer, *Claims, *Error) {
	d1 := strings.IndexByte(token, '.')
	d2 := strings.LastIndexByte(token, '.')
	if d1 < 0 || d2 == d1 {
		return nil, nil, invalid(ReasonMalformed, "not a compact JWS", nil)
	}
	pb, err := b64.DecodeString(token[d1+1 : d2])
	if err != nil {
		return nil, nil, invalid(ReasonMalformed, "payload is not base64url", nil)
	}
	var w struct {
		Iss      string          `json:"iss"`
		Sub      string          `json:"sub"`
		Sid      string          `json:"sid"`
		Jti      string          `json:"jti"`
		Azp      string          `json:"azp"`
		ClientID string          `json:"client_id"`
		Iat      json.RawMessage `json:"iat"`
	}
	if err := strictUnmarshal(pb, &w); err != nil {
		return nil, nil, invalid(ReasonClaims, "claims are not a well-typed JSON object", nil)
	}
	is, ok := v.issuers[w.Iss]
	if !ok {
		return nil, nil, invalid(ReasonIssuer, "issuer not trusted", nil)
	}
	c := &Claims{Issuer: w.Iss, Subject: w.Sub, SessionID: w.Sid, TokenID: w.Jti, ClientID: w.Azp}
	if c.ClientID == "" {
		c.ClientID = w.ClientID
	}
	c.IssuedAt, _ = parseNumericDate(w.Iat)
	return is, c, nil
}

// peekFacts returns the unverified revocation facts of a JWS, or nil.
func (v *Verifier) peekFacts(token string) *Claims {
	_, c, err := v.peek(token)
	if err != nil {
		return nil
	}
	return c
}

// routeIntrospection picks the issuer whose IdP judges token: by iss for a
// JWS, the opaque issuer for anything else. Garbage is refused with no call.
func (v *Verifier) routeIntrospection(token string) (is *issuer, opaque bool, err *Error) {
	is, opaque, _, err = v.route(token)
	return is, opaque, err
}

// route is routeIntrospection that also returns the unverified facts of a JWS.
func (v *Verifier) route(token string) (is *issuer, opaque bool, peeked *Claims, err *Error) {
	if len(token) == 0 {
		return nil, false, nil, &Error{Kind: ErrInvalid, Reason: ReasonMissing, Detail: "no token"}
	}
	if len(token) > v.maxBytes {
		return nil, false, nil, invalid(ReasonTooLarge, "token exceeds the size limit", nil)
	}
	switch shapeOf(token) {
	case shapeMalformed:
		return nil, false, nil, invalid(ReasonMalformed, "not a compact JWS and not an opaque token", nil)
	case shapeOpaque:
		if v.opaque == nil {
			return nil, true, nil, invalid(ReasonOpaque, "opaque tokens are not accepted", nil)
		}
		if !opaqueShapeOK(token, v.opaque.MaxTokenBytes) {
			return nil, true, nil, invalid(ReasonMalformed, "not a well-formed token", nil)
		}
		return v.opaque, true, nil, nil
	}
	is, peeked, err = v.peek(token)
	if err != nil {
		return nil, false, nil, err
	}
	if len(token) > is.MaxTokenBytes {
		return nil, false, nil, invalid(ReasonTooLarge, "token exceeds the size limit", nil)
	}
	if is.Introspector == nil {
		return nil, false, nil, &Error{Kind: ErrNotApplicable, Reason: ReasonIssuer, Detail: "introspection is not enabled for this issuer"}
	}
	return is, false, peeked, nil
}

// introspectionError translates the introspection client's errors: the one
// place where IdP outcomes that are not answers become decisions. An IdP
// that cannot answer is never a reason to refuse a token as invalid.
func introspectionError(err error) *Error {
	if errors.Is(err, introspection.ErrNoToken) {
		return &Error{Kind: ErrInvalid, Reason: ReasonMissing, Detail: "no token", DecidedBy: DecidedByIntrospection}
	}
	retry := time.Second
	return &Error{Kind: ErrUnavailable, Reason: ReasonIDPUnavailable, Detail: "the IdP could not be asked; retry", RetryAfter: retry, Err: err, DecidedBy: DecidedByIntrospection}
}

// Introspect asks is's IdP about token with the given freshness and applies
// the issuer's acceptance policy to the answer. It returns the claims the
// IdP vouched for.
func (v *Verifier) Introspect(ctx context.Context, is *issuer, token string, maxAge time.Duration) (*Claims, *introspection.Answer, *Error) {
	a, err := is.Introspector.Introspect(ctx, token, maxAge)
	if err != nil {
		return nil, nil, introspectionError(err)
	}
	c, perr := v.checkAnswer(a, is)
	if perr != nil {
		perr.DecidedBy = DecidedByIntrospection
		return nil, a, perr
	}
	return c, a, nil
}

// introspectedNonAccess are token_type/typ/token_use values of tokens that
// are not access tokens (Keycloak typ, RFC 7662 token_type hints, Hydra's token_use).
var introspectedNonAccess = map[string]bool{
	"refresh": true, "offline": true, "id": true, "logout": true, "serialized-id": true,
	"refresh_token": true, "id_token": true,
}

// checkAnswer applies the same acceptance policy as the local pipeline to
// an RFC 7662 answer: active must be true; exp required and enforced with
// nbf; iss equal to the issuer when present; aud/azp per the issuer's
// audiences or authorized parties (any client of a Keycloak realm may
// introspect any token of the realm, so the audience check is ours);
// refresh, offline and ID tokens refused; cnf-bound tokens refused.
func (v *Verifier) checkAnswer(a *introspection.Answer, is *issuer) (*Claims, *Error) {
	r := a.Response
	if r == nil || !r.Active {
		return nil, inactive(ReasonInactive, "the IdP says the token is not active")
	}
	c := &Claims{
		Issuer: r.Iss, Subject: r.Sub, Audience: r.Aud, ClientID: r.Azp, SessionID: r.Sid,
		TokenID: r.Jti, Type: r.Typ, Scopes: strings.Fields(r.Scope), RealmRoles: r.RealmAccess.Roles,
		Raw: r.Raw,
	}
	if c.Issuer == "" {
		c.Issuer = is.Issuer
	}
	if c.ClientID == "" {
		c.ClientID = r.ClientID
	}
	if len(r.ResourceAccess) > 0 {
		c.ClientRoles = make(map[string][]string, len(r.ResourceAccess))
		for k, acc := range r.ResourceAccess {
			c.ClientRoles[k] = acc.Roles
		}
	}
	if r.Exp == nil {
		return nil, invalid(ReasonExpired, "the IdP answer has no exp", nil)
	}
	c.ExpiresAt = *r.Exp
	if r.Iat != nil {
		c.IssuedAt = *r.Iat
	}
	if r.Nbf != nil {
		c.NotBefore = *r.Nbf
	}
	if c.Issuer != is.Issuer {
		return nil, invalid(ReasonIssuer, "the IdP answered for another issuer", nil)
	}
	now := v.clock.Now()
	if !now.Before(c.ExpiresAt.Add(is.ClockSkew)) {
		return nil, inactive(ReasonExpired, "token expired")
	}
	if !c.NotBefore.IsZero() && now.Add(is.ClockSkew).Before(c.NotBefore) {
		return nil, inactive(ReasonNotBefore, "token not yet valid")
	}
	if introspectedNonAccess[strings.ToLower(r.Typ)] || introspectedNonAccess[strings.ToLower(r.TokenType)] || introspectedNonAccess[strings.ToLower(r.TokenUse)] {
		return nil, invalid(ReasonType, "not an access token", nil)
	}
	if err := checkAudience(c, is); err != nil {
		return nil, err
	}
	bound, err := hasBinding(r.Cnf)
	if err != nil || bound {
		return nil, invalid(ReasonBoundToken, "sender-constrained token presented as a bearer token", nil)
	}
	return c, nil
}

// IntrospectConfig is the policy of an Introspect strategy.
type IntrospectConfig struct {
	// StandardMaxAge: cached answers younger than this serve ordinary requests.
	StandardMaxAge time.Duration
	// SensitiveMaxAge: freshness for Request.Sensitive (0: always a fresh call).
	SensitiveMaxAge time.Duration
}

// Introspect judges every token by the IdP (RFC 7662), through the shared
// introspection cache: it sees revocation the IdP knows of at once, at the
// price of a call per token and freshness class. Required scopes and roles
// are checked against the IdP's answer. Safe for concurrent use.
type Introspect struct {
	name string
	v    *Verifier
	cfg  IntrospectConfig
}

var _ Strategy = (*Introspect)(nil)

// NewIntrospect returns an Introspect strategy named name over the shared
// Verifier (whose issuers carry their introspection clients).
func NewIntrospect(name string, v *Verifier, cfg IntrospectConfig) *Introspect {
	return &Introspect{name: name, v: v, cfg: cfg}
}

// Validate asks the IdP about req.Token.
func (s *Introspect) Validate(ctx context.Context, req Request) (*Result, error) {
	is, opaque, peeked, rerr := s.v.route(req.Token)
	if rerr != nil {
		return nil, rerr
	}
	if peeked != nil {
		// What the IdP told us already (logout, not-before): refuse with
		// no call.
		if err := s.v.denied(peeked); err != nil {
			return nil, err
		}
	}
	maxAge := s.cfg.StandardMaxAge
	if req.Sensitive {
		maxAge = s.cfg.SensitiveMaxAge
	}
	c, a, err := s.v.Introspect(ctx, is, req.Token, maxAge)
	if err != nil {
		if opaque {
			err.Triggers = []Trigger{TriggerOpaque}
		}
		return nil, err
	}
	// A warm cache must not outlive a logout we were told about.
	if err := s.v.denied(c); err != nil {
		return nil, err
	}
	if err := Authorize(c, &req); err != nil {
		err.DecidedBy = DecidedByIntrospection
		return nil, err
	}
	res := c.Result(s.name, DecidedByIntrospection, a.Cached)
	if opaque {
		res.Triggers = []Trigger{TriggerOpaque}
	}
	return res, nil
}
