package config

import (
	"errors"
	"strings"
	"testing"
)

// TestRoutes: the forward-auth rules of /v1/auth. The same rules are
// checked against validator.NewAuthHandler by validator's TestRouteRules.
func TestRoutes(t *testing.T) {
	const tiered = introspecting + "strategies:\n  local: {type: local}\n  tiered: {type: tiered}\ndefault_strategy: local\n"
	tests := []struct {
		name    string
		yaml    string
		wantKey string // "" = valid
		wantMsg string
	}{
		{"valid", minimal + `routes:
  - name: payments
    methods: [post, put]
    path: /api/payments/
    scopes: [payments:write]
    sensitive: true
  - name: admin
    host: Admin.Example.com
    path: /api/*/admin/**
    roles: [admin, "realm-management:view-users"]
  - name: health
    path: /healthz
    public: true
  - name: api
    path: /api/
`, "", ""},
		{"shadowed: broad before narrow", minimal + `routes:
  - {name: api, path: /api/}
  - {name: payments, path: /api/payments/, methods: [POST], scopes: ["payments:write"]}
`, "routes[1]", `routes[1] ("payments") is shadowed by routes[0] ("api")`},
		{"shadowed: unnamed", minimal + "routes:\n  - path: /api\n  - path: /api/x/\n", "routes[1]", "routes[1] is shadowed by routes[0]"},
		{"shadowed: methods subset, case-insensitive", minimal + `routes:
  - {name: w, path: /x/, methods: [post, put]}
  - {name: p, path: /x/y, methods: [PUT]}
`, "routes[1]", `routes[1] ("p") is shadowed by routes[0] ("w")`},
		{"shadowed: GET covers HEAD", minimal + "routes:\n  - {name: g, path: /x, methods: [GET]}\n  - {name: h, path: /x, methods: [HEAD]}\n", "routes[1]", `("h") is shadowed by routes[0] ("g")`},
		{"shadowed: glob", minimal + "routes:\n  - {name: g, path: /api/*/admin/**}\n  - {name: l, path: /api/v1/admin/users}\n", "routes[1]", `("l") is shadowed by routes[0] ("g")`},
		{"shadowed: by a public rule", minimal + "routes:\n  - {name: pub, path: /, public: true}\n  - {name: x, path: /x}\n", "routes[1]", `("x") is shadowed by routes[0] ("pub")`},
		{"shadowed: host-less covers host", minimal + "routes:\n  - {name: a, path: /}\n  - {name: b, path: /, host: b.example}\n", "routes[1]", `("b") is shadowed by routes[0] ("a")`},
		{"not shadowed: host-bound first", minimal + "routes:\n  - {name: b, path: /, host: b.example}\n  - {name: a, path: /}\n", "", ""},
		{"not shadowed: disjoint methods", minimal + "routes:\n  - {name: r, path: /api/, methods: [GET]}\n  - {name: w, path: /api/payments/, methods: [POST]}\n", "", ""},
		{"not shadowed: segment prefix", minimal + "routes:\n  - {name: a, path: /api}\n  - {name: b, path: /apix}\n", "", ""},
		{"not shadowed: exact glob", minimal + "routes:\n  - {name: g, path: /api/*/admin}\n  - {name: s, path: /api/v1/admin/}\n", "", ""},
		{"path required", minimal + "routes:\n  - name: x\n", "routes[0].path", "required"},
		{"path not clean", minimal + "routes:\n  - path: /api/../x\n", "routes[0].path", ".."},
		{"path double slash", minimal + "routes:\n  - path: /api//x\n", "routes[0].path", "empty"},
		{"path encoded", minimal + "routes:\n  - path: /api/%70ayments\n", "routes[0].path", "decoded"},
		{"path parameter", minimal + "routes:\n  - path: /api;x/\n", "routes[0].path", "decoded"},
		{"path trailing dot", minimal + "routes:\n  - path: /api./\n", "routes[0].path", "dot"},
		{"partial glob", minimal + "routes:\n  - path: /api/v*/x\n", "routes[0].path", "whole segments"},
		{"double star not last", minimal + "routes:\n  - path: /api/**/x\n", "routes[0].path", "whole segments"},
		{"host with port", minimal + "routes:\n  - {path: /, host: \"a.example:8443\"}\n", "routes[0].host", "port"},
		{"host wildcard", minimal + "routes:\n  - {path: /, host: \"*.example.com\"}\n", "routes[0].host", "wildcard"},
		{"bad scope", minimal + "routes:\n  - {path: /, scopes: [\"a b\"]}\n", "routes[0].scopes[0]", "scope-token"},
		{"duplicate names", minimal + "routes:\n  - {name: a, path: /a}\n  - {name: a, path: /b}\n", "routes[1].name", "already used"},
		{"reserved name", minimal + "routes:\n  - {name: default, path: /a}\n", "routes[0].name", "default"},
		{"bad name", minimal + "routes:\n  - {name: Pay Ments, path: /a}\n", "routes[0].name", "[a-z0-9_-]+"},
		{"public with requirements", minimal + "routes:\n  - {path: /p/, public: true, scopes: [x]}\n", "routes[0].public", "no token"},
		{"on_unavailable bad value", tiered + "routes:\n  - {path: /, strategy: tiered, on_unavailable: open}\n", "routes[0].on_unavailable", "fail_closed, local"},
		{"on_unavailable on local", tiered + "routes:\n  - {path: /, on_unavailable: local}\n", "routes[0].on_unavailable", "tiered"},
		{"on_unavailable on tiered", tiered + "routes:\n  - {path: /, strategy: tiered, on_unavailable: local}\n", "", ""},
		{"auth_header_prefix", minimal + "server:\n  auth_header_prefix: X-User-\n", "", ""},
		{"bad auth_header_prefix", minimal + "server:\n  auth_header_prefix: \"X User\"\n", "server.auth_header_prefix", "header-name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(writeFile(t, tt.yaml), nil)
			if tt.wantKey == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid (config %+v)", err, c)
			}
			if !strings.Contains(err.Error(), tt.wantKey+": ") || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error does not name %q with %q:\n%v", tt.wantKey, tt.wantMsg, err)
			}
		})
	}
}

func TestAuthHeaderPrefixDefault(t *testing.T) {
	c, err := Load(writeFile(t, minimal), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.AuthHeaderPrefix != DefaultAuthHeaderPrefix {
		t.Errorf("auth_header_prefix = %q, want %q", c.Server.AuthHeaderPrefix, DefaultAuthHeaderPrefix)
	}
}
