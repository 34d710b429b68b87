package jwks_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/tokenwarden/tokenwarden/jwks"
)

func Example() {
	// An issuer publishing one P-256 key without an "alg" member.
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, _ := jwk.FromRaw(priv.Public())
	_ = key.Set(jwk.KeyIDKey, "kc-ec-1")
	set := jwk.NewSet()
	_ = set.AddKey(key)
	body, _ := json.Marshal(set)

	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/realms/demo/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{
				"issuer":   srv.URL + "/realms/demo",
				"jwks_uri": srv.URL + "/realms/demo/protocol/openid-connect/certs",
			})
		case "/realms/demo/protocol/openid-connect/certs":
			_, _ = w.Write(body)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	r, err := jwks.New(jwks.Config{
		Name:       "demo",
		Issuer:     srv.URL + "/realms/demo",
		Algorithms: []string{"RS256", "ES256"},
	}, jwks.WithHTTPClient(srv.Client()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()

	k, err := r.Key(context.Background(), "kc-ec-1", "ES256")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(k.KID, k.Alg)

	// The same key asked for with another algorithm is refused.
	_, err = r.Key(context.Background(), "kc-ec-1", "RS256")
	fmt.Println(errors.Is(err, jwks.ErrAlgMismatch))
	// Output:
	// kc-ec-1 ES256
	// true
}
