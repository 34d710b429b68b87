package httpauth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/strategy"
	"github.com/tokenwarden/tokenwarden/strategy/httpauth"
)

// recording answers by token and keeps the last request.
type recording struct {
	mu   sync.Mutex
	last strategy.Request
	n    int
}

func (s *recording) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func (s *recording) Validate(_ context.Context, req strategy.Request) (*strategy.Result, error) {
	s.mu.Lock()
	s.last, s.n = req, s.n+1
	s.mu.Unlock()
	switch req.Token {
	case "good":
		for _, sc := range req.Scopes {
			if sc != "read" {
				return nil, strategy.NewError(strategy.ErrForbidden, strategy.ReasonScope, "", nil)
			}
		}
		return &strategy.Result{Subject: "u1", Scopes: []string{"read"}}, nil
	case "expired":
		return nil, strategy.NewError(strategy.ErrInactive, strategy.ReasonExpired, "expired", nil)
	case "opaque":
		return nil, strategy.NewError(strategy.ErrNotApplicable, strategy.ReasonOpaque, "", nil)
	case "down":
		return nil, &strategy.Error{Kind: strategy.ErrUnavailable, Reason: strategy.ReasonIDPUnavailable, RetryAfter: 1200 * time.Millisecond}
	case "down-long":
		return nil, &strategy.Error{Kind: strategy.ErrUnavailable, RetryAfter: 48 * time.Hour}
	case "weird":
		return nil, errors.New("boom")
	case "nilnil":
		return nil, nil
	}
	return nil, strategy.NewError(strategy.ErrInvalid, strategy.ReasonSignature, "", nil)
}

var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	res, ok := httpauth.FromContext(r.Context())
	if !ok {
		http.Error(w, "no result", 500)
		return
	}
	_, _ = io.WriteString(w, "hello "+res.Subject)
})

func get(t *testing.T, srv *httptest.Server, auth ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	for _, a := range auth {
		req.Header.Add("Authorization", a)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestMiddleware(t *testing.T) {
	st := &recording{}
	srv := httptest.NewServer(httpauth.Middleware(st, httpauth.WithRealm("r"))(echo))
	defer srv.Close()
	scoped := httptest.NewServer(httpauth.Middleware(st, httpauth.RequireScopes("read", "write"), httpauth.RequireRoles("admin", "app:x"), httpauth.Sensitive())(echo))
	defer scoped.Close()

	tests := []struct {
		name       string
		srv        *httptest.Server
		auth       []string
		wantStatus int
		wantChal   string // WWW-Authenticate; "" = absent
		wantRetry  string
		wantBody   string
	}{
		{"accepted", srv, []string{"Bearer good"}, 200, "", "", "hello u1"},
		{"scheme case-insensitive, tabs", srv, []string{"bEaReR\tgood"}, 200, "", "", "hello u1"},
		{"no header", srv, nil, 401, `Bearer realm="r"`, "", `{"error":"unauthorized"}`},
		{"other scheme", srv, []string{"Basic dTpw"}, 401, `Bearer realm="r"`, "", ""},
		{"scheme only", srv, []string{"Bearer"}, 400, `Bearer realm="r", error="invalid_request"`, "", ""},
		{"not a b64token", srv, []string{`Bearer a"b`}, 400, `Bearer realm="r", error="invalid_request"`, "", ""},
		{"two headers", srv, []string{"Bearer good", "Bearer good"}, 400, `Bearer realm="r", error="invalid_request"`, "", ""},
		{"invalid", srv, []string{"Bearer forged"}, 401, `Bearer realm="r", error="invalid_token"`, "", `{"error":"invalid_token"}`},
		{"inactive", srv, []string{"Bearer expired"}, 401, `Bearer realm="r", error="invalid_token"`, "", ""},
		{"not applicable", srv, []string{"Bearer opaque"}, 401, `Bearer realm="r", error="invalid_token"`, "", ""},
		{"unknown error never passes", srv, []string{"Bearer weird"}, 401, `Bearer realm="r", error="invalid_token"`, "", ""},
		{"nil result never passes", srv, []string{"Bearer nilnil"}, 401, `Bearer realm="r", error="invalid_token"`, "", ""},
		{"unavailable", srv, []string{"Bearer down"}, 503, "", "2", `{"error":"temporarily_unavailable"}`},
		{"unavailable capped", srv, []string{"Bearer down-long"}, 503, "", "86400", ""},
		{"insufficient scope", scoped, []string{"Bearer good"}, 403, `Bearer realm="api", error="insufficient_scope", scope="read write"`, "", `{"error":"insufficient_scope"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := st.count()
			resp, body := get(t, tt.srv, tt.auth...)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tt.wantChal {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.wantChal)
			}
			if got := resp.Header.Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("Retry-After %q, want %q", got, tt.wantRetry)
			}
			if tt.wantBody != "" && strings.TrimSpace(body) != tt.wantBody {
				t.Errorf("body %q, want %q", body, tt.wantBody)
			}
			if resp.StatusCode != 200 && resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("refusal without Cache-Control: no-store")
			}
			if resp.StatusCode == 400 || tt.auth == nil || tt.name == "other scheme" {
				if st.count() != before {
					t.Errorf("strategy asked for a request without a well-formed token")
				}
			}
		})
	}
	st.mu.Lock()
	last := st.last
	st.mu.Unlock()
	if !slices.Equal(last.Scopes, []string{"read", "write"}) || !slices.Equal(last.Roles, []string{"admin", "app:x"}) || !last.Sensitive {
		t.Errorf("request passed to the strategy: %+v", last)
	}
}

func TestWithErrorHandler(t *testing.T) {
	var got []error
	h := httpauth.Middleware(&recording{}, httpauth.WithErrorHandler(func(w http.ResponseWriter, _ *http.Request, err error) {
		got = append(got, err)
		w.Header().Set("Location", "/login")
		w.WriteHeader(http.StatusFound)
	}))(echo)
	srv := httptest.NewServer(h)
	defer srv.Close()
	srv.Client().CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, auth := range [][]string{nil, {"Bearer"}, {"Bearer expired"}, {"Bearer down"}} {
		if resp, _ := get(t, srv, auth...); resp.StatusCode != http.StatusFound {
			t.Errorf("%v: status %d", auth, resp.StatusCode)
		}
	}
	want := []error{httpauth.ErrNoToken, httpauth.ErrMalformedAuthorization, strategy.ErrInactive, strategy.ErrUnavailable}
	if len(got) != len(want) {
		t.Fatalf("error handler saw %v", got)
	}
	for i := range want {
		if !errors.Is(got[i], want[i]) {
			t.Errorf("error %d: %v, want %v", i, got[i], want[i])
		}
	}
}

func TestFromContextEmpty(t *testing.T) {
	if _, ok := httpauth.FromContext(context.Background()); ok {
		t.Fatal("FromContext on a bare context reported a result")
	}
}

func TestMiddlewarePanicsOnWiringMistakes(t *testing.T) {
	for name, f := range map[string]func(){
		"nil strategy": func() { httpauth.Middleware(nil) },
		"bad realm":    func() { httpauth.Middleware(&recording{}, httpauth.WithRealm(`a"b`)) },
		"bad scope":    func() { httpauth.Middleware(&recording{}, httpauth.RequireScopes("a b")) },
		"empty role":   func() { httpauth.Middleware(&recording{}, httpauth.RequireRoles("")) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			f()
		})
	}
}

func TestStatusOf(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{httpauth.ErrNoToken, 401},
		{httpauth.ErrMalformedAuthorization, 400},
		{strategy.NewError(strategy.ErrForbidden, strategy.ReasonRole, "", nil), 403},
		{strategy.NewError(strategy.ErrUnavailable, strategy.ReasonKeysUnavailable, "", nil), 503},
		{strategy.NewError(strategy.ErrInvalid, strategy.ReasonAlg, "", nil), 401},
		{nil, 401},
		{errors.New("x"), 401},
	}
	for _, tt := range tests {
		if got := httpauth.StatusOf(tt.err); got != tt.want {
			t.Errorf("StatusOf(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}
