package strategy_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/jwks"
	"github.com/tokenwarden/tokenwarden/strategy"
)

// A Local strategy over a static key. In a service the KeySource is a
// *jwks.Resolver that follows the issuer's JWKS.
func ExampleLocal() {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	keySource := strategy.KeySourceFunc(func(ctx context.Context, kid, alg string) (jwks.Key, error) {
		if kid != "k1" {
			return jwks.Key{}, jwks.ErrUnknownKID
		}
		return jwks.Key{KID: "k1", Alg: "EdDSA", Public: priv.Public()}, nil
	})
	now := time.Unix(1_800_000_000, 0)
	v, err := strategy.NewVerifier([]strategy.IssuerConfig{{
		Name:              "example",
		Issuer:            "https://idp.example/realms/demo",
		AuthorizedParties: []string{"demo"},
		Algorithms:        []string{"EdDSA"},
		Keys:              keySource,
	}}, strategy.WithClock(clock.Func(func() time.Time { return now })))
	if err != nil {
		panic(err)
	}
	defer v.Close()
	local := strategy.NewLocal("local", v)

	token := mint(map[string]any{"alg": "EdDSA", "kid": "k1", "typ": "JWT"}, map[string]any{
		"iss": "https://idp.example/realms/demo", "sub": "alice-id", "azp": "demo", "typ": "Bearer",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "scope": "openid orders:read",
	}, eddsa(priv))

	res, err := local.Validate(context.Background(), strategy.Request{Token: token, Scopes: []string{"orders:read"}})
	fmt.Println(res.Subject, res.ClientID, res.DecidedBy, err)

	_, err = local.Validate(context.Background(), strategy.Request{Token: token, Scopes: []string{"orders:write"}})
	fmt.Println(errors.Is(err, strategy.ErrForbidden), strategy.ReasonOf(err))
	// Output:
	// alice-id demo local <nil>
	// true scope
}
