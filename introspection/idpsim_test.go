package introspection

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/idpsim"
)

func jwtClaim(t *testing.T, tok, name string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	s, _ := m[name].(string)
	return s
}

// TestIdpsimAnswers checks what the client reports for Keycloak's token
// states; it reports, strategy decides.
func TestIdpsimAnswers(t *testing.T) {
	srv := startIdpsim(t)
	c := newClient(t, basicCfg(introspectURL(srv)))

	mint := func(t *testing.T) string {
		tr, err := srv.ClientCredentials("dev", "demo")
		if err != nil {
			t.Fatal(err)
		}
		return tr.AccessToken
	}
	tests := []struct {
		name       string
		token      func(t *testing.T) string
		wantActive bool
		check      func(t *testing.T, r *Response)
	}{
		{
			name: "fresh client_credentials token", token: mint, wantActive: true,
			check: func(t *testing.T, r *Response) {
				if r.Typ != "Bearer" || r.Azp != "demo" || r.ClientID != "demo" || r.TokenType != "Bearer" {
					t.Errorf("typ=%q azp=%q client_id=%q token_type=%q", r.Typ, r.Azp, r.ClientID, r.TokenType)
				}
				if r.Sub == "" || r.Sid == "" || r.Jti == "" || r.Iss != srv.Issuer("dev") {
					t.Errorf("sub=%q sid=%q jti=%q iss=%q", r.Sub, r.Sid, r.Jti, r.Iss)
				}
				if r.Exp == nil || r.Iat == nil || r.Exp.Sub(*r.Iat) != 300*time.Second {
					t.Errorf("exp=%v iat=%v, want exp = iat + 300s", r.Exp, r.Iat)
				}
				if !strings.Contains(r.Scope, "profile") {
					t.Errorf("scope=%q", r.Scope)
				}
				var raw map[string]any
				if err := json.Unmarshal(r.Raw, &raw); err != nil || raw["acr"] != "1" {
					t.Errorf("Raw lacks unknown member acr: %s", r.Raw)
				}
			},
		},
		{
			name: "revoked access token",
			token: func(t *testing.T) string {
				tok := mint(t)
				if err := srv.Revoke("dev", tok); err != nil {
					t.Fatal(err)
				}
				return tok
			},
		},
		{
			name: "logged-out session",
			token: func(t *testing.T) string {
				tr, err := srv.PasswordGrant("dev", "demo", "alice")
				if err != nil {
					t.Fatal(err)
				}
				if err := srv.Logout(context.Background(), "dev", jwtClaim(t, tr.AccessToken, "sid")); err != nil {
					t.Fatal(err)
				}
				return tr.AccessToken
			},
		},
		{
			name: "refresh token is reported active with typ Refresh",
			token: func(t *testing.T) string {
				tr, err := srv.PasswordGrant("dev", "demo", "alice")
				if err != nil {
					t.Fatal(err)
				}
				return tr.RefreshToken
			},
			wantActive: true,
			check: func(t *testing.T, r *Response) {
				if r.Typ != "Refresh" || r.TokenType != "Refresh" {
					t.Errorf("typ=%q token_type=%q, want Refresh", r.Typ, r.TokenType)
				}
			},
		},
		{
			name: "user token carries Keycloak members",
			token: func(t *testing.T) string {
				tr, err := srv.PasswordGrant("dev", "demo", "alice")
				if err != nil {
					t.Fatal(err)
				}
				return tr.AccessToken
			},
			wantActive: true,
			check: func(t *testing.T, r *Response) {
				if r.Username != "alice" || r.PreferredUsername != "alice" {
					t.Errorf("username=%q preferred_username=%q", r.Username, r.PreferredUsername)
				}
				if !slices.Contains(r.RealmAccess.Roles, "user") || !slices.Contains(r.ResourceAccess["demo"].Roles, "reader") {
					t.Errorf("realm_access=%v resource_access=%v", r.RealmAccess, r.ResourceAccess)
				}
			},
		},
		{name: "not a token", token: func(*testing.T) string { return "opaque-garbage" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := c.Introspect(bg, tt.token(t), 0)
			if err != nil {
				t.Fatalf("Introspect: %v", err)
			}
			if a.Active != tt.wantActive {
				t.Fatalf("Active = %v, want %v (raw %s)", a.Active, tt.wantActive, a.Raw)
			}
			if !tt.wantActive && strings.TrimSpace(string(a.Raw)) != `{"active":false}` {
				t.Errorf("inactive raw = %q", a.Raw)
			}
			if tt.check != nil {
				tt.check(t, a.Response)
			}
		})
	}
}

func TestIdpsimClientSecretPost(t *testing.T) {
	srv := startIdpsim(t)
	cfg := basicCfg(introspectURL(srv))
	cfg.AuthMethod = AuthClientSecretPost
	c := newClient(t, cfg)
	tr, err := srv.ClientCredentials("dev", "demo")
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Introspect(bg, tr.AccessToken, 0)
	if err != nil || !a.Active || a.ClientID != "demo" {
		t.Fatalf("Introspect = %+v, %v", a, err)
	}
}

// TestIdpsimUnavailable: every IdP-side failure is ErrUnavailable, never an
// inactive answer.
func TestIdpsimUnavailable(t *testing.T) {
	srv := startIdpsim(t)
	tr, err := srv.ClientCredentials("dev", "demo")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		mutate     func(*Config)
		fault      idpsim.Fault
		ctxTimeout time.Duration
		wantStatus int   // StatusError.StatusCode, 0: none
		wantErr    error // besides ErrUnavailable
	}{
		{name: "wrong client secret", mutate: func(c *Config) { c.ClientSecret = []byte("wrong") }, wantStatus: http.StatusUnauthorized},
		{name: "unknown client", mutate: func(c *Config) { c.ClientID = "nobody" }, wantStatus: http.StatusUnauthorized},
		{name: "no credentials", mutate: func(c *Config) { c.AuthMethod = AuthNone }, wantStatus: http.StatusUnauthorized},
		{name: "500", fault: idpsim.Fault{ErrorRate: 1, ErrorStatus: 500}, wantStatus: 500},
		{name: "503", fault: idpsim.Fault{ErrorRate: 1, ErrorStatus: 503}, wantStatus: 503},
		{name: "429", fault: idpsim.Fault{ErrorRate: 1, ErrorStatus: 429}, wantStatus: 429},
		{name: "garbage body", fault: idpsim.Fault{Garbage: true}, wantErr: ErrMalformedResponse},
		{name: "hang past Timeout", fault: idpsim.Fault{Hang: true}, mutate: func(c *Config) { c.Timeout = 50 * time.Millisecond }, wantErr: context.DeadlineExceeded},
		{name: "hang past caller ctx", fault: idpsim.Fault{Hang: true}, ctxTimeout: 50 * time.Millisecond, wantErr: context.DeadlineExceeded},
		{name: "slow past Timeout", fault: idpsim.Fault{Latency: 2 * time.Second}, mutate: func(c *Config) { c.Timeout = 50 * time.Millisecond }, wantErr: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.SetFault(idpsim.EndpointIntrospect, tt.fault)
			defer srv.ClearFaults()
			cfg := basicCfg(introspectURL(srv))
			if tt.mutate != nil {
				tt.mutate(&cfg)
			}
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := bg
			if tt.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(bg, tt.ctxTimeout)
				defer cancel()
			}
			a, err := c.Introspect(ctx, tr.AccessToken, time.Minute)
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Introspect = %+v, %v; want ErrUnavailable", a, err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			var se *StatusError
			if got := errors.As(err, &se); got != (tt.wantStatus != 0) || (got && se.StatusCode != tt.wantStatus) {
				t.Errorf("err = %v, want status %d", err, tt.wantStatus)
			}
			if strings.Contains(err.Error(), tr.AccessToken) || strings.Contains(err.Error(), "demo-secret") {
				t.Errorf("error leaks the token or secret: %v", err)
			}
		})
	}
	// Close cancelled the hanging calls: the IdP sees them end.
	waitFor(t, "no calls in flight at the IdP", func() bool { return srv.InFlight(idpsim.EndpointIntrospect) == 0 })
}
