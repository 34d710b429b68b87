package strategy_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/fuzzseed"
)

// TestGenCorpus writes the seed corpus of FuzzVerify under
// testdata/fuzz/FuzzVerify: the tokens of TestAttackCorpus (RFC 8725 §2) plus
// structural oddities. Run once, by hand, and commit the files:
//
//	TW_GEN_CORPUS=1 go test -run '^TestGenCorpus$' ./strategy/
//
// The fixture's keys are generated per test binary and its issuer URL has a
// random port, so a stored seed never verifies: seeds that attack the header
// (alg, crit, jku/x5u/jwk/x5c, typ, JWE, JSON serialisation, base64url,
// UTF-8, size) reach the check they attack; claim-level seeds stop at "iss"
// and give the mutator well-formed JSON to work from.
func TestGenCorpus(t *testing.T) {
	if os.Getenv("TW_GEN_CORPUS") != "1" {
		t.Skip("set TW_GEN_CORPUS=1 to regenerate testdata/fuzz")
	}
	f := newFixture(t, nil)
	iss := f.idp.issuer
	c := kcClaims(iss, t0)
	good := mint(hdr("RS256", "rsa1"), c, rs256(keys.rsa))
	parts := strings.Split(good, ".")
	big8k := strings.Repeat("k", 8<<10)
	attacker := "http://attacker.example"

	seeds := map[string]string{
		"valid-rs256":                 good,
		"valid-es256":                 mint(hdr("ES256", "ec1"), c, es256(keys.ec)),
		"valid-eddsa":                 mint(hdr("EdDSA", "ed1"), c, eddsa(keys.ed)),
		"valid-ps256":                 mint(hdr("PS256", "ps1"), c, ps256(keys.ps)),
		"alg-none":                    mint(map[string]any{"alg": "none", "typ": "JWT"}, c, nil),
		"alg-None":                    mint(map[string]any{"alg": "None", "typ": "JWT"}, c, nil),
		"alg-NONE":                    mint(map[string]any{"alg": "NONE", "typ": "JWT"}, c, nil),
		"alg-none-with-signature":     mint(map[string]any{"alg": "none", "kid": "rsa1"}, c, rs256(keys.rsa)),
		"alg-missing":                 mint(map[string]any{"kid": "rsa1", "typ": "JWT"}, c, rs256(keys.rsa)),
		"alg-not-a-string":            mint(map[string]any{"alg": 256, "kid": "rsa1"}, c, rs256(keys.rsa)),
		"hs256-rsa-pem-confusion":     mint(hdr("HS256", "rsa1"), c, hs256(rsaPublicPEM(&keys.rsa.PublicKey))),
		"hs256-rsa-modulus-confusion": mint(hdr("HS256", "rsa1"), c, hs256(modulus(&keys.rsa.PublicKey))),
		"hs512":                       mint(hdr("HS512", "rsa1"), c, hs256([]byte("secret"))),
		"rs256-on-ec-kid":             mint(hdr("RS256", "ec1"), c, rs256(keys.rsa)),
		"ps256-on-rs256-key":          mint(hdr("PS256", "rsa1"), c, ps256(keys.rsa)),
		"rs256-on-ps256-key":          mint(hdr("RS256", "ps1"), c, rs256(keys.ps)),
		"enc-key-for-signature":       mint(hdr("RS256", "enc1"), c, rs256(keys.enc)),
		"kid-traversal":               mint(hdr("RS256", "../../../../etc/passwd"), c, rs256(keys.rsa)),
		"kid-sql":                     mint(hdr("RS256", "' OR '1'='1' --"), c, rs256(keys.rsa)),
		"kid-8k":                      mint(hdr("RS256", big8k), c, rs256(keys.rsa)),
		"kid-not-a-string":            mint(map[string]any{"alg": "RS256", "kid": []int{1}}, c, rs256(keys.rsa)),
		"jku":                         mint(with(hdr("RS256", "attacker"), "jku", attacker+"/jwks"), c, rs256(keys.rsaOther)),
		"x5u":                         mint(with(hdr("RS256", "attacker"), "x5u", attacker+"/cert.pem"), c, rs256(keys.rsaOther)),
		"jwk-embedded":                mint(with(hdr("RS256", "rsa1"), "jwk", map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"}), c, rs256(keys.rsaOther)),
		"x5c-embedded":                mint(with(hdr("RS256", "rsa1"), "x5c", []string{"MIIB"}), c, rs256(keys.rsaOther)),
		"crit-unknown":                mint(with(hdr("RS256", "rsa1"), "crit", []string{"exp"}, "exp", 1), c, rs256(keys.rsa)),
		"crit-empty":                  mint(with(hdr("RS256", "rsa1"), "crit", []string{}), c, rs256(keys.rsa)),
		"b64-false":                   mint(with(hdr("RS256", "rsa1"), "b64", false), c, rs256(keys.rsa)),
		"jwe-five-parts":              "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn",
		"jwe-header-three-parts":      mint(map[string]any{"alg": "RSA-OAEP", "enc": "A256GCM"}, c, rs256(keys.rsa)),
		"jws-json-general":            `{"payload":"` + parts[1] + `","signatures":[{"protected":"` + parts[0] + `","signature":"` + parts[2] + `"}]}`,
		"jws-json-flattened":          `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`,
		"iss-wrong":                   mint(hdr("RS256", "rsa1"), with(c, "iss", "https://evil.example/realms/test"), rs256(keys.rsa)),
		"iss-trailing-slash":          mint(hdr("RS256", "rsa1"), with(c, "iss", iss+"/"), rs256(keys.rsa)),
		"iss-missing":                 mint(hdr("RS256", "rsa1"), with(c, "iss", nil), rs256(keys.rsa)),
		"iss-number":                  mint(hdr("RS256", "rsa1"), with(c, "iss", 42), rs256(keys.rsa)),
		"azp-other":                   mint(hdr("RS256", "rsa1"), with(c, "azp", "other"), rs256(keys.rsa)),
		"aud-other":                   mint(hdr("RS256", "rsa1"), with(c, "aud", "other-api", "azp", nil), rs256(keys.rsa)),
		"typ-refresh":                 mint(hdr("RS256", "rsa1"), with(c, "typ", "Refresh"), rs256(keys.rsa)),
		"typ-offline":                 mint(hdr("RS256", "rsa1"), with(c, "typ", "Offline"), rs256(keys.rsa)),
		"typ-id":                      mint(hdr("RS256", "rsa1"), with(c, "typ", "ID"), rs256(keys.rsa)),
		"typ-logout":                  mint(hdr("RS256", "rsa1"), with(c, "typ", "Logout"), rs256(keys.rsa)),
		"typ-missing":                 mint(hdr("RS256", "rsa1"), with(c, "typ", nil), rs256(keys.rsa)),
		"header-typ-logout-jwt":       mint(with(hdr("RS256", "rsa1"), "typ", "logout+jwt"), c, rs256(keys.rsa)),
		"header-typ-secevent-jwt":     mint(with(hdr("RS256", "rsa1"), "typ", "secevent+jwt"), c, rs256(keys.rsa)),
		"exp-missing":                 mint(hdr("RS256", "rsa1"), with(c, "exp", nil), rs256(keys.rsa)),
		"exp-past":                    mint(hdr("RS256", "rsa1"), with(c, "exp", t0.Add(-time.Minute).Unix()), rs256(keys.rsa)),
		"exp-string":                  mint(hdr("RS256", "rsa1"), with(c, "exp", "2099999999"), rs256(keys.rsa)),
		"exp-1e300":                   mint(hdr("RS256", "rsa1"), with(c, "exp", 1e300), rs256(keys.rsa)),
		"exp-negative":                mint(hdr("RS256", "rsa1"), with(c, "exp", -1), rs256(keys.rsa)),
		"exp-fraction":                mint(hdr("RS256", "rsa1"), with(c, "exp", 1.8e9+0.5), rs256(keys.rsa)),
		"nbf-future":                  mint(hdr("RS256", "rsa1"), with(c, "nbf", t0.Add(time.Hour).Unix()), rs256(keys.rsa)),
		"iat-future":                  mint(hdr("RS256", "rsa1"), with(c, "iat", t0.Add(time.Hour).Unix()), rs256(keys.rsa)),
		"iat-missing":                 mint(hdr("RS256", "rsa1"), with(c, "iat", nil), rs256(keys.rsa)),
		"cnf-jkt":                     mint(hdr("RS256", "rsa1"), with(c, "cnf", map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}), rs256(keys.rsa)),
		"cnf-x5t":                     mint(hdr("RS256", "rsa1"), with(c, "cnf", map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}), rs256(keys.rsa)),
		"oversized-17k":               mint(hdr("RS256", "rsa1"), with(c, "pad", strings.Repeat("x", 17<<10)), rs256(keys.rsa)),
		"oversized-raw-20k":           strings.Repeat("A", 20000),
		"bad-base64-star":             parts[0] + "." + parts[1][:10] + "*" + parts[1][11:] + "." + parts[2],
		"base64-padding":              parts[0] + "=." + parts[1] + "." + parts[2],
		"base64-std-alphabet":         parts[0] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[1]) + "x+/." + parts[2],
		"whitespace-in-segment":       parts[0] + ". " + parts[1] + "." + parts[2],
		"non-utf8-claims":             mintRaw([]byte(`{"alg":"RS256","kid":"rsa1","typ":"JWT"}`), []byte("{\"iss\":\""+iss+"\",\"sub\":\"\xff\xfe\"}"), rs256(keys.rsa)),
		"non-utf8-header":             mintRaw([]byte("{\"alg\":\"RS256\",\"kid\":\"\xc0\xaf\"}"), []byte(`{}`), rs256(keys.rsa)),
		"duplicate-claim":             mintRaw([]byte(`{"alg":"RS256","kid":"rsa1","typ":"JWT"}`), []byte(`{"iss":"`+iss+`","sub":"a","sub":"admin"}`), rs256(keys.rsa)),
		"duplicate-alg":               mintRaw([]byte(`{"alg":"RS256","alg":"none","kid":"rsa1"}`), []byte(`{}`), nil),
		"claims-trailing-data":        mintRaw([]byte(`{"alg":"RS256","kid":"rsa1"}`), []byte(`{"iss":"x"}{"iss":"y"}`), rs256(keys.rsa)),
		"claims-array":                mintRaw([]byte(`{"alg":"RS256","kid":"rsa1"}`), []byte(`[1,2]`), rs256(keys.rsa)),
		"header-null":                 mintRaw([]byte(`null`), []byte(`{}`), nil),
		"signature-stripped":          parts[0] + "." + parts[1] + ".",
		"signature-truncated":         parts[0] + "." + parts[1] + "." + truncate(parts[2], 16),
		"signature-other-key":         mint(hdr("RS256", "rsa1"), c, rs256(keys.rsaOther)),
		"claims-swapped":              parts[0] + "." + enc.EncodeToString([]byte(`{"iss":"`+iss+`","sub":"admin"}`)) + "." + parts[2],
		"rsa-1024":                    mint(hdr("RS256", "weak"), c, rs256(keys.rsa1024)),
		"opaque":                      "ory_at_8kM2vBf1",
		"empty":                       "",
		"dots-five":                   "a.b.c.d.e",
		"dots-three":                  "...",
		"dot":                         ".",
		"json-empty":                  "{}",
		"empty-objects":               "e30.e30.",
		"header-only-alg":             "eyJhbGciOiJSUzI1NiJ9.e30.AAAA",
		"nul-bytes":                   "\x00.\x00.\x00",
	}
	for name, tok := range seeds {
		fuzzseed.Write(t, "FuzzVerify", name, tok)
	}
}
