package idpsim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t is defined as a SHA-1 thumbprint (RFC 7517 §4.8)
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/cert"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

var (
	// ErrUnknownRealm is returned for a realm name not in the config.
	ErrUnknownRealm = errors.New("idpsim: realm does not exist")
	// ErrUnknownKey is returned for a kid that is not an enabled key of the realm.
	ErrUnknownKey = errors.New("idpsim: unknown key")
	// ErrActiveKey is returned when removing the active key.
	ErrActiveKey = errors.New("idpsim: cannot remove the active key")
)

// sigKey is one realm signing key (Keycloak "rsa-generated" & co. provider).
type sigKey struct {
	kid    string
	alg    jwa.SignatureAlgorithm
	priv   crypto.Signer
	signer jws.Signer
	verif  jws.Verifier
	pub    jwk.Key // public JWK as published
}

func newSigKey(alg string, realm string, now time.Time) (*sigKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case "RS256", "PS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("%w: unsupported alg %q", ErrConfig, alg)
	}
	if err != nil {
		return nil, fmt.Errorf("idpsim: generate key: %w", err)
	}
	ja := jwa.SignatureAlgorithm(alg)
	signer, err := jws.NewSigner(ja)
	if err != nil {
		return nil, err
	}
	verif, err := jws.NewVerifier(ja)
	if err != nil {
		return nil, err
	}
	k := &sigKey{kid: randomKID(), alg: ja, priv: priv, signer: signer, verif: verif}
	pub, err := publicJWK(priv.Public(), priv, k.kid, alg, "sig", realm, now)
	if err != nil {
		return nil, err
	}
	k.pub = pub
	return k, nil
}

// publicJWK builds the JWKS entry the way Keycloak's certs endpoint does:
// kid, kty, alg, use and a self-signed x5c chain with its thumbprints.
func publicJWK(pub crypto.PublicKey, priv crypto.Signer, kid, alg, use, realm string, now time.Time) (jwk.Key, error) {
	k, err := jwk.FromRaw(pub)
	if err != nil {
		return nil, fmt.Errorf("idpsim: jwk: %w", err)
	}
	for name, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: alg, jwk.KeyUsageKey: use} {
		if err := k.Set(name, v); err != nil {
			return nil, fmt.Errorf("idpsim: jwk %s: %w", name, err)
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: realm},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return nil, fmt.Errorf("idpsim: certificate: %w", err)
	}
	s1 := sha1.Sum(der)
	s256 := sha256.Sum256(der)
	var chain cert.Chain
	if err := chain.AddString(base64.StdEncoding.EncodeToString(der)); err != nil {
		return nil, fmt.Errorf("idpsim: x5c: %w", err)
	}
	if err := k.Set(jwk.X509CertChainKey, &chain); err != nil {
		return nil, fmt.Errorf("idpsim: x5c: %w", err)
	}
	if err := k.Set(jwk.X509CertThumbprintKey, base64.RawURLEncoding.EncodeToString(s1[:])); err != nil {
		return nil, fmt.Errorf("idpsim: x5t: %w", err)
	}
	if err := k.Set(jwk.X509CertThumbprintS256Key, base64.RawURLEncoding.EncodeToString(s256[:])); err != nil {
		return nil, fmt.Errorf("idpsim: x5t#S256: %w", err)
	}
	return k, nil
}

func randomKID() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// encKey is the RSA-OAEP key Keycloak publishes with use "enc" (rsa-enc-generated).
// idpsim never decrypts anything with it, so one key generated per process is
// shared by every realm; only its kid differs.
var (
	encOnce sync.Once
	encPriv *rsa.PrivateKey
	encErr  error
)

func newEncKey(realm string, now time.Time) (jwk.Key, error) {
	encOnce.Do(func() { encPriv, encErr = rsa.GenerateKey(rand.Reader, 2048) })
	if encErr != nil {
		return nil, fmt.Errorf("idpsim: generate enc key: %w", encErr)
	}
	return publicJWK(encPriv.Public(), encPriv, randomKID(), "RSA-OAEP", "enc", realm, now)
}

// hmacKey signs refresh tokens. Keycloak signs refresh tokens with an internal
// HS512 realm key (hmac-generated) that is never published, so resource servers
// cannot verify them against the JWKS; idpsim does the same.
type hmacKey struct {
	kid    string
	secret []byte
}

func newHMACKey() hmacKey {
	s := make([]byte, 64)
	_, _ = rand.Read(s)
	return hmacKey{kid: randomKID(), secret: s}
}

// signCompact builds a compact JWS with exactly the given header and payload
// JSON and signs it with the key's algorithm, whatever the header says: attack
// tests rely on that to mint tokens with lying headers.
func signCompact(header map[string]any, payload []byte, signer jws.Signer, key any) (string, error) {
	hb, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("idpsim: header: %w", err)
	}
	var sb strings.Builder
	enc := base64.RawURLEncoding
	sb.Grow(enc.EncodedLen(len(hb)) + enc.EncodedLen(len(payload)) + 400)
	sb.WriteString(enc.EncodeToString(hb))
	sb.WriteByte('.')
	sb.WriteString(enc.EncodeToString(payload))
	sig, err := signer.Sign([]byte(sb.String()), key)
	if err != nil {
		return "", fmt.Errorf("idpsim: sign: %w", err)
	}
	sb.WriteByte('.')
	sb.WriteString(enc.EncodeToString(sig))
	return sb.String(), nil
}

func hs512(secret []byte, input string) []byte {
	m := hmac.New(sha512.New, secret)
	m.Write([]byte(input))
	return m.Sum(nil)
}

// compactParts splits a compact JWS; it returns ok=false for anything else
// (JWE with five parts, JSON serialization, garbage).
func compactParts(tok string) (header map[string]any, payload []byte, signingInput string, sig []byte, ok bool) {
	// Cap before decoding: introspection bodies are bounded but this is a
	// cheap early exit for absurd inputs.
	if len(tok) > 16<<10 || strings.Count(tok, ".") != 2 {
		return nil, nil, "", nil, false
	}
	i := strings.IndexByte(tok, '.')
	j := strings.LastIndexByte(tok, '.')
	// Strict: non-canonical trailing bits would let many strings carry one
	// signature.
	enc := base64.RawURLEncoding.Strict()
	hb, err := enc.DecodeString(tok[:i])
	if err != nil {
		return nil, nil, "", nil, false
	}
	payload, err = enc.DecodeString(tok[i+1 : j])
	if err != nil {
		return nil, nil, "", nil, false
	}
	sig, err = enc.DecodeString(tok[j+1:])
	if err != nil {
		return nil, nil, "", nil, false
	}
	if err := json.Unmarshal(hb, &header); err != nil || header == nil {
		return nil, nil, "", nil, false
	}
	return header, payload, tok[:j], sig, true
}
