package strategy

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/tokenwarden/tokenwarden/revocation"
)

// OnUnavailable says what a tiered strategy does when the IdP cannot be
// asked for a trigger that allows degrading (token_age, lightweight,
// sampled, opaque never degrades: there is no local evidence).
type OnUnavailable string

// The fail modes.
const (
	// FailClosed refuses with ErrUnavailable (503).
	FailClosed OnUnavailable = "fail_closed"
	// FailLocal accepts the locally verified token, marked Degraded.
	FailLocal OnUnavailable = "local"
)

// TieredConfig is the policy of a Tiered strategy.
type TieredConfig struct {
	// SensitiveScopes: a request requiring one of them is sensitive.
	SensitiveScopes []string
	// SensitiveIfTokenHas also treats a request as sensitive when the token
	// carries one of SensitiveScopes.
	SensitiveIfTokenHas bool
	// MaxLocalAge: tokens issued longer ago are introspected (0: off).
	MaxLocalAge time.Duration
	// SensitiveMaxAge is the freshness of IdP answers for sensitive
	// requests (0: always a fresh call).
	SensitiveMaxAge time.Duration
	// StandardMaxAge is the freshness for the other triggers.
	StandardMaxAge time.Duration
	// SampleRate is the fraction of otherwise-local decisions also
	// introspected, to measure how often local is wrong (0..1).
	SampleRate float64
	// OnUnavailable applies to token_age, lightweight and sampled triggers.
	// Sensitive requests and revocation or restart windows always fail closed.
	OnUnavailable OnUnavailable
	// IntrospectWhenKeysUnavailable asks the IdP when local keys cannot judge
	// (JWKS down past max_stale, or an unknown kid while refresh is rate-limited).
	IntrospectWhenKeysUnavailable bool
	// Rand returns a number in [0,1) for sampling (default math/rand/v2).
	Rand func() float64
}

// Tiered verifies every token locally and asks the IdP only when a rule
// fires: the request is sensitive, the token is in a revocation or restart
// window, it is older than MaxLocalAge, it is opaque or lightweight, local
// keys cannot judge it, or it was sampled. Every rule that fired is listed
// in Result.Triggers. A locally invalid or denied token is refused with no
// IdP call. Safe for concurrent use.
type Tiered struct {
	name string
	v    *Verifier
	cfg  TieredConfig
}

var _ Strategy = (*Tiered)(nil)

// NewTiered returns a Tiered strategy named name over the shared Verifier.
func NewTiered(name string, v *Verifier, cfg TieredConfig) *Tiered {
	if cfg.OnUnavailable == "" {
		cfg.OnUnavailable = FailClosed
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	return &Tiered{name: name, v: v, cfg: cfg}
}

// mustFailClosed reports whether any trigger forbids degrading to local.
func mustFailClosed(ts []Trigger) bool {
	for _, t := range ts {
		switch t {
		case TriggerSensitiveScope, TriggerRevocationWindow, TriggerRestartWindow, TriggerOpaque, TriggerKeyUnavailable:
			return true
		}
	}
	return false
}

func (t *Tiered) sensitive(req *Request, c *Claims) bool {
	if req.Sensitive {
		return true
	}
	for _, s := range req.Scopes {
		if slices.Contains(t.cfg.SensitiveScopes, s) {
			return true
		}
	}
	if t.cfg.SensitiveIfTokenHas && c != nil {
		for _, s := range c.Scopes {
			if slices.Contains(t.cfg.SensitiveScopes, s) {
				return true
			}
		}
	}
	return false
}

// Validate decides req per the tiered policy.
func (t *Tiered) Validate(ctx context.Context, req Request) (*Result, error) {
	if req.Token != "" && shapeOf(req.Token) == shapeOpaque {
		return t.opaque(ctx, req)
	}
	c, cached, verdict, err := t.v.verify(ctx, req.Token)
	if err != nil {
		if t.cfg.IntrospectWhenKeysUnavailable && errors.Is(err, ErrUnavailable) && ReasonOf(err) == ReasonKeysUnavailable {
			return t.keysUnavailable(ctx, req, err)
		}
		return nil, err
	}
	var triggers []Trigger
	sensitive := t.sensitive(&req, c)
	if sensitive {
		triggers = append(triggers, TriggerSensitiveScope)
	}
	if verdict.Watch && verdict.Reason != revocation.ReasonRestart {
		// An entry of ours, also when the restart window applies too.
		triggers = append(triggers, TriggerRevocationWindow)
	}
	if verdict.RestartWindow {
		triggers = append(triggers, TriggerRestartWindow)
	}
	now := t.v.clock.Now()
	if t.cfg.MaxLocalAge > 0 && now.Sub(c.IssuedAt) > t.cfg.MaxLocalAge {
		triggers = append(triggers, TriggerTokenAge)
	}
	if lightweight(c, &req) {
		triggers = append(triggers, TriggerLightweight)
	}
	if len(triggers) == 0 && t.cfg.SampleRate > 0 && t.cfg.Rand() < t.cfg.SampleRate {
		triggers = append(triggers, TriggerSampled)
	}
	if len(triggers) == 0 {
		if err := Authorize(c, &req); err != nil {
			return nil, err
		}
		return c.Result(t.name, DecidedByLocal, cached), nil
	}

	is := t.v.issuers[c.Issuer]
	if is == nil || is.Introspector == nil {
		return t.unavailable(c, &req, triggers, cached, &Error{Kind: ErrUnavailable, Reason: ReasonIDPUnavailable,
			Detail: "introspection is not configured for this issuer", RetryAfter: time.Second})
	}
	maxAge := t.cfg.StandardMaxAge
	if sensitive {
		maxAge = t.cfg.SensitiveMaxAge
	}
	if verdict.Watch && !verdict.At.IsZero() {
		// An answer from before the revocation event says nothing about it.
		maxAge = min(maxAge, max(now.Sub(verdict.At), 0))
	}
	ic, a, ierr := t.v.Introspect(ctx, is, req.Token, maxAge)
	if ierr != nil {
		if errors.Is(ierr, ErrUnavailable) {
			return t.unavailable(c, &req, triggers, cached, ierr)
		}
		if errors.Is(ierr, ErrInactive) && ReasonOf(ierr) == ReasonInactive {
			// The IdP says no about a token that verifies locally: remember
			// its jti so that the next request is refused with no call.
			t.v.learnInactive(ctx, c)
		}
		return nil, withTriggers(ierr, triggers)
	}
	merged := mergeIntrospected(c, ic)
	if err := Authorize(merged, &req); err != nil {
		err.DecidedBy = DecidedByIntrospection
		return nil, err
	}
	res := merged.Result(t.name, DecidedByIntrospection, a.Cached)
	res.Triggers = triggers
	return res, nil
}

// unavailable applies the fail mode when the IdP cannot be asked.
func (t *Tiered) unavailable(c *Claims, req *Request, triggers []Trigger, cached bool, cause *Error) (*Result, error) {
	if mustFailClosed(triggers) || t.cfg.OnUnavailable != FailLocal {
		return nil, withTriggers(cause, triggers)
	}
	// Lightweight tokens lack what the request needs; accepting them
	// locally would skip the role check the IdP had to answer.
	if slices.Contains(triggers, TriggerLightweight) {
		return nil, withTriggers(cause, triggers)
	}
	if err := Authorize(c, req); err != nil {
		return nil, err
	}
	res := c.Result(t.name, DecidedByLocal, cached)
	res.Triggers = triggers
	res.Degraded = true
	return res, nil
}

// withTriggers records on e why the IdP was asked.
func withTriggers(e *Error, ts []Trigger) *Error {
	e.Triggers = ts
	return e
}

// opaque tokens can only be judged by the IdP.
func (t *Tiered) opaque(ctx context.Context, req Request) (*Result, error) {
	is, _, rerr := t.v.routeIntrospection(req.Token)
	if rerr != nil {
		return nil, rerr
	}
	maxAge := t.cfg.StandardMaxAge
	if t.sensitive(&req, nil) {
		maxAge = t.cfg.SensitiveMaxAge
	}
	return t.judgedByIdP(ctx, is, req, maxAge, TriggerOpaque)
}

// judgedByIdP decides a token only the IdP can judge (opaque, or local keys
// unavailable): there is no local evidence to degrade to.
func (t *Tiered) judgedByIdP(ctx context.Context, is *issuer, req Request, maxAge time.Duration, tr Trigger) (*Result, error) {
	triggers := []Trigger{tr}
	c, a, err := t.v.Introspect(ctx, is, req.Token, maxAge)
	if err != nil {
		return nil, withTriggers(err, triggers)
	}
	if d := t.v.denied(c); d != nil {
		return nil, withTriggers(d, triggers)
	}
	if err := Authorize(c, &req); err != nil {
		err.DecidedBy = DecidedByIntrospection
		return nil, withTriggers(err, triggers)
	}
	res := c.Result(t.name, DecidedByIntrospection, a.Cached)
	res.Triggers = triggers
	return res, nil
}

// keysUnavailable asks the IdP when local keys cannot judge the token.
func (t *Tiered) keysUnavailable(ctx context.Context, req Request, keyErr error) (*Result, error) {
	is, _, rerr := t.v.routeIntrospection(req.Token)
	if rerr != nil || is.Introspector == nil {
		return nil, keyErr
	}
	if peeked := t.v.peekFacts(req.Token); peeked != nil {
		if d := t.v.denied(peeked); d != nil {
			return nil, d
		}
	}
	return t.judgedByIdP(ctx, is, req, t.cfg.SensitiveMaxAge, TriggerKeyUnavailable)
}

// lightweight reports whether a locally verified token lacks claims the
// request needs: Keycloak's lightweight access tokens carry no sub and no
// roles; introspection returns them.
func lightweight(c *Claims, req *Request) bool {
	if c.Subject == "" {
		return true
	}
	return len(req.Roles) > 0 && c.RealmRoles == nil && c.ClientRoles == nil
}

// mergeIntrospected completes local claims with what the IdP answered:
// subject and roles for lightweight tokens, and the IdP's current scopes.
func mergeIntrospected(local, idp *Claims) *Claims {
	m := *local
	if m.Subject == "" {
		m.Subject = idp.Subject
	}
	if idp.RealmRoles != nil {
		m.RealmRoles = idp.RealmRoles
	}
	if idp.ClientRoles != nil {
		m.ClientRoles = idp.ClientRoles
	}
	if idp.Scopes != nil {
		m.Scopes = idp.Scopes
	}
	return &m
}

// WithOnUnavailable returns a copy of t with another fail mode (a route's
// override); the copy shares the Verifier and every cache. Modes:
// "fail_closed" or "local".
func (t *Tiered) WithOnUnavailable(mode string) (Strategy, error) {
	m := OnUnavailable(mode)
	if m != FailClosed && m != FailLocal {
		return nil, fmt.Errorf("strategy: unknown on_unavailable %q (fail_closed or local)", mode)
	}
	c := *t
	c.cfg.OnUnavailable = m
	return &c, nil
}
