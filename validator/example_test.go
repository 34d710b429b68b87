package validator_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/tokenwarden/tokenwarden/strategy"
	"github.com/tokenwarden/tokenwarden/validator"
)

func Example() {
	// A stand-in strategy; tokenwarden wires Local, Introspect or Tiered here.
	st := strategy.Func(func(_ context.Context, req strategy.Request) (*strategy.Result, error) {
		if req.Token != "good-token" {
			return nil, strategy.NewError(strategy.ErrInactive, strategy.ReasonExpired, "token expired", nil)
		}
		return &strategy.Result{
			Issuer:    "https://idp.example/realms/demo",
			Subject:   "alice-id",
			ClientID:  "web",
			Scopes:    []string{"openid", "orders:read"},
			ExpiresAt: time.Unix(1700000300, 0),
			IssuedAt:  time.Unix(1700000000, 0),
			Claims:    []byte(`{"sub":"alice-id","email":"alice@example.com","address":"secret"}`),
			DecidedBy: strategy.DecidedByLocal,
		}, nil
	})
	svc, err := validator.New(validator.Config{
		Strategies:   map[string]strategy.Strategy{"local": st},
		ExposeClaims: []string{"email"},
	})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()

	for _, tok := range []string{"good-token", "old-token"} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/validate", strings.NewReader(`{"scopes":["orders:read"]}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
		if c := resp.Header.Get("WWW-Authenticate"); c != "" {
			fmt.Println("WWW-Authenticate:", c)
		}
		fmt.Print(string(body))
	}
	// Output:
	// 200
	// {"active":true,"sub":"alice-id","client_id":"web","scope":"openid orders:read","realm_roles":[],"client_roles":{},"exp":1700000300,"iat":1700000000,"iss":"https://idp.example/realms/demo","strategy":"local","decided_by":"local","cached":false,"triggers":[],"degraded":false,"claims":{"email":"alice@example.com"}}
	// 401
	// WWW-Authenticate: Bearer realm="tokenwarden", error="invalid_token", error_description="token expired"
	// {"active":false,"error":"invalid_token","error_description":"token expired","reason":"exp"}
}
