package jwks

import (
	"os"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/internal/fuzzseed"
)

// TestGenCorpus writes the seed corpus of FuzzParseSet under testdata/fuzz:
// JWK Sets that try to smuggle symmetric, weak, encryption or malformed keys
// past the parser. Run once, by hand, and commit:
//
//	TW_GEN_CORPUS=1 go test -run '^TestGenCorpus$' ./jwks/
func TestGenCorpus(t *testing.T) {
	if os.Getenv("TW_GEN_CORPUS") != "1" {
		t.Skip("set TW_GEN_CORPUS=1 to regenerate testdata/fuzz")
	}
	n2048 := "AQAB" + strings.Repeat("A", 340)
	seeds := map[string]string{
		"empty-keys":        `{"keys":[]}`,
		"null-keys":         `{"keys":null}`,
		"object":            `{}`,
		"array":             `[]`,
		"rsa-tiny":          `{"keys":[{"kty":"RSA","kid":"k","n":"AQAB","e":"AQAB"}]}`,
		"rsa-2048-shape":    `{"keys":[{"kty":"RSA","kid":"k","use":"sig","alg":"RS256","n":"` + n2048 + `","e":"AQAB"}]}`,
		"rsa-e-huge":        `{"keys":[{"kty":"RSA","kid":"k","alg":"RS256","n":"` + n2048 + `","e":"` + strings.Repeat("_", 64) + `"}]}`,
		"rsa-e-one":         `{"keys":[{"kty":"RSA","kid":"k","alg":"RS256","n":"` + n2048 + `","e":"AQ"}]}`,
		"rsa-alg-hs256":     `{"keys":[{"kty":"RSA","kid":"k","alg":"HS256","n":"` + n2048 + `","e":"AQAB"}]}`,
		"rsa-alg-none":      `{"keys":[{"kty":"RSA","kid":"k","alg":"none","n":"` + n2048 + `","e":"AQAB"}]}`,
		"ec-bad-point":      `{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA","kid":"e"}]}`,
		"ec-alg-mismatch":   `{"keys":[{"kty":"EC","crv":"P-256","alg":"ES384","x":"AAAA","y":"AAAA","kid":"e"}]}`,
		"ec-unknown-curve":  `{"keys":[{"kty":"EC","crv":"secp256k1","x":"AAAA","y":"AAAA","kid":"e"}]}`,
		"ed25519":           `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ed"}]}`,
		"ed25519-short":     `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qY","kid":"ed"}]}`,
		"x25519":            `{"keys":[{"kty":"OKP","crv":"X25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
		"oct-hs256":         `{"keys":[{"kty":"oct","k":"c2VjcmV0","alg":"HS256","kid":"h"}]}`,
		"enc-key":           `{"keys":[{"kty":"RSA","use":"enc","alg":"RSA-OAEP","n":"AQAB","e":"AQAB"}]}`,
		"key-ops-sign":      `{"keys":[{"kty":"EC","crv":"P-256","key_ops":["sign"],"x":"","y":""}]}`,
		"junk-members":      `{"keys":[1,"x",null,{}]}`,
		"private-rsa":       `{"keys":[{"kty":"RSA","kid":"k","n":"` + n2048 + `","e":"AQAB","d":"AQAB","p":"AQ","q":"AQ"}]}`,
		"duplicate-kid":     `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"d"},{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"d"}]}`,
		"kid-long":          `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"` + strings.Repeat("k", 300) + `"}]}`,
		"kid-number":        `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":7}]}`,
		"x5c-only":          `{"keys":[{"kty":"RSA","kid":"k","x5c":["MIIB"]}]}`,
		"duplicate-keys":    `{"keys":[],"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`,
		"non-utf8":          "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\",\"kid\":\"\xff\"}]}",
		"deep":              `{"keys":[` + strings.Repeat("[", 500) + strings.Repeat("]", 500) + `]}`,
		"many-keys":         `{"keys":[` + strings.TrimSuffix(strings.Repeat(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},`, 260), ",") + `]}`,
		"html":              "<html>502</html>",
		"trailing-data":     `{"keys":[]}{"keys":[]}`,
		"bad-base64-n":      `{"keys":[{"kty":"RSA","kid":"k","n":"*==","e":"AQAB"}]}`,
		"padded-base64-x":   `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=","kid":"ed"}]}`,
		"use-sig-alg-empty": `{"keys":[{"kty":"EC","crv":"P-256","use":"sig","x":"AAAA","y":"AAAA"}]}`,
	}
	for name, s := range seeds {
		fuzzseed.Write(t, "FuzzParseSet", name, []byte(s))
	}
}
