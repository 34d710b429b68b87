package idpsim

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/internal/fuzzseed"
)

// TestGenCorpus writes the seed corpora of FuzzDecode and FuzzParseBasic
// under testdata/fuzz. Realm keys are generated per run, so stored tokens
// never verify; they give the mutator Keycloak-shaped tokens and the attack
// shapes. Run once, by hand, and commit:
//
//	TW_GEN_CORPUS=1 go test -run '^TestGenCorpus$' ./idpsim/
func TestGenCorpus(t *testing.T) {
	if os.Getenv("TW_GEN_CORPUS") != "1" {
		t.Skip("set TW_GEN_CORPUS=1 to regenerate testdata/fuzz")
	}
	s, err := New(testConfig("ES256"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := s.PasswordGrant("dev", "demo", "alice")
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	parts := strings.Split(tr.AccessToken, ".")
	tokens := map[string]string{
		"access":             tr.AccessToken,
		"refresh":            tr.RefreshToken,
		"id":                 tr.IDToken,
		"alg-none":           b64([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".",
		"hs256":              b64([]byte(`{"alg":"HS256","kid":"x"}`)) + "." + parts[1] + "." + b64([]byte("sig")),
		"jwk-header":         b64([]byte(`{"alg":"ES256","jwk":{"kty":"EC"}}`)) + "." + parts[1] + "." + parts[2],
		"crit":               b64([]byte(`{"alg":"ES256","crit":["exp"]}`)) + "." + parts[1] + "." + parts[2],
		"jwe":                "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn",
		"json-serialisation": `{"payload":"` + parts[1] + `","signatures":[{"protected":"` + parts[0] + `","signature":"` + parts[2] + `"}]}`,
		"claims-swapped":     parts[0] + "." + b64([]byte(`{"sub":"admin","typ":"Bearer"}`)) + "." + parts[2],
		"bad-base64":         parts[0] + "." + parts[1][:5] + "*" + parts[1][6:] + "." + parts[2],
		"non-utf8":           parts[0] + "." + b64([]byte("{\"sub\":\"\xff\"}")) + "." + parts[2],
		"oversized":          parts[0] + "." + strings.Repeat("A", 17<<10) + "." + parts[2],
		"empty":              "",
		"dots":               "..",
		"five":               "e30.e30.e30.e30.e30",
	}
	for name, tok := range tokens {
		fuzzseed.Write(t, "FuzzDecode", name, tok)
	}
	basic := map[string]string{
		"demo":           "Basic ZGVtbzpkZW1vLXNlY3JldA==",
		"lower":          "basic Og==",
		"scheme-only":    "Basic",
		"bearer":         "Bearer x",
		"bad-base64":     "Basic %%%",
		"no-colon":       "Basic " + base64.StdEncoding.EncodeToString([]byte("demo")),
		"pct-encoded":    "Basic " + base64.StdEncoding.EncodeToString([]byte("de%6Do:demo%2Dsecret")),
		"bad-pct":        "Basic " + base64.StdEncoding.EncodeToString([]byte("%zz:%")),
		"unpadded":       "Basic ZGVtbzpkZW1vLXNlY3JldA",
		"urlsafe":        "Basic " + base64.URLEncoding.EncodeToString([]byte("d>?:s?>")),
		"spaces":         "Basic   ZGVtbzpkZW1vLXNlY3JldA==  ",
		"non-utf8":       "Basic " + base64.StdEncoding.EncodeToString([]byte("\xff:\xfe")),
		"huge":           "Basic " + strings.Repeat("QUFB", 500),
		"empty-password": "Basic " + base64.StdEncoding.EncodeToString([]byte("demo:")),
	}
	for name, h := range basic {
		fuzzseed.Write(t, "FuzzParseBasic", name, h)
	}
}
