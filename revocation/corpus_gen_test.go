package revocation_test

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/internal/fuzzseed"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// TestGenCorpus writes the seed corpora of FuzzLogoutToken and FuzzNotBefore
// under testdata/fuzz. Run once, by hand, and commit:
//
//	TW_GEN_CORPUS=1 go test -run '^TestGenCorpus$' ./revocation/
//
// The test keys are generated per test binary, so stored seeds signed with
// them stop at the signature check; their value is the attack shapes (alg
// none, HS256, jku/x5u/jwk/x5c, crit, JWE, JSON serialisation, bad base64,
// oversized, non-UTF-8) and well-formed claims for the mutator.
func TestGenCorpus(t *testing.T) {
	if os.Getenv("TW_GEN_CORPUS") != "1" {
		t.Skip("set TW_GEN_CORPUS=1 to regenerate testdata/fuzz")
	}
	testKeys(t)
	with := func(m map[string]any, kv ...any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(out, kv[i].(string))
			} else {
				out[kv[i].(string)] = kv[i+1]
			}
		}
		return out
	}
	events := map[string]any{revocation.BackchannelLogoutEvent: map[string]any{}}
	lh := map[string]any{"alg": "RS256", "kid": "a", "typ": "logout+jwt"}
	lc := map[string]any{
		"iss": staticIssuer, "aud": "demo", "iat": fuzzNow.Unix(), "exp": fuzzNow.Unix() + 120, "jti": "j1",
		"sub": "u1", "sid": "s1", "events": events,
	}
	good := signRS256(t, rsaA, lh, lc)
	parts := strings.Split(good, ".")
	logout := map[string]string{
		"valid-shape":         good,
		"other-key":           signRS256(t, rsaB, lh, lc),
		"alg-none":            unsigned(map[string]any{"alg": "none"}, lc),
		"alg-none-kid":        unsigned(map[string]any{"alg": "none", "kid": "a", "typ": "logout+jwt"}, lc),
		"hs256":               unsignedWith(map[string]any{"alg": "HS256", "kid": "a"}, lc, "c2lnbmF0dXJl"),
		"jku":                 signRS256(t, rsaB, with(lh, "jku", "http://attacker.example/jwks"), lc),
		"x5u":                 signRS256(t, rsaB, with(lh, "x5u", "http://attacker.example/c.pem"), lc),
		"jwk":                 signRS256(t, rsaB, with(lh, "jwk", map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"}), lc),
		"x5c":                 signRS256(t, rsaB, with(lh, "x5c", []string{"MIIB"}), lc),
		"crit":                signRS256(t, rsaA, with(lh, "crit", []string{"exp"}), lc),
		"jwe":                 "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn",
		"json-serialisation":  `{"payload":"` + parts[1] + `","signatures":[{"protected":"` + parts[0] + `","signature":"` + parts[2] + `"}]}`,
		"bad-base64":          parts[0] + "." + parts[1][:5] + "*" + parts[1][6:] + "." + parts[2],
		"padding":             parts[0] + "=." + parts[1] + "." + parts[2],
		"oversized":           signRS256(t, rsaA, lh, with(lc, "pad", strings.Repeat("x", 17<<10))),
		"non-utf8":            unsignedRaw([]byte(`{"alg":"RS256","kid":"a"}`), []byte("{\"sub\":\"\xff\"}"), "AA"),
		"extra-segments":      good + ".x.y",
		"double-dot":          strings.Replace(good, ".", "..", 1),
		"nonce":               signRS256(t, rsaA, lh, with(lc, "nonce", "n")),
		"no-events":           signRS256(t, rsaA, lh, with(lc, "events", nil)),
		"events-wrong":        signRS256(t, rsaA, lh, with(lc, "events", map[string]any{"http://example.com/other": map[string]any{}})),
		"no-sub-no-sid":       signRS256(t, rsaA, lh, with(lc, "sub", nil, "sid", nil)),
		"no-jti":              signRS256(t, rsaA, lh, with(lc, "jti", nil)),
		"aud-other":           signRS256(t, rsaA, lh, with(lc, "aud", "other")),
		"iss-other":           signRS256(t, rsaA, lh, with(lc, "iss", "https://evil.example/realms/dev")),
		"iat-old":             signRS256(t, rsaA, lh, with(lc, "iat", fuzzNow.Unix()-86400)),
		"typ-access":          signRS256(t, rsaA, with(lh, "typ", "JWT"), with(lc, "typ", "Bearer")),
		"access-token-shaped": signRS256(t, rsaA, map[string]any{"alg": "RS256", "kid": "a", "typ": "JWT"}, with(lc, "events", nil, "typ", "Bearer", "scope", "openid")),
		"empty":               "",
		"abc":                 "a.b.c",
		"empty-objects":       "e30.e30.e30",
	}
	for name, tok := range logout {
		fuzzseed.Write(t, "FuzzLogoutToken", name, tok)
	}

	nh := map[string]any{"alg": "RS256", "kid": "a", "typ": "JWT"}
	action := map[string]any{"id": "x", "expiration": fuzzNow.Unix() + 30, "resource": "demo", "action": "PUSH_NOT_BEFORE", "notBefore": fuzzNow.Unix()}
	nb := signRS256(t, rsaA, nh, action)
	np := strings.Split(nb, ".")
	notBefore := map[string]string{
		"valid-shape":        nb,
		"padded":             " " + nb + "\n",
		"other-key":          signRS256(t, rsaB, nh, action),
		"alg-none":           unsigned(map[string]any{"alg": "none", "kid": "a"}, action),
		"hs256":              unsignedWith(map[string]any{"alg": "HS256", "kid": "a"}, action, "c2lnbmF0dXJl"),
		"jku":                signRS256(t, rsaB, with(nh, "jku", "http://attacker.example/jwks"), action),
		"jwk":                signRS256(t, rsaB, with(nh, "jwk", map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"}), action),
		"x5c":                signRS256(t, rsaB, with(nh, "x5c", []string{"MIIB"}), action),
		"crit":               signRS256(t, rsaA, with(nh, "crit", []string{"x"}), action),
		"jwe":                "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn",
		"json-serialisation": `{"payload":"` + np[1] + `","signatures":[{"protected":"` + np[0] + `","signature":"` + np[2] + `"}]}`,
		"bad-base64":         np[0] + "." + np[1][:5] + "*" + np[1][6:] + "." + np[2],
		"action-other":       signRS256(t, rsaA, nh, with(action, "action", "LOGOUT")),
		"resource-other":     signRS256(t, rsaA, nh, with(action, "resource", "other")),
		"expired":            signRS256(t, rsaA, nh, with(action, "expiration", fuzzNow.Unix()-1)),
		"notbefore-string":   signRS256(t, rsaA, nh, with(action, "notBefore", "now")),
		"notbefore-huge":     signRS256(t, rsaA, nh, with(action, "notBefore", 1e300)),
		"oversized":          signRS256(t, rsaA, nh, with(action, "pad", strings.Repeat("x", 17<<10))),
		"non-utf8":           unsignedRaw([]byte(`{"alg":"RS256","kid":"a"}`), []byte("{\"resource\":\"\xff\"}"), "AA"),
		"json-body":          `{"action":"PUSH_NOT_BEFORE","notBefore":1}`,
		"empty":              "",
		"abc":                "a.b.c",
	}
	for name, body := range notBefore {
		fuzzseed.Write(t, "FuzzNotBefore", name, []byte(body))
	}
}

// unsignedWith is unsigned with an arbitrary base64url signature segment.
func unsignedWith(header, claims map[string]any, sig string) string {
	return unsigned(header, claims) + sig
}

// unsignedRaw assembles a JWS from raw header and claims bytes.
func unsignedRaw(h, c []byte, sig string) string {
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "." + sig
}
