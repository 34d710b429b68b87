package validator_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tokenwarden/tokenwarden/internal/tokenhash"
	"github.com/tokenwarden/tokenwarden/strategy"
	"github.com/tokenwarden/tokenwarden/validator"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSecretsNeverLeak drives every outcome, including a strategy that
// wrongly puts the token into its error, and checks that neither the token
// nor the API key appears in logs, response bodies or headers.
func TestSecretsNeverLeak(t *testing.T) {
	const (
		token  = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJlLXNlY3JldA"
		apiKey = "api-key-very-secret-123"
	)
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	var (
		mu      sync.Mutex
		verdict error
	)
	st := strategy.Func(func(_ context.Context, req strategy.Request) (*strategy.Result, error) {
		mu.Lock()
		defer mu.Unlock()
		if verdict != nil {
			return nil, verdict
		}
		return &strategy.Result{Subject: "u1", Claims: []byte(`{"sub":"u1","email":"e"}`), Strategy: "s"}, nil
	})
	leaky := strategy.NewError(strategy.ErrInvalid, strategy.ReasonMalformed, "cannot parse "+token, fmt.Errorf("token %s is bad", token))
	svc, err := validator.New(validator.Config{
		Strategies:   map[string]strategy.Strategy{"s": st},
		APIKeys:      [][]byte{[]byte(apiKey)},
		ExposeClaims: []string{"email"},
	}, validator.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)

	key := http.Header{"X-Api-Key": {apiKey}}
	with := func(h http.Header) http.Header {
		out := http.Header{}
		for k, v := range h {
			out[k] = v
		}
		for k, v := range key {
			out[k] = v
		}
		return out
	}
	calls := []struct {
		verdict error
		call    call
	}{
		{nil, call{header: with(bearer(token))}},
		{nil, call{header: with(nil), body: `{"token":"` + token + `"}`}},
		{leaky, call{header: with(bearer(token))}},
		{leaky, call{header: with(nil), body: `{"token":"` + token + `","scopes":["read"]}`}},
		{strategy.NewError(strategy.ErrForbidden, strategy.ReasonScope, "", nil), call{header: with(bearer(token)), body: `{"scopes":["read"]}`}},
		{strategy.NewError(strategy.ErrUnavailable, strategy.ReasonIDPUnavailable, "", nil), call{header: with(bearer(token))}},
		{nil, call{header: with(bearer(token)), body: `{"token":"` + token + `"}`}},         // token twice
		{nil, call{header: with(http.Header{"Authorization": {"Bearer " + token + " x"}})}}, // malformed
		{nil, call{header: http.Header{"Authorization": {"Bearer " + token}, "X-Api-Key": {apiKey + "x"}}}},
	}
	var bodies strings.Builder
	for i, c := range calls {
		mu.Lock()
		verdict = c.verdict
		mu.Unlock()
		got := do(t, srv.Client(), srv.URL, c.call)
		fmt.Fprintf(&bodies, "%d %d %s %v\n", i, got.status, got.body, got.header)
	}

	if strings.Contains(bodies.String(), token) || strings.Contains(bodies.String(), apiKey) {
		t.Errorf("a response carries a secret:\n%s", bodies.String())
	}
	l := logs.String()
	if strings.Contains(l, token) || strings.Contains(l, apiKey) {
		t.Errorf("logs carry a secret:\n%s", l)
	}
	// The fingerprint is there, so rejections can be correlated.
	if fp := tokenhash.Fingerprint(token); !strings.Contains(l, fp) {
		t.Errorf("logs lack the token fingerprint %s:\n%s", fp, l)
	}
	if n := strings.Count(l, `"msg":"token rejected"`); n != 6 {
		t.Errorf("%d rejection lines, want 6:\n%s", n, l)
	}
	if n := strings.Count(l, `"msg":"token accepted"`); n != 2 {
		t.Errorf("%d acceptance lines, want 2:\n%s", n, l)
	}
}
