package revocation

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/tokenwarden/tokenwarden/jwks"
)

// KeySource resolves an issuer's signature key for (kid, alg). It is the
// consumer-side view of *jwks.Resolver. Implementations must be safe for
// concurrent use. Errors are judged as jwks defines them: jwks.ErrUnknownKID
// and jwks.ErrAlgMismatch mean the token is bad; every other error
// (jwks.ErrKeysUnavailable, jwks.ErrRefreshSuppressed, context errors) means
// the keys could not be obtained, which is never the sender's fault.
type KeySource interface {
	Key(ctx context.Context, kid, alg string) (jwks.Key, error)
}

// KeySourceFunc adapts a function to KeySource.
type KeySourceFunc func(ctx context.Context, kid, alg string) (jwks.Key, error)

// Key returns f(ctx, kid, alg).
func (f KeySourceFunc) Key(ctx context.Context, kid, alg string) (jwks.Key, error) {
	return f(ctx, kid, alg)
}

var _ KeySource = (*jwks.Resolver)(nil)

// Defaults shared by the validators.
const (
	DefaultMaxTokenBytes = 16 << 10
	DefaultAlgorithm     = "RS256"
)

// asymmetric lists the algorithms a validator may allow: never "none", never
// HMAC (a JWKS holds public keys; HS against one is key confusion, RFC 8725
// §2.1, §3.1).
var asymmetric = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"EdDSA": true,
}

// verifiersFor builds one jws.Verifier per allowed algorithm (default RS256).
func verifiersFor(algs []string) (map[string]jws.Verifier, error) {
	if len(algs) == 0 {
		algs = []string{DefaultAlgorithm}
	}
	out := make(map[string]jws.Verifier, len(algs))
	for _, a := range algs {
		if !asymmetric[a] {
			return nil, fmt.Errorf("%w: algorithm %q not allowed (asymmetric JWS algorithms only)", ErrInvalidConfig, a)
		}
		v, err := jws.NewVerifier(jwa.SignatureAlgorithm(a))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		out[a] = v
	}
	return out, nil
}

// joseHeader is the JWS protected header. Members we refuse are kept raw
// only to detect their presence.
type joseHeader struct {
	Alg  string          `json:"alg"`
	KID  string          `json:"kid"`
	Typ  *string         `json:"typ"`
	Crit json.RawMessage `json:"crit"`
	B64  json.RawMessage `json:"b64"`
	Enc  json.RawMessage `json:"enc"`
	JKU  json.RawMessage `json:"jku"`
	X5U  json.RawMessage `json:"x5u"`
	JWK  json.RawMessage `json:"jwk"`
	X5C  json.RawMessage `json:"x5c"`
}

// compact is a parsed, not yet verified compact JWS.
type compact struct {
	hdr          joseHeader
	payload      []byte
	signingInput []byte
	sig          []byte
}

var b64 = base64.RawURLEncoding.Strict()

// parseCompact splits and decodes a compact JWS (RFC 7515 §7.1) and applies
// the header rules of RFC 8725: alg allowlisted, no crit/b64 extensions, no
// keys named by the token. Errors are of kind; nothing is verified yet.
func parseCompact(kind error, tok string, maxBytes int, verifiers map[string]jws.Verifier) (*compact, error) {
	if len(tok) > maxBytes {
		return nil, newErr(kind, ReasonTooLarge, fmt.Sprintf("larger than %d bytes", maxBytes))
	}
	if tok == "" || tok[0] == '{' {
		return nil, newErr(kind, ReasonMalformed, "not a compact JWS")
	}
	hSeg, rest, ok1 := strings.Cut(tok, ".")
	pSeg, sSeg, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(sSeg, '.') >= 0 {
		return nil, newErr(kind, ReasonMalformed, "not a compact JWS (three segments required; JWE is not accepted)")
	}
	if hSeg == "" || pSeg == "" {
		return nil, newErr(kind, ReasonMalformed, "empty JWS segment")
	}
	hb, err := b64.DecodeString(hSeg)
	if err != nil {
		return nil, newErr(kind, ReasonMalformed, "header is not base64url")
	}
	var c compact
	if err := decodeObject(hb, &c.hdr); err != nil {
		return nil, newErr(kind, ReasonMalformed, "header is not a JSON object")
	}
	h := &c.hdr
	if len(h.Enc) != 0 {
		return nil, newErr(kind, ReasonMalformed, "JWE is not accepted")
	}
	if _, ok := verifiers[h.Alg]; !ok {
		return nil, newErr(kind, ReasonAlg, "algorithm not allowed")
	}
	if len(h.Crit) != 0 || len(h.B64) != 0 {
		return nil, newErr(kind, ReasonMalformed, "critical header extensions are not supported")
	}
	if len(h.JKU) != 0 || len(h.X5U) != 0 || len(h.JWK) != 0 || len(h.X5C) != 0 {
		return nil, newErr(kind, ReasonMalformed, "keys named by the token are never used")
	}
	if sSeg == "" {
		return nil, newErr(kind, ReasonSignature, "signature missing")
	}
	if c.payload, err = b64.DecodeString(pSeg); err != nil {
		return nil, newErr(kind, ReasonMalformed, "payload is not base64url")
	}
	if c.sig, err = b64.DecodeString(sSeg); err != nil {
		return nil, newErr(kind, ReasonMalformed, "signature is not base64url")
	}
	if !utf8.Valid(c.payload) {
		return nil, newErr(kind, ReasonMalformed, "payload is not valid UTF-8")
	}
	c.signingInput = []byte(tok[:len(hSeg)+1+len(pSeg)])
	return &c, nil
}

// verify checks c's signature with k. The key must be bound to the header's
// alg (RFC 8725 §3.1: one key, one algorithm).
func (c *compact) verify(kind error, k jwks.Key, verifiers map[string]jws.Verifier) error {
	if k.Alg != c.hdr.Alg {
		return newErr(kind, ReasonAlg, "algorithm does not match the key")
	}
	if err := verifiers[c.hdr.Alg].Verify(c.signingInput, c.sig, k.Public); err != nil {
		return newErr(kind, ReasonSignature, "signature does not verify")
	}
	return nil
}

// keyError translates a KeySource error: the one place where key resolution
// outcomes become reasons. A bad kid or alg is the token's fault; anything
// else is an outage (ErrKeysUnavailable, so the handler answers 503).
func keyError(kind, err error) *Error {
	switch {
	case errors.Is(err, jwks.ErrRefreshSuppressed):
		return &Error{Kind: ErrKeysUnavailable, Reason: ReasonKeysUnavailable, Detail: "signing key not yet known; retry", Err: err}
	case errors.Is(err, jwks.ErrUnknownKID):
		return &Error{Kind: kind, Reason: ReasonSignature, Detail: "unknown signing key", Err: err}
	case errors.Is(err, jwks.ErrAlgMismatch):
		return &Error{Kind: kind, Reason: ReasonAlg, Detail: "algorithm does not match the key", Err: err}
	default:
		return &Error{Kind: ErrKeysUnavailable, Reason: ReasonKeysUnavailable, Detail: "signing keys unavailable", Err: err}
	}
}

// decodeObject decodes one JSON object, refusing anything after it.
func decodeObject(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return errors.New("not a JSON object")
	}
	return json.Unmarshal(b, v)
}
