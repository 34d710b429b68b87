package validator_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/internal/config"
	"github.com/tokenwarden/tokenwarden/strategy"
	"github.com/tokenwarden/tokenwarden/validator"
)

func TestCanonicalPath(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  error
	}{
		{"/", "/", nil},
		{"/api/payments/x", "/api/payments/x", nil},
		{"/api/payments/", "/api/payments", nil},
		{"/api/payments/../payments/x", "/api/payments/x", nil},
		{"/api//payments/x", "/api/payments/x", nil},
		{"//api/payments", "/api/payments", nil},
		{"/api/%70ayments/x", "/api/payments/x", nil},
		{"/api/./payments/x", "/api/payments/x", nil},
		{"/api/payments/x/.", "/api/payments/x", nil},
		{"/api/payments/x/..", "/api/payments", nil},
		{"/../../api/payments", "/api/payments", nil},
		{"/api/payments?x=1/../../public", "/api/payments", nil},
		{"/api/payments#frag", "/api/payments", nil},
		{"/api/payments/?", "/api/payments", nil},
		{"/API/payments/x", "/API/payments/x", nil}, // case is kept: matching is case-sensitive
		{"/caf%C3%A9/x", "/café/x", nil},
		{"/a%20b/c", "/a b/c", nil},
		{"/a,b/c:d@e", "/a,b/c:d@e", nil},
		{"/.well-known/x", "/.well-known/x", nil},
		{"/v1.2/x", "/v1.2/x", nil},

		{"", "", validator.ErrBadPath},
		{"api/payments", "", validator.ErrBadPath},
		{"http://evil.example/api/payments", "", validator.ErrBadPath},
		{"*", "", validator.ErrBadPath},
		{"/api/payments%2fx", "", validator.ErrBadPath},
		{"/api/payments%2Fx", "", validator.ErrBadPath},
		{"/api%5cpayments", "", validator.ErrBadPath},
		{"/api\\payments", "", validator.ErrBadPath},
		{"/api/%2570ayments", "", validator.ErrBadPath}, // double encoding
		{"/api/payments%00", "", validator.ErrBadPath},
		{"/api/payments%0a", "", validator.ErrBadPath},
		{"/api/payments\x7f", "", validator.ErrBadPath},
		{"/api/pay%zz", "", validator.ErrBadPath},
		{"/api/pay%4", "", validator.ErrBadPath},
		{"/api/pay%", "", validator.ErrBadPath},
		{"/api/payments;jsessionid=1/x", "", validator.ErrBadPath},
		{"/api;/payments/x", "", validator.ErrBadPath},
		{"/api/payments%3bx", "", validator.ErrBadPath},
		{"/api/payments./x", "", validator.ErrBadPath}, // Windows strips trailing dots
		{"/api/payments.", "", validator.ErrBadPath},
		{"/api/payments%20/x", "", validator.ErrBadPath},
		{"/api/.../x", "", validator.ErrBadPath},
		{"/api/%C0%AFx", "", validator.ErrBadPath}, // overlong '/', invalid UTF-8
		{"/api/payments%3F/x", "", validator.ErrBadPath},
		{"/api/payments%23/x", "", validator.ErrBadPath},
	}
	for _, tt := range tests {
		got, err := validator.CanonicalPath(tt.in)
		if !errors.Is(err, tt.wantErr) || got != tt.want {
			t.Errorf("CanonicalPath(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil {
			if !errors.Is(err, validator.ErrInvalidRequest) || validator.StatusOf(err) != 400 {
				t.Errorf("CanonicalPath(%q): %v is not a 400 invalid request", tt.in, err)
			}
			continue
		}
		if again, err := validator.CanonicalPath(got); err != nil || again != got {
			t.Errorf("CanonicalPath not idempotent on %q: %q, %v", got, again, err)
		}
	}
}

func TestCanonicalHost(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{"", "", false},
		{"Admin.Example.COM", "admin.example.com", false},
		{"admin.example.com:8443", "admin.example.com", false},
		{"admin.example.com.", "admin.example.com", false},
		{"[::1]:80", "::1", false},
		{"[2001:DB8::1]", "2001:db8::1", false},
		{"2001:db8::1", "2001:db8::1", false},
		{"127.0.0.1:8080", "127.0.0.1", false},
		{"a.example, b.example", "", true},
		{"user@host", "", true},
		{"host:port", "", true},
		{"[::1", "", true},
		{"[10.0.0.1]", "", true},
		{"ho st", "", true},
		{".", "", true},
	}
	for _, tt := range tests {
		got, err := validator.CanonicalHost(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("CanonicalHost(%q) = %q, %v; want %q, bad=%v", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

type overridable struct {
	strategy.Func
	mode string
}

func (o *overridable) WithOnUnavailable(mode string) (strategy.Strategy, error) {
	return &overridable{Func: o.Func, mode: mode}, nil
}

// routeCase is one route set judged by both NewAuthHandler and config.Validate.
type routeCase struct {
	name    string
	routes  []validator.Route
	wantErr string // substring of both errors; "" = valid
}

var routeCases = []routeCase{
	{name: "valid mix", routes: []validator.Route{
		{Name: "payments", Methods: []string{"POST"}, Path: "/api/payments/", Scopes: []string{"payments:write"}},
		{Name: "api", Path: "/api/"},
	}},
	{name: "broad before narrow", routes: []validator.Route{
		{Name: "api", Path: "/api/"},
		{Name: "payments", Methods: []string{"POST"}, Path: "/api/payments/", Scopes: []string{"payments:write"}},
	}, wantErr: `routes[1] ("payments") is shadowed by routes[0] ("api")`},
	{name: "unnamed", routes: []validator.Route{
		{Path: "/api"},
		{Path: "/api/x"},
	}, wantErr: `routes[1] is shadowed by routes[0]`},
	{name: "trailing slash is the same prefix", routes: []validator.Route{
		{Name: "a", Path: "/api"},
		{Name: "b", Path: "/api/", Methods: []string{"GET"}},
	}, wantErr: `routes[1] ("b") is shadowed by routes[0] ("a")`},
	{name: "duplicate", routes: []validator.Route{
		{Name: "a", Path: "/x/", Methods: []string{"GET"}},
		{Name: "b", Path: "/x/", Methods: []string{"get"}},
	}, wantErr: `routes[1] ("b") is shadowed by routes[0] ("a")`},
	{name: "method subset", routes: []validator.Route{
		{Name: "w", Path: "/x/", Methods: []string{"POST", "PUT", "DELETE"}},
		{Name: "d", Path: "/x/y", Methods: []string{"DELETE"}},
	}, wantErr: `routes[1] ("d") is shadowed by routes[0] ("w")`},
	{name: "GET covers HEAD", routes: []validator.Route{
		{Name: "g", Path: "/x/", Methods: []string{"GET"}},
		{Name: "h", Path: "/x/", Methods: []string{"HEAD"}},
	}, wantErr: `routes[1] ("h") is shadowed by routes[0] ("g")`},
	{name: "HEAD does not cover GET", routes: []validator.Route{
		{Name: "h", Path: "/x/", Methods: []string{"HEAD"}},
		{Name: "g", Path: "/x/", Methods: []string{"GET"}},
	}},
	{name: "method disjoint", routes: []validator.Route{
		{Name: "r", Path: "/api/", Methods: []string{"GET"}},
		{Name: "w", Path: "/api/payments/", Methods: []string{"POST"}},
	}},
	{name: "methods vs any", routes: []validator.Route{
		{Name: "r", Path: "/api/", Methods: []string{"GET"}},
		{Name: "all", Path: "/api/payments/"},
	}},
	{name: "host-bound earlier does not shadow host-less", routes: []validator.Route{
		{Name: "admin", Host: "admin.example.com", Path: "/"},
		{Name: "api", Path: "/api/"},
	}},
	{name: "host-less shadows host-bound", routes: []validator.Route{
		{Name: "api", Path: "/api/"},
		{Name: "admin", Host: "admin.example.com", Path: "/api/x"},
	}, wantErr: `routes[1] ("admin") is shadowed by routes[0] ("api")`},
	{name: "same host any case", routes: []validator.Route{
		{Name: "a", Host: "Admin.Example.com", Path: "/"},
		{Name: "b", Host: "admin.example.com.", Path: "/x"},
	}, wantErr: `routes[1] ("b") is shadowed by routes[0] ("a")`},
	{name: "glob star covers literal", routes: []validator.Route{
		{Name: "g", Path: "/api/*/*"},
		{Name: "l", Path: "/api/*/admin", Methods: []string{"GET"}},
	}, wantErr: `routes[1] ("l") is shadowed by routes[0] ("g")`},
	{name: "exact glob does not cover prefix", routes: []validator.Route{
		{Name: "g", Path: "/api/*/admin"},
		{Name: "l", Path: "/api/v1/admin"},
	}},
	{name: "literal does not cover star", routes: []validator.Route{
		{Name: "l", Path: "/api/v1/admin"},
		{Name: "g", Path: "/api/*/admin"},
	}},
	{name: "exact glob does not cover subtree", routes: []validator.Route{
		{Name: "g", Path: "/api/*/admin"},
		{Name: "s", Path: "/api/v1/admin/"},
	}},
	{name: "double star covers subtree", routes: []validator.Route{
		{Name: "g", Path: "/api/*/admin/**"},
		{Name: "s", Path: "/api/v1/admin/users"},
	}, wantErr: `routes[1] ("s") is shadowed by routes[0] ("g")`},
	{name: "root covers all", routes: []validator.Route{
		{Name: "all", Path: "/"},
		{Name: "x", Path: "/**"},
	}, wantErr: `routes[1] ("x") is shadowed by routes[0] ("all")`},
	{name: "prefix is segment-wise", routes: []validator.Route{
		{Name: "api", Path: "/api"},
		{Name: "apix", Path: "/apix"},
	}},
	{name: "public shadows", routes: []validator.Route{
		{Name: "pub", Path: "/public/", Public: true},
		{Name: "sec", Path: "/public/secret", Scopes: []string{"s"}},
	}, wantErr: `routes[1] ("sec") is shadowed by routes[0] ("pub")`},

	{name: "bad glob", routes: []validator.Route{{Path: "/api/v*/x"}}, wantErr: "routes[0].path"},
	{name: "mid double star", routes: []validator.Route{{Path: "/api/**/x"}}, wantErr: "routes[0].path"},
	{name: "dot-dot pattern", routes: []validator.Route{{Path: "/api/../x"}}, wantErr: "routes[0].path"},
	{name: "encoded pattern", routes: []validator.Route{{Path: "/api/%70ayments"}}, wantErr: "routes[0].path"},
	{name: "double slash pattern", routes: []validator.Route{{Path: "/api//x"}}, wantErr: "routes[0].path"},
	{name: "relative pattern", routes: []validator.Route{{Path: "api/"}}, wantErr: "routes[0].path"},
	{name: "empty path", routes: []validator.Route{{Path: ""}}, wantErr: "routes[0].path"},
	{name: "query in pattern", routes: []validator.Route{{Path: "/api?x"}}, wantErr: "routes[0].path"},
	{name: "host with port", routes: []validator.Route{{Path: "/", Host: "a.example:443"}}, wantErr: "routes[0].host"},
	{name: "host wildcard", routes: []validator.Route{{Path: "/", Host: "*.example.com"}}, wantErr: "routes[0].host"},
	{name: "public with scopes", routes: []validator.Route{{Path: "/p/", Public: true, Scopes: []string{"x"}}}, wantErr: "routes[0]"},
	{name: "bad method", routes: []validator.Route{{Path: "/", Methods: []string{"GE T"}}}, wantErr: "routes[0].methods"},
	{name: "bad scope", routes: []validator.Route{{Path: "/", Scopes: []string{`a"b`}}}, wantErr: "routes[0].scopes"},
	{name: "unknown strategy", routes: []validator.Route{{Path: "/", Strategy: "nope"}}, wantErr: "routes[0].strategy"},
	{name: "bad on_unavailable", routes: []validator.Route{{Path: "/", Strategy: "tiered", OnUnavailable: "open"}}, wantErr: "routes[0].on_unavailable"},
	{name: "on_unavailable on local", routes: []validator.Route{{Path: "/", OnUnavailable: "local"}}, wantErr: "routes[0].on_unavailable"},
	{name: "on_unavailable on tiered", routes: []validator.Route{{Path: "/", Strategy: "tiered", OnUnavailable: "local"}}},
	{name: "duplicate names", routes: []validator.Route{{Name: "a", Path: "/a"}, {Name: "a", Path: "/b"}}, wantErr: "routes[1]"},
	{name: "reserved name", routes: []validator.Route{{Name: "default", Path: "/a"}}, wantErr: "routes[0]"},
	{name: "bad name", routes: []validator.Route{{Name: "Pay ments", Path: "/a"}}, wantErr: "routes[0]"},
}

// TestRouteRules runs every route set through NewAuthHandler and, with the
// same routes in a configuration, through config.Validate: the library and
// the configuration must accept and refuse the same rules (shadowing in
// particular), naming both rules.
func TestRouteRules(t *testing.T) {
	ok := strategy.Func(func(context.Context, strategy.Request) (*strategy.Result, error) { return &strategy.Result{}, nil })
	strategies := map[string]strategy.Strategy{"local": ok, "tiered": &overridable{Func: ok}}
	for _, tc := range routeCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := validator.NewAuthHandler(strategies, validator.AuthConfig{Routes: tc.routes, DefaultStrategy: "local"})
			checkRouteErr(t, "NewAuthHandler", err, tc.wantErr)
			cfg := config.Config{
				Issuers: []config.Issuer{{Name: "kc", Issuer: "https://kc.example.com/realms/r", Audiences: []string{"api"},
					Introspection: config.Introspection{Enabled: true, ClientID: "tw", ClientSecret: config.Secret{Env: "TW_X"}}}},
				Strategies:      map[string]config.Strategy{"local": {Type: "local"}, "tiered": {Type: "tiered"}},
				DefaultStrategy: "local",
			}
			for _, r := range tc.routes {
				cfg.Routes = append(cfg.Routes, config.Route{Name: r.Name, Methods: append([]string(nil), r.Methods...), Path: r.Path, Host: r.Host,
					Scopes: r.Scopes, Roles: r.Roles, Strategy: r.Strategy, Sensitive: r.Sensitive, OnUnavailable: r.OnUnavailable, Public: r.Public})
			}
			cfg.ApplyDefaults()
			err = cfg.Validate()
			if err != nil && !errors.Is(err, config.ErrInvalid) {
				t.Errorf("config error %v does not match config.ErrInvalid", err)
			}
			checkRouteErr(t, "config.Validate", err, tc.wantErr)
		})
	}
}

func checkRouteErr(t *testing.T, who string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: unexpected error %v", who, err)
	case want != "" && err == nil:
		t.Errorf("%s: no error, want one containing %q", who, want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("%s: error %q does not contain %q", who, err, want)
	}
}
