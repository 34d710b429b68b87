package validator_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/strategy"
	"github.com/tokenwarden/tokenwarden/validator"
)

// FuzzAuthPath: CanonicalPath never panics; what it returns is canonical
// and idempotent; every other spelling of it (dot segments, doubled
// slashes, a detour through a sibling, percent-encoded characters, a
// trailing slash, a query) is either the same canonical path or refused; and
// through the handler, a path under the protected rule never gets the
// default rule, a path outside the public rule never gets it.
func FuzzAuthPath(f *testing.F) {
	for _, s := range []string{
		"/", "/api/payments/x", "/api/payments/../payments/x", "/api//payments/x", "/api/%70ayments/x",
		"/api/payments%2fx", "/API/payments/x", "/api/./payments/x", "/api/payments.", "/api/payments?x#y",
		"/public/../api/payments", "/public/%2e%2e/api/payments", "/public/..%2fapi/payments", "/a;b/c",
		"/api/payments%00", "/%C0%AF", "/é/ü", "//", "/..", "/.%2e/", "*", "http://x/api/payments",
	} {
		f.Add(s, uint8(0))
	}
	h, err := validator.NewAuthHandler(map[string]strategy.Strategy{"local": &authStrat{name: "local"}}, validator.AuthConfig{
		TrustedProxies: loopback,
		Routes: []validator.Route{
			{Name: "public", Path: "/public/", Public: true},
			{Name: "payments", Path: "/api/payments/", Scopes: []string{"payments:write"}},
		},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, uri string, seed uint8) {
		c, err := validator.CanonicalPath(uri)
		if err == nil {
			checkCanonical(t, uri, c)
			for _, v := range spellings(c, seed) {
				got, err := validator.CanonicalPath(v)
				if err == nil && got != c {
					t.Fatalf("spelling %q of %q canonicalizes to %q", v, c, got)
				}
			}
		}

		req := httptest.NewRequest(http.MethodGet, "/v1/auth", nil)
		req.RemoteAddr = "127.0.0.1:40000"
		req.Header.Set("X-Original-Method", "POST")
		req.Header.Set("X-Original-URI", uri)
		req.Header.Set("Authorization", "Bearer good") // lacks payments:write
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		rule := rec.Header().Get("X-Auth-Rule")
		// The handler trims the header value as net/http would.
		tu := strings.TrimSpace(uri)
		hc, herr := validator.CanonicalPath(tu)
		switch {
		case tu == "" || herr != nil:
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("%q: status %d rule %q, want 400", uri, rec.Code, rule)
			}
		case hc == "/api/payments" || strings.HasPrefix(hc, "/api/payments/"):
			if rec.Code != http.StatusForbidden {
				t.Fatalf("%q (%q) under the payments rule: status %d rule %q", uri, hc, rec.Code, rule)
			}
		case rule == "public" && hc != "/public" && !strings.HasPrefix(hc, "/public/"):
			t.Fatalf("%q (%q) outside /public got the public rule", uri, hc)
		}
	})
}

func checkCanonical(t *testing.T, in, c string) {
	t.Helper()
	if !strings.HasPrefix(c, "/") || (c != "/" && strings.HasSuffix(c, "/")) ||
		strings.Contains(c, "//") || strings.ContainsAny(c, "%;\\?#\x00") {
		t.Fatalf("CanonicalPath(%q) = %q is not canonical", in, c)
	}
	for seg := range strings.SplitSeq(c[1:], "/") {
		if seg == "." || seg == ".." {
			t.Fatalf("CanonicalPath(%q) = %q keeps a dot segment", in, c)
		}
	}
	if again, err := validator.CanonicalPath(c); err != nil || again != c {
		t.Fatalf("CanonicalPath not idempotent on %q: %q, %v", c, again, err)
	}
}

// spellings returns other ways to write the canonical path c, chosen by seed.
func spellings(c string, seed uint8) []string {
	segs := strings.Split(strings.TrimPrefix(c, "/"), "/")
	i := int(seed) % (len(segs) + 1)
	before, after := strings.Join(segs[:min(i, len(segs))], "/"), strings.Join(segs[min(i, len(segs)):], "/")
	join := func(mid string) string {
		s := "/" + before
		if before != "" {
			s += "/"
		}
		return s + mid + after
	}
	out := []string{
		join("./"),
		join("/"),
		join("sibling/../"),
		join("a/b/../../"),
		c + "/",
		c + "?q=/../../x",
		c + "#f",
		"/.." + c,
	}
	// Percent-encode one byte (chosen by seed) of the path, upper and lower hex.
	if len(c) > 1 {
		j := 1 + int(seed)%(len(c)-1)
		if c[j] != '/' {
			out = append(out, c[:j]+fmt.Sprintf("%%%02X", c[j])+c[j+1:], c[:j]+fmt.Sprintf("%%%02x", c[j])+c[j+1:])
		}
	}
	return out
}
