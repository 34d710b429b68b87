package strategy

import "context"

// Local accepts a token on local evidence only: signature against the
// issuer's JWKS and the claim rules of the Verifier. It never calls the IdP,
// so it cannot see revocation the IdP has not pushed to us. Safe for
// concurrent use.
type Local struct {
	name string
	v    *Verifier
}

var _ Strategy = (*Local)(nil)

// NewLocal returns a Local strategy named name over the shared Verifier.
func NewLocal(name string, v *Verifier) *Local { return &Local{name: name, v: v} }

// Validate verifies req.Token locally and checks the required scopes and roles.
func (l *Local) Validate(ctx context.Context, req Request) (*Result, error) {
	c, cached, err := l.v.Verify(ctx, req.Token)
	if err != nil {
		return nil, err
	}
	if err := Authorize(c, &req); err != nil {
		return nil, err
	}
	return c.Result(l.name, DecidedByLocal, cached), nil
}
