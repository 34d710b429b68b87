package strategy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/strategy"
)

// FuzzVerify feeds arbitrary strings to the local verification entry point.
// Properties: no panic; every refusal matches exactly one error kind and
// carries a reason; nothing is accepted unless it is byte-for-byte one of
// the validly signed seeds (a mutation of a signed token never verifies).
func FuzzVerify(f *testing.F) {
	fx := newFixture(f, nil)
	c := kcClaims(fx.idp.issuer, t0)
	valid := map[string]bool{}
	for _, tok := range []string{
		mint(hdr("RS256", "rsa1"), c, rs256(keys.rsa)),
		mint(hdr("ES256", "ec1"), c, es256(keys.ec)),
		mint(hdr("EdDSA", "ed1"), c, eddsa(keys.ed)),
	} {
		valid[tok] = true
		f.Add(tok)
	}
	for _, seed := range []string{
		mint(map[string]any{"alg": "none"}, c, nil),
		mint(hdr("HS256", "rsa1"), c, hs256(rsaPublicPEM(&keys.rsa.PublicKey))),
		mint(hdr("RS256", "../../etc/passwd"), c, rs256(keys.rsa)),
		mint(with(hdr("RS256", "rsa1"), "crit", []string{"x"}), c, rs256(keys.rsa)),
		mint(hdr("RS256", "rsa1"), with(c, "exp", "soon"), rs256(keys.rsa)),
		"a.b.c.d.e", "...", ".", "", "{}", "e30.e30.", "eyJhbGciOiJSUzI1NiJ9.e30.AAAA",
		strings.Repeat("A", 20000),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		res, err := fx.local.Validate(context.Background(), strategy.Request{Token: tok})
		if err == nil {
			if !valid[tok] {
				t.Fatalf("accepted a token that is not a signed seed: %q", tok)
			}
			if res == nil {
				t.Fatal("nil result without error")
			}
			return
		}
		if strategy.KindOf(err) == nil || strategy.ReasonOf(err) == "" {
			t.Fatalf("untyped refusal: %v", err)
		}
	})
}
