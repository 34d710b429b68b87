package httpauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/tokenwarden/tokenwarden/strategy"
	"github.com/tokenwarden/tokenwarden/strategy/httpauth"
)

func Example() {
	// A stand-in strategy; a service wires strategy.NewLocal or a tiered one.
	st := strategy.Func(func(_ context.Context, req strategy.Request) (*strategy.Result, error) {
		if req.Token != "good-token" {
			return nil, strategy.NewError(strategy.ErrInvalid, strategy.ReasonSignature, "", nil)
		}
		return &strategy.Result{Subject: "alice-id", ClientID: "web", Scopes: []string{"orders:read"}}, nil
	})
	orders := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, _ := httpauth.FromContext(r.Context())
		fmt.Fprintf(w, "orders of %s", res.Subject)
	})
	protect := httpauth.Middleware(st, httpauth.RequireScopes("orders:read"), httpauth.WithRealm("shop"))
	srv := httptest.NewServer(protect(orders))
	defer srv.Close()

	for _, tok := range []string{"good-token", "forged"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/orders", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		var body [64]byte
		n, _ := resp.Body.Read(body[:])
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			fmt.Println(resp.StatusCode, string(body[:n]))
		} else {
			fmt.Println(resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	// Output:
	// 200 orders of alice-id
	// 401 Bearer realm="shop", error="invalid_token"
}
