package strategy_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// testKeys is a fixed set of real keys, generated once per test binary.
type testKeys struct {
	rsa, rsaOther, ps, rsa1024, enc *rsa.PrivateKey
	ec                              *ecdsa.PrivateKey
	ed                              ed25519.PrivateKey
}

var keys = func() *testKeys {
	must := func(k *rsa.PrivateKey, err error) *rsa.PrivateKey {
		if err != nil {
			panic(err)
		}
		return k
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return &testKeys{
		rsa:      must(rsa.GenerateKey(rand.Reader, 2048)),
		rsaOther: must(rsa.GenerateKey(rand.Reader, 2048)),
		ps:       must(rsa.GenerateKey(rand.Reader, 2048)),
		rsa1024:  must(rsa.GenerateKey(rand.Reader, 1024)),
		enc:      must(rsa.GenerateKey(rand.Reader, 2048)),
		ec:       ec,
		ed:       ed,
	}
}()

// jwksJSON publishes the test keys as a Keycloak-like JWK Set: RS256, PS256,
// ES256 and EdDSA signing keys, a weak 1024-bit RSA key, and an RSA-OAEP
// encryption key that must never verify a signature.
func jwksJSON(t testing.TB) []byte {
	t.Helper()
	set := jwk.NewSet()
	add := func(raw any, kid, alg, use string) {
		k, err := jwk.FromRaw(raw)
		if err != nil {
			t.Fatal(err)
		}
		_ = k.Set(jwk.KeyIDKey, kid)
		_ = k.Set(jwk.AlgorithmKey, alg)
		_ = k.Set(jwk.KeyUsageKey, use)
		_ = set.AddKey(k)
	}
	add(&keys.rsa.PublicKey, "rsa1", "RS256", "sig")
	add(&keys.ps.PublicKey, "ps1", "PS256", "sig")
	add(&keys.ec.PublicKey, "ec1", "ES256", "sig")
	add(keys.ed.Public(), "ed1", "EdDSA", "sig")
	add(&keys.rsa1024.PublicKey, "weak", "RS256", "sig")
	add(&keys.enc.PublicKey, "enc1", "RSA-OAEP", "enc")
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// idp is a minimal loopback issuer: discovery and JWKS, counting fetches.
type idp struct {
	srv     *httptest.Server
	issuer  string
	fetches atomic.Int64
	jwks    atomic.Pointer[[]byte]
}

func newIDP(t testing.TB) *idp {
	t.Helper()
	p := &idp{}
	b := jwksJSON(t)
	p.jwks.Store(&b)
	mux := http.NewServeMux()
	mux.HandleFunc("/realms/test/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": p.issuer, "jwks_uri": p.issuer + "/protocol/openid-connect/certs"})
	})
	mux.HandleFunc("/realms/test/protocol/openid-connect/certs", func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*p.jwks.Load())
	})
	p.srv = httptest.NewServer(mux)
	p.issuer = p.srv.URL + "/realms/test"
	t.Cleanup(p.srv.Close)
	return p
}

var enc = base64.RawURLEncoding

// signer produces a signature over the JWS signing input.
type signer func(input []byte) []byte

func rs256(k *rsa.PrivateKey) signer {
	return func(in []byte) []byte {
		h := sha256.Sum256(in)
		s, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, h[:])
		if err != nil {
			panic(err)
		}
		return s
	}
}

func ps256(k *rsa.PrivateKey) signer {
	return func(in []byte) []byte {
		h := sha256.Sum256(in)
		s, err := rsa.SignPSS(rand.Reader, k, crypto.SHA256, h[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil {
			panic(err)
		}
		return s
	}
}

func es256(k *ecdsa.PrivateKey) signer {
	return func(in []byte) []byte {
		h := sha256.Sum256(in)
		r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
		if err != nil {
			panic(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	}
}

func eddsa(k ed25519.PrivateKey) signer {
	return func(in []byte) []byte { return ed25519.Sign(k, in) }
}

func hs256(secret []byte) signer {
	return func(in []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(in)
		return m.Sum(nil)
	}
}

func rsaPublicPEM(k *rsa.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func modulus(k *rsa.PublicKey) []byte { return new(big.Int).Set(k.N).Bytes() }

// mint builds a compact JWS from header and claims with s.
func mint(header, claims map[string]any, s signer) string {
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	return mintRaw(hb, cb, s)
}

func mintRaw(hb, cb []byte, s signer) string {
	in := enc.EncodeToString(hb) + "." + enc.EncodeToString(cb)
	var sig []byte
	if s != nil {
		sig = s([]byte(in))
	}
	return in + "." + enc.EncodeToString(sig)
}

// kcClaims are the claims of a Keycloak access token for client demo.
func kcClaims(iss string, now time.Time) map[string]any {
	return map[string]any{
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "jti": "0f1e2d3c",
		"iss": iss, "sub": "user-1", "typ": "Bearer", "azp": "demo", "sid": "sess-1",
		"scope":              "openid profile payments:write",
		"realm_access":       map[string]any{"roles": []string{"user", "offline_access"}},
		"resource_access":    map[string]any{"demo": map[string]any{"roles": []string{"reader"}}},
		"preferred_username": "alice",
	}
}

func hdr(alg, kid string) map[string]any {
	return map[string]any{"alg": alg, "kid": kid, "typ": "JWT"}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, k)
			continue
		}
		out[k] = kv[i+1]
	}
	return out
}

func indexDot(s string) int {
	for i := range len(s) {
		if s[i] == '.' {
			return i
		}
	}
	return len(s)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
