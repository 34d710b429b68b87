package validator_test

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/internal/fuzzseed"
)

// TestGenCorpus writes the seed corpora of FuzzBearerToken, FuzzAuthPath and
// FuzzAuthHeaders under testdata/fuzz. Run once, by hand, and commit:
//
//	TW_GEN_CORPUS=1 go test -run '^TestGenCorpus$' ./validator/
func TestGenCorpus(t *testing.T) {
	if os.Getenv("TW_GEN_CORPUS") != "1" {
		t.Skip("set TW_GEN_CORPUS=1 to regenerate testdata/fuzz")
	}
	b64 := base64.RawURLEncoding.EncodeToString
	// Shapes of the strategy attack corpus (RFC 8725 §2) as they arrive in
	// an Authorization header: bearer extraction must pass or refuse them
	// on syntax alone.
	algNone := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64([]byte(`{"sub":"admin"}`)) + "."
	hs := b64([]byte(`{"alg":"HS256","kid":"rsa1"}`)) + "." + b64([]byte(`{"sub":"admin"}`)) + "." + b64([]byte("0123456789abcdef0123456789abcdef"))
	jku := b64([]byte(`{"alg":"RS256","jku":"http://attacker.example/jwks"}`)) + ".e30." + b64([]byte("sig"))
	jwe := "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn"
	jsonSer := `{"payload":"e30","signatures":[{"protected":"e30","signature":"AA"}]}`
	bearer := map[string]string{
		"plain":              "Bearer abc",
		"lower-scheme":       "bearer a.b.c",
		"upper-scheme":       "BEARER a.b.c",
		"padding":            "Bearer  x==",
		"basic":              "Basic ZGVtbzpkZW1vLXNlY3JldA==",
		"dpop":               "DPoP a.b.c",
		"scheme-only":        "Bearer",
		"scheme-space":       "Bearer ",
		"two-tokens":         "Bearer a b",
		"tabs":               "Bearer\t\tz",
		"empty":              "",
		"surrounding-spaces": " Bearer y ",
		"comma-list":         "Bearer a.b.c, Bearer d.e.f",
		"quoted":             `Bearer "a.b.c"`,
		"nul":                "Bearer a\x00b",
		"crlf":               "Bearer a\r\nX-Injected: 1",
		"nbsp":               "Bearer\u00a0a.b.c",
		"non-utf8":           "Bearer \xff\xfe",
		"alg-none":           "Bearer " + algNone,
		"hs256":              "Bearer " + hs,
		"jku":                "Bearer " + jku,
		"jwe":                "Bearer " + jwe,
		"json-serialisation": "Bearer " + jsonSer,
		"bad-base64":         "Bearer eyJhbGciOiJSUzI1NiJ9.e3*0.AAAA",
		"oversized":          "Bearer " + strings.Repeat("A", 20000),
		"b64token-chars":     "Bearer a-._~+/b==",
		"equals-inside":      "Bearer a=b",
	}
	for name, v := range bearer {
		fuzzseed.Write(t, "FuzzBearerToken", name, v, false)
	}
	fuzzseed.Write(t, "FuzzBearerToken", "twice", "Bearer a.b.c", true)

	paths := map[string]string{
		"root": "/", "plain": "/api/payments/x", "dotdot": "/api/payments/../payments/x",
		"double-slash": "/api//payments/x", "encoded-letter": "/api/%70ayments/x", "encoded-slash": "/api/payments%2fx",
		"encoded-slash-upper": "/api/payments%2Fx", "case": "/API/payments/x", "dot": "/api/./payments/x",
		"trailing-dot": "/api/payments.", "query-fragment": "/api/payments?x#y", "detour": "/public/../api/payments",
		"encoded-dotdot": "/public/%2e%2e/api/payments", "encoded-dotdot-slash": "/public/..%2fapi/payments",
		"double-encoded": "/public/%252e%252e/api/payments", "semicolon": "/a;b/c", "matrix": "/public/..;/api/payments",
		"nul": "/api/payments%00", "overlong-utf8": "/%C0%AF", "unicode": "/é/ü", "slashes": "//", "up": "/..",
		"dot-encoded-dot": "/.%2e/", "asterisk": "*", "absolute": "http://x/api/payments", "backslash": "/public\\..\\api/payments",
		"encoded-backslash": "/public/%5c../api/payments", "bad-escape": "/api/%zz", "truncated-escape": "/api/%2",
		"fullwidth-dot": "/public/%EF%BC%8E%EF%BC%8E/api/payments", "tab": "/api/\tpayments", "space": "/api/ payments",
		"long": "/" + strings.Repeat("a/", 2000), "empty": "", "no-slash": "api/payments",
	}
	for name, p := range paths {
		fuzzseed.Write(t, "FuzzAuthPath", name, p, uint8(0))
		fuzzseed.Write(t, "FuzzAuthPath", name+"-s7", p, uint8(7))
	}

	type hdrs struct{ om, ou, fm, fu, fh, ourl string }
	headers := map[string]hdrs{
		"nginx-public":             {"GET", "/public/x", "", "", "app.example.com", ""},
		"nginx-payments":           {"POST", "/api/payments/1", "", "", "app.example.com", ""},
		"traefik-public":           {"", "", "GET", "/public/x", "app.example.com", ""},
		"conventions-disagree":     {"GET", "/public/x", "GET", "/api/payments/1", "app.example.com", ""},
		"methods-disagree":         {"GET", "/public/x", "POST", "/public/x", "app.example.com", ""},
		"ingress-url":              {"GET", "", "", "", "", "https://app.example.com/public/x"},
		"ingress-url-host-differs": {"GET", "/public/x", "", "", "admin.example.com", "https://app.example.com/public/x"},
		"ingress-url-uri-differs":  {"GET", "/public/x", "", "", "", "https://app.example.com/api/payments/1"},
		"host-case-port-dot":       {"GET", "/public/x", "", "", "ADMIN.example.com.:443", ""},
		"host-list":                {"GET", "/public/x", "", "", "app.example.com, admin.example.com", ""},
		"host-ipv6":                {"GET", "/public/x", "", "", "[::1]:8080", ""},
		"host-userinfo":            {"GET", "/public/x", "", "", "user@admin.example.com", ""},
		"host-bad-port":            {"GET", "/public/x", "", "", "admin.example.com:x", ""},
		"url-query-before-path":    {"GET", "", "", "", "", "http://admin.example.com?/public/x"},
		"url-userinfo":             {"GET", "", "", "", "", "http://user@admin.example.com/public"},
		"url-backslash":            {"GET", "", "", "", "", "http://admin.example.com\\@app.example.com/public"},
		"url-no-scheme":            {"GET", "", "", "", "", "//admin.example.com/public"},
		"method-space":             {"G ET", "/public/x", "", "", "app.example.com", ""},
		"method-missing":           {"", "/public/x", "", "", "app.example.com", ""},
		"uri-missing":              {"GET", "", "", "", "app.example.com", ""},
		"uri-padded":               {"GET", " /public/x ", "GET", "/public/x", "app.example.com", ""},
		"detour":                   {"get", "/public/../api/payments", "", "", "app.example.com", ""},
		"encoded-detour":           {"GET", "/public/%2e%2e/api/payments", "", "", "app.example.com", ""},
		"crlf-host":                {"GET", "/public/x", "", "", "app.example.com\r\nX-Auth-Rule: public", ""},
		"nul-uri":                  {"GET", "/public/x\x00/../../api/payments", "", "", "app.example.com", ""},
		"non-utf8":                 {"GET", "/public/\xff", "", "", "\xfe.example.com", ""},
	}
	for name, h := range headers {
		for _, fl := range []uint8{1, 0} {
			fuzzseed.Write(t, "FuzzAuthHeaders", fmt.Sprintf("%s-%d", name, fl), h.om, h.ou, h.fm, h.fu, h.fh, h.ourl, fl)
		}
	}
	fuzzseed.Write(t, "FuzzAuthHeaders", "dup-host", "GET", "/public/x", "", "", "app.example.com", "", uint8(1|2))
	fuzzseed.Write(t, "FuzzAuthHeaders", "dup-uri", "GET", "/public/x", "", "", "app.example.com", "", uint8(1|4))
	fuzzseed.Write(t, "FuzzAuthHeaders", "dup-method", "GET", "/public/x", "GET", "", "app.example.com", "", uint8(1|16))
	fuzzseed.Write(t, "FuzzAuthHeaders", "no-token", "GET", "/api/x", "", "", "app.example.com", "", uint8(1|8))
}
