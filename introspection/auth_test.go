package introspection

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/tokenwarden/tokenwarden/internal/clock"
)

// checkCommon asserts what every introspection request has (RFC 7662 §2.1).
func checkCommon(t *testing.T, r recorded, token string) {
	t.Helper()
	if r.Method != http.MethodPost || r.Path != "/introspect" || r.RawQuery != "" {
		t.Errorf("request = %s %s?%s, want POST /introspect", r.Method, r.Path, r.RawQuery)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q", ct)
	}
	if got := r.Header.Get("Accept"); got != "application/json" {
		t.Errorf("Accept = %q", got)
	}
	if got := r.Form["token"]; len(got) != 1 || got[0] != token {
		t.Errorf("token field = %q", got)
	}
	if r.Form.Has("token_type_hint") {
		t.Errorf("token_type_hint sent: %q", r.Form.Get("token_type_hint"))
	}
}

func formKeys(v url.Values) []string {
	var ks []string
	for k := range v {
		ks = append(ks, k)
	}
	return ks
}

func TestClientSecretBasicEncoding(t *testing.T) {
	tests := []struct {
		name, id, secret string
		want             string // the exact Authorization header
	}{
		{"plain", "demo", "demo-secret", "Basic " + base64.StdEncoding.EncodeToString([]byte("demo:demo-secret"))},
		// RFC 6749 §2.3.1: application/x-www-form-urlencoded each half, so the
		// space becomes '+', and ':', '@', '/', '+' are percent-encoded.
		{"special characters", "a b:c", "p@ss/word+", "Basic " + base64.StdEncoding.EncodeToString([]byte("a+b%3Ac:p%40ss%2Fword%2B"))},
		{"unicode", "clïent", "sécret%", "Basic " + base64.StdEncoding.EncodeToString([]byte("cl%C3%AFent:s%C3%A9cret%25"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeIdP(t, nil)
			c := newClient(t, Config{Endpoint: f.endpoint(), ClientID: tt.id, ClientSecret: []byte(tt.secret)})
			if _, err := c.Introspect(bg, "tok.en+/=", 0); err != nil {
				t.Fatal(err)
			}
			r := f.last(t)
			checkCommon(t, r, "tok.en+/=")
			if got := r.Header.Get("Authorization"); got != tt.want {
				t.Errorf("Authorization = %q, want %q", got, tt.want)
			}
			if len(r.Form) != 1 {
				t.Errorf("form fields = %v, want token only", formKeys(r.Form))
			}
			// Keycloak's decoder (idpsim parseBasic) must get the originals back.
			raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(r.Header.Get("Authorization"), "Basic "))
			u, p, _ := strings.Cut(string(raw), ":")
			if u, _ = url.QueryUnescape(u); u != tt.id {
				t.Errorf("decoded id = %q", u)
			}
			if p, _ = url.QueryUnescape(p); p != tt.secret {
				t.Errorf("decoded secret = %q", p)
			}
		})
	}
}

func TestClientSecretPostRequest(t *testing.T) {
	f := newFakeIdP(t, nil)
	c := newClient(t, Config{Endpoint: f.endpoint(), AuthMethod: AuthClientSecretPost, ClientID: "a b:c", ClientSecret: []byte("p@ss/word+")})
	if _, err := c.Introspect(bg, "tok", 0); err != nil {
		t.Fatal(err)
	}
	r := f.last(t)
	checkCommon(t, r, "tok")
	if h := r.Header.Get("Authorization"); h != "" {
		t.Errorf("Authorization = %q, want none", h)
	}
	if r.Form.Get("client_id") != "a b:c" || r.Form.Get("client_secret") != "p@ss/word+" || len(r.Form) != 3 {
		t.Errorf("form = %v", r.Form)
	}
}

func TestNoneWithStaticHeaders(t *testing.T) {
	f := newFakeIdP(t, nil)
	c := newClient(t, Config{Endpoint: f.endpoint(), AuthMethod: AuthNone,
		Headers: map[string]string{"x-api-key": "k1", "Authorization": "Gateway g2"}})
	if _, err := c.Introspect(bg, "tok", 0); err != nil {
		t.Fatal(err)
	}
	r := f.last(t)
	checkCommon(t, r, "tok")
	if r.Header.Get("X-Api-Key") != "k1" || r.Header.Get("Authorization") != "Gateway g2" {
		t.Errorf("headers = %v", r.Header)
	}
	if len(r.Form) != 1 {
		t.Errorf("form fields = %v, want token only", formKeys(r.Form))
	}
}

func TestPrivateKeyJWTAssertion(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name     string
		key      crypto.Signer
		alg      string // configured
		wantAlg  jwa.SignatureAlgorithm
		kid, aud string
	}{
		{name: "RSA default RS256", key: rsaKey, wantAlg: jwa.RS256, kid: "k1"},
		{name: "RSA PS256", key: rsaKey, alg: "PS256", wantAlg: jwa.PS256},
		{name: "P-256 default ES256", key: ecKey, wantAlg: jwa.ES256, kid: "ec", aud: "https://idp.example/realms/dev"},
		{name: "P-384 default ES384", key: ec384, wantAlg: jwa.ES384},
		{name: "Ed25519", key: edKey, wantAlg: jwa.EdDSA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeIdP(t, nil)
			clk := clock.NewManual(t0)
			c := newClient(t, Config{Endpoint: f.endpoint(), AuthMethod: AuthPrivateKeyJWT, ClientID: "rs-client",
				PrivateKey: tt.key, PrivateKeyAlg: tt.alg, PrivateKeyID: tt.kid, Audience: tt.aud}, WithClock(clk))
			var jtis []string
			for range 2 {
				if _, err := c.Introspect(bg, "tok", 0); err != nil {
					t.Fatal(err)
				}
				r := f.last(t)
				checkCommon(t, r, "tok")
				if h := r.Header.Get("Authorization"); h != "" {
					t.Errorf("Authorization = %q", h)
				}
				if r.Form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" ||
					r.Form.Get("client_id") != "rs-client" || len(r.Form) != 4 {
					t.Fatalf("form = %v", r.Form)
				}
				assertion := r.Form.Get("client_assertion")
				payload, err := jws.Verify([]byte(assertion), jws.WithKey(tt.wantAlg, tt.key.Public()))
				if err != nil {
					t.Fatalf("assertion does not verify with the public key as %s: %v", tt.wantAlg, err)
				}
				msg, _ := jws.Parse([]byte(assertion))
				h := msg.Signatures()[0].ProtectedHeaders()
				if h.Algorithm() != tt.wantAlg || h.KeyID() != tt.kid || h.Type() != "JWT" {
					t.Errorf("header alg=%v kid=%q typ=%q", h.Algorithm(), h.KeyID(), h.Type())
				}
				var cl struct {
					Iss, Sub, Aud, Jti string
					Iat, Exp           int64
				}
				if err := json.Unmarshal(payload, &cl); err != nil {
					t.Fatal(err)
				}
				wantAud := tt.aud
				if wantAud == "" {
					wantAud = f.endpoint()
				}
				if cl.Iss != "rs-client" || cl.Sub != "rs-client" || cl.Aud != wantAud || cl.Jti == "" {
					t.Errorf("claims = %+v, want iss=sub=rs-client aud=%s", cl, wantAud)
				}
				if cl.Iat != clk.Now().Unix() || cl.Exp != cl.Iat+60 {
					t.Errorf("iat=%d exp=%d, want iat=%d exp=iat+60", cl.Iat, cl.Exp, clk.Now().Unix())
				}
				jtis = append(jtis, cl.Jti)
				clk.Advance(time.Second)
			}
			if jtis[0] == jtis[1] {
				t.Errorf("jti reused: %q", jtis[0])
			}
		})
	}
}
