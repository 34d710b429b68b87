package introspection_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/tokenwarden/tokenwarden/introspection"
)

func Example() {
	// A fake IdP that finds every token active.
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"active":true,"client_id":"demo","exp":%d}`, time.Now().Add(time.Minute).Unix())
	}))
	defer idp.Close()

	c, err := introspection.New(introspection.Config{
		Name:         "dev",
		Endpoint:     idp.URL + "/realms/dev/protocol/openid-connect/token/introspect",
		ClientID:     "resource-server",
		ClientSecret: []byte("s3cret"),
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	ans, err := c.Introspect(context.Background(), "an-opaque-or-jwt-token", 30*time.Second)
	if err != nil {
		panic(err) // errors.Is(err, introspection.ErrUnavailable): no answer, never "inactive"
	}
	fmt.Println(ans.Active, ans.ClientID)

	// Asked again within 30s: served from the cache.
	ans, _ = c.Introspect(context.Background(), "an-opaque-or-jwt-token", 30*time.Second)
	fmt.Println(ans.Cached)
	// Output:
	// true demo
	// true
}
