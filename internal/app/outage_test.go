package app_test

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/idpsim"
)

// TestIntrospectionOutageIs503: IdP 500/503/garbage/hang at the service is
// 503 with Retry-After, never 401.
func TestIntrospectionOutageIs503(t *testing.T) {
	idp, err := idpsim.Start(idpsim.DefaultConfig(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	t.Setenv("TW_TEST_SECRET", "demo-secret")
	p := filepath.Join(t.TempDir(), "tw.yaml")
	cfgText := `
issuers:
  - name: dev
    issuer: ` + idp.Issuer("dev") + `
    authorized_parties: [demo]
    introspection:
      enabled: true
      client_id: demo
      client_secret: {env: TW_TEST_SECRET}
      timeout: 300ms
      breaker: {failure_threshold: 100}
strategies:
  introspection: {type: introspection}
default_strategy: introspection
`
	if err := os.WriteFile(p, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	_, srv := serveFile(t, p, slog.New(slog.DiscardHandler))
	tok, _ := idp.ClientCredentials("dev", "demo")
	post := func() (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/validate", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	if resp, body := post(); resp.StatusCode != 200 {
		t.Fatalf("healthy IdP: %d %s", resp.StatusCode, body)
	}
	for _, f := range []idpsim.Fault{
		{ErrorRate: 1, ErrorStatus: 500}, {ErrorRate: 1, ErrorStatus: 503}, {Garbage: true}, {Hang: true},
	} {
		idp.SetFault(idpsim.EndpointIntrospect, f)
		// A fresh token each time so no cached answer hides the outage.
		tok, _ = idp.ClientCredentials("dev", "demo")
		resp, body := post()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, `"reason":"idp_unavailable"`) {
			t.Fatalf("fault %+v: %d %v %s", f, resp.StatusCode, resp.Header, body)
		}
	}
}
