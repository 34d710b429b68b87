package jwks

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Key is a public signature key bound to one algorithm.
//
// Public is shared with the resolver's key set: callers must treat it as
// read-only.
type Key struct {
	KID string
	// Alg is the one algorithm this key may verify: its "alg" member, or
	// the one implied by kty/crv (RSA→RS256, EC P-256→ES256, P-384→ES384,
	// P-521→ES512, OKP Ed25519→EdDSA).
	Alg string
	// Public is *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey.
	Public any
}

// keySet is an immutable snapshot of one successful fetch. It is swapped
// whole through an atomic.Pointer, so lookups take no lock.
type keySet struct {
	byKID    map[string][]Key // usually one entry per kid; more only for distinct algs
	byAlg    map[string]int   // number of keys bound to each alg (kid or not)
	soleKey  map[string]Key   // alg -> the key when byAlg[alg] == 1
	loadedAt time.Time        // clock time of the fetch that produced it
}

// lookup finds kid/alg in the set. found is false only when the kid is not in
// the set at all (the caller may then refresh); otherwise err says why the
// key is refused.
func (s *keySet) lookup(kid, alg string) (k Key, found bool, err error) {
	if kid == "" {
		// RFC 7515 §4.1.4: kid is optional. Without it the key is only
		// unambiguous when exactly one key is bound to the token's alg.
		if s.byAlg[alg] == 1 {
			return s.soleKey[alg], true, nil
		}
		return Key{}, true, fmt.Errorf("%w: token has no kid and %d keys are bound to %s", ErrUnknownKID, s.byAlg[alg], alg)
	}
	keys, ok := s.byKID[kid]
	if !ok {
		return Key{}, false, nil
	}
	for _, k := range keys {
		if k.Alg == alg {
			return k, true, nil
		}
	}
	return Key{}, true, fmt.Errorf("%w: key %q is bound to %s, token says %s", ErrAlgMismatch, clip(kid), keys[0].Alg, alg)
}

// skipped records a JWK that was not taken, for logging.
type skipped struct {
	Index  int
	KID    string
	Reason string
}

// parseSet parses a JWK Set document (RFC 7517 §5) into the usable
// signature keys. A malformed document is an error; a malformed or unusable
// member is skipped and reported, so one odd key at the IdP (a new key type,
// an encryption key) never takes the whole set down. Safe on any input.
func parseSet(data []byte) ([]Key, []skipped, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("JWK set is not valid JSON: %w", err)
	}
	if doc.Keys == nil {
		return nil, nil, errors.New(`JWK set has no "keys" array`)
	}
	var (
		keys []Key
		skip []skipped
	)
	for i, raw := range doc.Keys {
		k, err := parseKey(raw)
		if err != nil {
			s := skipped{Index: i, Reason: err.Error()}
			if k.KID != "" {
				s.KID = clip(k.KID)
			}
			skip = append(skip, s)
			continue
		}
		if len(keys) == maxKeysPerSet {
			skip = append(skip, skipped{Index: i, KID: clip(k.KID), Reason: "too many keys in set"})
			continue
		}
		keys = append(keys, k)
	}
	return keys, skip, nil
}

// parseKey turns one JWK into a Key, or says why it is not usable. The
// returned Key carries the kid even on error, for the log.
func parseKey(raw []byte) (Key, error) {
	jk, err := jwk.ParseKey(raw)
	if err != nil {
		return Key{}, fmt.Errorf("unparsable JWK: %w", err)
	}
	k := Key{KID: jk.KeyID()}
	if len(k.KID) > maxKIDLen {
		return k, fmt.Errorf("kid longer than %d bytes", maxKIDLen)
	}
	// RFC 7517 §4.2: "use" other than "sig" (Keycloak's RSA-OAEP key is
	// use "enc") is not for verifying signatures.
	if use := jk.KeyUsage(); use != "" && use != string(jwk.ForSignature) {
		return k, fmt.Errorf("use %q is not sig", clip(use))
	}
	// RFC 7517 §4.3: when key_ops is present it must allow verify.
	if ops := jk.KeyOps(); len(ops) > 0 {
		verify := false
		for _, op := range ops {
			if op == jwk.KeyOpVerify {
				verify = true
			}
		}
		if !verify {
			return k, errors.New("key_ops lacks verify")
		}
	}
	if err := jk.Validate(); err != nil {
		return k, fmt.Errorf("invalid JWK: %w", err)
	}
	// A set that (wrongly) publishes private members: only the public half
	// is ever used.
	if priv, _ := jwk.IsPrivateKey(jk); priv {
		if jk, err = jk.PublicKey(); err != nil {
			return k, fmt.Errorf("cannot derive public key: %w", err)
		}
	}
	algMember := ""
	if a := jk.Algorithm(); a != nil {
		algMember = a.String()
	}
	if algMember != "" {
		if _, ok := sigAlgs[algMember]; !ok {
			return k, fmt.Errorf("alg %q is not a supported signature algorithm", clip(algMember))
		}
	}
	var implied string
	switch kty := jk.KeyType().String(); kty {
	case "RSA":
		var pub rsa.PublicKey
		if err := jk.Raw(&pub); err != nil {
			return k, fmt.Errorf("RSA key: %w", err)
		}
		rk, _ := jk.(jwk.RSAPublicKey)
		if rk == nil || len(rk.E()) > 4 || pub.E < 3 || pub.E%2 == 0 {
			return k, errors.New("RSA key: bad public exponent")
		}
		// RFC 7518 §3.3: 2048 bits or larger. The upper bound keeps a
		// hostile set from making every verification expensive.
		if bits := pub.N.BitLen(); bits < 2048 || bits > 8192 {
			return k, fmt.Errorf("RSA key of %d bits refused (need 2048..8192)", bits)
		}
		k.Public, implied = &pub, "RS256"
		if algMember != "" && sigAlgs[algMember] == "RSA" {
			implied = algMember
		}
	case "EC":
		var pub ecdsa.PublicKey
		if err := jk.Raw(&pub); err != nil {
			return k, fmt.Errorf("EC key: %w", err)
		}
		// ECDH rejects points that are not on the curve (validate
		// cryptographic inputs, RFC 8725 §3.4).
		if _, err := pub.ECDH(); err != nil {
			return k, fmt.Errorf("EC key: %w", err)
		}
		switch pub.Curve.Params().Name {
		case "P-256":
			implied = "ES256"
		case "P-384":
			implied = "ES384"
		case "P-521":
			implied = "ES512"
		default:
			return k, fmt.Errorf("EC curve %q not supported", pub.Curve.Params().Name)
		}
		k.Public = &pub
	case "OKP":
		var pub ed25519.PublicKey
		if err := jk.Raw(&pub); err != nil {
			return k, fmt.Errorf("OKP key (only Ed25519 is supported): %w", err)
		}
		if len(pub) != ed25519.PublicKeySize {
			return k, errors.New("Ed25519 key of wrong size")
		}
		k.Public, implied = pub, "EdDSA"
	default:
		// "oct" (HMAC) keys are never usable against a JWKS (RFC 8725 §2.1).
		return k, fmt.Errorf("kty %q not supported", clip(kty))
	}
	if algMember != "" && algMember != implied {
		return k, fmt.Errorf("alg %s does not fit the key (%s)", algMember, implied)
	}
	k.Alg = implied
	return k, nil
}

// newKeySet indexes keys. Keys sharing both kid and alg are ambiguous and
// dropped (reported in the returned skips); keys sharing a kid but bound to
// different algs stay, since the token's alg selects one.
func newKeySet(keys []Key, loadedAt time.Time) (*keySet, []skipped) {
	type ka struct{ kid, alg string }
	count := make(map[ka]int, len(keys))
	for _, k := range keys {
		if k.KID != "" {
			count[ka{k.KID, k.Alg}]++
		}
	}
	s := &keySet{
		byKID:    make(map[string][]Key, len(keys)),
		byAlg:    make(map[string]int),
		soleKey:  make(map[string]Key),
		loadedAt: loadedAt,
	}
	var skip []skipped
	for _, k := range keys {
		if k.KID != "" && count[ka{k.KID, k.Alg}] > 1 {
			skip = append(skip, skipped{Index: -1, KID: clip(k.KID), Reason: "duplicate kid for " + k.Alg})
			continue
		}
		if k.KID != "" {
			s.byKID[k.KID] = append(s.byKID[k.KID], k)
		}
		s.byAlg[k.Alg]++
		s.soleKey[k.Alg] = k
	}
	for alg, n := range s.byAlg {
		if n != 1 {
			delete(s.soleKey, alg)
		}
	}
	return s, skip
}
