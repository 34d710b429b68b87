package idpsim

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// RotateKey adds a new active signing key with the realm's algorithm. The
// previous keys stay enabled as passive keys: listed in the JWKS and still
// verifying the tokens they signed, as Keycloak does until an admin disables
// them.
func (s *Server) RotateKey(realm string) (string, error) {
	r, err := s.realm(realm)
	if err != nil {
		return "", err
	}
	// Key generation is slow (RSA); do it outside the lock.
	k, err := newSigKey(r.cfg.SigningAlg, r.name, s.clock.Now())
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	r.keys = append(r.keys, k)
	r.active = k
	r.jwks = nil
	r.mu.Unlock()
	s.log.Info("idpsim: key rotated", "realm", realm, "kid", k.kid)
	return k.kid, nil
}

// RemoveKey disables a passive key: it vanishes from the JWKS and tokens signed
// with it are inactive at introspection. The active key cannot be removed
// (rotate first).
func (s *Server) RemoveKey(realm, kid string) error {
	r, err := s.realm(realm)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	i := slices.IndexFunc(r.keys, func(k *sigKey) bool { return k.kid == kid })
	if i < 0 {
		return fmt.Errorf("%w: %q", ErrUnknownKey, kid)
	}
	if r.keys[i] == r.active {
		return ErrActiveKey
	}
	r.keys = slices.Delete(r.keys, i, i+1)
	r.jwks = nil
	return nil
}

// ActiveKID returns the kid of the realm's active signing key ("" for an
// unknown realm).
func (s *Server) ActiveKID(realm string) string {
	r := s.realms[realm]
	if r == nil {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active.kid
}

// Sign signs claims with the realm's active key. header is used as given
// (alg and kid are added only when absent; no typ is added), and the signature is
// always made with the key's real algorithm: attack tests use this to forge
// tokens with lying headers, foreign issuers or any typ. The token is not
// recorded as issued; introspection judges it by signature and claims.
func (s *Server) Sign(realm string, header, claims map[string]any) (string, error) {
	return s.SignWithKID(realm, "", header, claims)
}

// SignWithKID is Sign with a specific enabled key ("" = the active key).
func (s *Server) SignWithKID(realm, kid string, header, claims map[string]any) (string, error) {
	r, err := s.realm(realm)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	k := r.active
	if kid != "" {
		k = r.keyByKID(kid)
	}
	r.mu.Unlock()
	if k == nil {
		return "", fmt.Errorf("%w: %q", ErrUnknownKey, kid)
	}
	h := maps.Clone(header)
	if h == nil {
		h = map[string]any{}
	}
	for name, v := range map[string]any{"alg": string(k.alg), "kid": k.kid} {
		if _, ok := h[name]; !ok {
			h[name] = v
		}
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("idpsim: claims: %w", err)
	}
	return signCompact(h, payload, k.signer, k.priv)
}

// jwksJSON returns the realm's serialized JWKS, cached until keys change.
func (r *realm) jwksJSON() ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.jwks != nil {
		return r.jwks, nil
	}
	set := jwk.NewSet()
	for _, k := range r.keys {
		if err := set.AddKey(k.pub); err != nil {
			return nil, fmt.Errorf("idpsim: jwks: %w", err)
		}
	}
	if err := set.AddKey(r.enc); err != nil {
		return nil, fmt.Errorf("idpsim: jwks: %w", err)
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("idpsim: jwks: %w", err)
	}
	r.jwks = b
	return b, nil
}
