package jwks

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"testing"
	"time"
)

// FuzzParseSet feeds arbitrary bytes to the JWK Set parser: it must never
// panic, and every key it accepts must be a usable signature key bound to a
// supported algorithm.
func FuzzParseSet(f *testing.F) {
	seeds := []string{
		`{"keys":[]}`,
		`{"keys":null}`,
		`{}`,
		`[]`,
		`{"keys":[{"kty":"RSA","kid":"k","n":"AQAB","e":"AQAB"}]}`,
		`{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA","kid":"e"}]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ed"}]}`,
		`{"keys":[{"kty":"OKP","crv":"X25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
		`{"keys":[{"kty":"oct","k":"c2VjcmV0","alg":"HS256","kid":"h"}]}`,
		`{"keys":[{"kty":"RSA","use":"enc","alg":"RSA-OAEP","n":"AQAB","e":"AQAB"}]}`,
		`{"keys":[{"kty":"EC","crv":"P-256","key_ops":["sign"],"x":"","y":""}]}`,
		`{"keys":[1,"x",null,{}]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, _, err := parseSet(data)
		if err != nil {
			return
		}
		for _, k := range keys {
			kty, ok := sigAlgs[k.Alg]
			if !ok {
				t.Fatalf("key %q bound to unsupported alg %q", k.KID, k.Alg)
			}
			switch p := k.Public.(type) {
			case *rsa.PublicKey:
				if kty != "RSA" || p.N.BitLen() < 2048 {
					t.Fatalf("bad RSA key for %s", k.Alg)
				}
			case *ecdsa.PublicKey:
				if kty != "EC" {
					t.Fatalf("EC key bound to %s", k.Alg)
				}
			case ed25519.PublicKey:
				if kty != "OKP" || len(p) != ed25519.PublicKeySize {
					t.Fatalf("bad Ed25519 key for %s", k.Alg)
				}
			default:
				t.Fatalf("unexpected public key type %T", k.Public)
			}
			if len(k.KID) > maxKIDLen {
				t.Fatalf("kid of %d bytes kept", len(k.KID))
			}
		}
		set, _ := newKeySet(keys, time.Time{})
		for _, k := range keys {
			_, _, _ = set.lookup(k.KID, k.Alg)
			_, _, _ = set.lookup("", k.Alg)
		}
	})
}
