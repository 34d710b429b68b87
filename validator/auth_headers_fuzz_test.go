package validator_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/strategy"
	"github.com/tokenwarden/tokenwarden/validator"
)

// Bits of FuzzAuthHeaders' flags argument.
const (
	fhTrusted   = 1 << iota // the peer is a trusted proxy
	fhDupHost               // X-Forwarded-Host given twice
	fhDupURI                // X-Original-URI given twice
	fhNoToken               // no Authorization header
	fhDupMethod             // X-Forwarded-Method given twice
)

// FuzzAuthHeaders drives the forward-auth handler with arbitrary
// X-Original-Method/-URI/-URL and X-Forwarded-Method/-Uri/-Host values from a
// trusted or untrusted peer. Properties, with a token that has neither
// payments:write nor the admin role:
//   - no panic; the status is one of 200, 400, 401, 403;
//   - from an untrusted peer the headers are ignored: the default rule decides;
//   - a trusted request is never allowed (200) when any URI it names
//     canonicalizes under /api/payments, or any host it names is
//     admin.example.com, or two conventions disagree, or a header is repeated;
//   - the public rule answers only when every URI named is under /public.
func FuzzAuthHeaders(f *testing.F) {
	for _, s := range [][6]string{
		{"GET", "/public/x", "", "", "app.example.com", ""},
		{"POST", "/api/payments/1", "", "", "app.example.com", ""},
		{"", "", "GET", "/public/x", "app.example.com", ""},
		{"GET", "/public/x", "GET", "/api/payments/1", "app.example.com", ""},
		{"GET", "", "", "", "", "https://app.example.com/public/x"},
		{"GET", "/public/x", "", "", "admin.example.com", "https://app.example.com/public/x"},
		{"GET", "/public/x", "", "", "ADMIN.example.com.:443", ""},
		{"GET", "/public/x", "", "", "app.example.com, admin.example.com", ""},
		{"GET", "/public/x", "", "", "[::1]:8080", ""},
		{"GET", "", "", "", "", "http://admin.example.com?/public/x"},
		{"GET", "", "", "", "", "http://user@admin.example.com/public"},
		{"G ET", "/public/x", "", "", "app.example.com", ""},
		{"", "/public/x", "", "", "app.example.com", ""},
		{"GET", " /public/x ", "GET", "/public/x", "app.example.com", ""},
		{"get", "/public/../api/payments", "", "", "app.example.com", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], uint8(fhTrusted))
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], uint8(0))
	}
	f.Add("GET", "/public/x", "", "", "app.example.com", "", uint8(fhTrusted|fhDupHost))
	f.Add("GET", "/public/x", "", "", "app.example.com", "", uint8(fhTrusted|fhDupURI))
	f.Add("GET", "/public/x", "GET", "", "app.example.com", "", uint8(fhTrusted|fhDupMethod))
	f.Add("GET", "/api/x", "", "", "app.example.com", "", uint8(fhTrusted|fhNoToken))

	h, err := validator.NewAuthHandler(map[string]strategy.Strategy{"local": &authStrat{name: "local"}}, validator.AuthConfig{
		TrustedProxies: loopback,
		Routes: []validator.Route{
			{Name: "admin-host", Host: "admin.example.com", Path: "/", Roles: []string{"admin"}},
			{Name: "public", Path: "/public/", Public: true},
			{Name: "payments", Path: "/api/payments/", Scopes: []string{"payments:write"}},
		},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, om, ou, fm, fu, fh, ourl string, flags uint8) {
		req := httptest.NewRequest(http.MethodGet, "/v1/auth", nil)
		req.RemoteAddr = "192.0.2.7:40000"
		if flags&fhTrusted != 0 {
			req.RemoteAddr = "127.0.0.1:40000"
		}
		set := func(name, v string, twice bool) {
			if v == "" {
				return
			}
			req.Header[name] = []string{v}
			if twice {
				req.Header[name] = append(req.Header[name], v)
			}
		}
		set(validator.HeaderOriginalMethod, om, false)
		set(validator.HeaderOriginalURI, ou, flags&fhDupURI != 0)
		set(validator.HeaderForwardedMethod, fm, flags&fhDupMethod != 0)
		set(validator.HeaderForwardedURI, fu, false)
		set(validator.HeaderForwardedHost, fh, flags&fhDupHost != 0)
		set(validator.HeaderOriginalURL, ourl, false)
		if flags&fhNoToken == 0 {
			req.Header.Set("Authorization", "Bearer good")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		rule := rec.Header().Get("X-Auth-Rule")

		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
		default:
			t.Fatalf("status %d", rec.Code)
		}
		if flags&fhTrusted == 0 {
			want := http.StatusOK
			if flags&fhNoToken != 0 {
				want = http.StatusUnauthorized
			}
			if rec.Code != want || (want == http.StatusOK && rule != validator.DefaultRuleName) {
				t.Fatalf("untrusted peer: status %d rule %q, want %d by the default rule", rec.Code, rule, want)
			}
			return
		}
		if rec.Code != http.StatusOK {
			return
		}

		// Every spelling of the original request the headers carry.
		var uris, hosts []string
		for _, u := range []string{ou, fu} {
			if u = strings.TrimSpace(u); u != "" {
				uris = append(uris, u)
			}
		}
		hosts = append(hosts, fh)
		if u := strings.TrimSpace(ourl); u != "" {
			host, target := splitURL(u)
			uris = append(uris, target)
			hosts = append(hosts, host)
		}
		if strings.TrimSpace(ou) != "" && strings.TrimSpace(fu) != "" && strings.TrimSpace(ou) != strings.TrimSpace(fu) {
			t.Fatalf("allowed although X-Original-URI %q and X-Forwarded-Uri %q disagree (rule %q)", ou, fu, rule)
		}
		if (flags&fhDupHost != 0 && fh != "") || (flags&fhDupURI != 0 && ou != "") || (flags&fhDupMethod != 0 && fm != "") {
			t.Fatalf("allowed with a repeated forwarding header (rule %q)", rule)
		}
		for _, u := range uris {
			c, err := validator.CanonicalPath(u)
			if err != nil {
				continue
			}
			if c == "/api/payments" || strings.HasPrefix(c, "/api/payments/") {
				t.Fatalf("URI %q (%q) under the payments rule allowed by rule %q", u, c, rule)
			}
			if rule == "public" && c != "/public" && !strings.HasPrefix(c, "/public/") {
				t.Fatalf("URI %q (%q) outside /public allowed by the public rule", u, c)
			}
		}
		for _, hv := range hosts {
			if c, err := validator.CanonicalHost(hv); err == nil && c == "admin.example.com" {
				t.Fatalf("host %q allowed by rule %q without the admin role", hv, rule)
			}
		}
	})
}

// splitURL is the authority and request-target of an absolute URL as a
// gateway sends it in X-Original-URL (for the oracle; malformed values are
// refused by the handler, so the split need not judge them).
func splitURL(u string) (host, target string) {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	i := strings.IndexAny(u, "/?#")
	if i < 0 {
		return u, "/"
	}
	host, target = u[:i], u[i:]
	if !strings.HasPrefix(target, "/") {
		target = "/" + target
	}
	return host, target
}
