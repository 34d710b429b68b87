package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/tokenwarden/tokenwarden/jwks"
)

// Floor is the crypto floor: raw signature verification (hash of the signing
// input + the public-key operation, crypto/rsa, crypto/ecdsa or
// crypto/ed25519) of the run's own tokens, in the same process as the
// strategies. Nothing that verifies a JWS can be faster; local
// verification is reported as a multiple of it. Real time.
type Floor struct {
	Alg      string  `json:"alg"`
	Verifies int     `json:"verifies"`
	MeanUS   float64 `json:"mean_us"`
	P50US    float64 `json:"p50_us"`
}

// maxFloorTokens bounds the tokens verified for the floor.
const maxFloorTokens = 2000

type jwsParts struct {
	kid, alg string
	input    []byte
	sig      []byte
}

func splitJWS(tok string) (jwsParts, error) {
	d1 := strings.IndexByte(tok, '.')
	d2 := strings.LastIndexByte(tok, '.')
	if d1 < 0 || d1 == d2 {
		return jwsParts{}, errors.New("not a compact JWS")
	}
	hb, err := base64.RawURLEncoding.DecodeString(tok[:d1])
	if err != nil {
		return jwsParts{}, err
	}
	var h struct {
		Kid string `json:"kid"`
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return jwsParts{}, err
	}
	sig, err := base64.RawURLEncoding.DecodeString(tok[d2+1:])
	if err != nil {
		return jwsParts{}, err
	}
	return jwsParts{kid: h.Kid, alg: h.Alg, input: []byte(tok[:d2]), sig: sig}, nil
}

// verifyRaw checks sig over input with pub for alg, with the standard
// library only.
func verifyRaw(alg string, pub any, input, sig []byte) bool {
	switch alg {
	case "RS256", "PS256":
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return false
		}
		d := sha256.Sum256(input)
		if alg == "RS256" {
			return rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig) == nil
		}
		return rsa.VerifyPSS(k, crypto.SHA256, d[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
	case "ES256":
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || len(sig) != 64 {
			return false
		}
		d := sha256.Sum256(input)
		return ecdsa.Verify(k, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
	case "EdDSA":
		k, ok := pub.(ed25519.PublicKey)
		return ok && ed25519.Verify(k, input, sig)
	}
	return false
}

// measureFloor verifies up to maxFloorTokens of w's minted tokens, twice
// (the first pass warms caches and is discarded), timing each verification.
func measureFloor(ctx context.Context, w *world) (Floor, error) {
	f := Floor{Alg: w.wl.Scenario.SigningAlg}
	keys, err := jwks.New(jwks.Config{Name: "floor", Issuer: w.issuer(), Algorithms: []string{f.Alg}})
	if err != nil {
		return f, err
	}
	defer keys.Close()
	n := min(w.minted, maxFloorTokens)
	parts := make([]jwsParts, n)
	pubs := make([]any, n)
	for i := range n {
		p, err := splitJWS(w.tokens[i])
		if err != nil {
			return f, fmt.Errorf("bench: floor: token %d: %w", i, err)
		}
		k, err := keys.Key(ctx, p.kid, p.alg)
		if err != nil {
			return f, fmt.Errorf("bench: floor: %w", err)
		}
		parts[i], pubs[i] = p, k.Public
	}
	var h *histogram
	for range 2 {
		h = newHistogram()
		for i, p := range parts {
			start := time.Now()
			ok := verifyRaw(p.alg, pubs[i], p.input, p.sig)
			h.record(time.Since(start))
			if !ok {
				return f, fmt.Errorf("bench: floor: token %d does not verify", i)
			}
		}
	}
	f.Verifies, f.MeanUS, f.P50US = n, us(h.mean()), us(h.quantile(.5))
	return f, nil
}
