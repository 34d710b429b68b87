package jwks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// get fetches url with a bounded body. Anything but a 200 JSON response of
// at most MaxBodyBytes is an error.
func (r *Resolver) get(ctx context.Context, url, accept string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Drain a little so the connection can be reused; bounded.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("GET %s: unexpected status %d", url, resp.StatusCode)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil ||
		(mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return nil, fmt.Errorf("GET %s: content type %q is not JSON", url, clip(resp.Header.Get("Content-Type")))
	}
	limit := r.cfg.MaxBodyBytes
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("GET %s: body of %d bytes exceeds %d", url, resp.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("GET %s: body exceeds %d bytes", url, limit)
	}
	return body, nil
}

// fetchDiscovery fetches and checks the discovery document (OIDC Discovery
// §4). Errors match ErrKeysUnavailable; a bad document also ErrDiscovery,
// a foreign issuer also ErrIssuerMismatch.
func (r *Resolver) fetchDiscovery(ctx context.Context) (Metadata, error) {
	body, err := r.get(ctx, r.cfg.DiscoveryURL, "application/json")
	if err != nil {
		return Metadata{}, fmt.Errorf("%w: discovery: %w", ErrKeysUnavailable, err)
	}
	return parseDiscovery(body, r.cfg.Issuer, r.cfg.JWKSURL)
}

// parseDiscovery checks a discovery document against the expected issuer.
func parseDiscovery(body []byte, issuer, jwksOverride string) (Metadata, error) {
	var md Metadata
	if err := json.Unmarshal(body, &md); err != nil {
		return Metadata{}, fmt.Errorf("%w: %w: %w", ErrKeysUnavailable, ErrDiscovery, err)
	}
	// OIDC Discovery §4.3: the issuer value returned MUST be identical to
	// the one the configuration was retrieved for; no normalisation, so
	// "https://idp/realms/x/" and "https://idp/realms/x" differ.
	if md.Issuer != issuer {
		return Metadata{}, fmt.Errorf("%w: %w: %w: document says %q, configured %q",
			ErrKeysUnavailable, ErrDiscovery, ErrIssuerMismatch, clip(md.Issuer), clip(issuer))
	}
	if jwksOverride != "" {
		md.JWKSURI = jwksOverride
	}
	if md.JWKSURI == "" {
		return Metadata{}, fmt.Errorf("%w: %w: no jwks_uri", ErrKeysUnavailable, ErrDiscovery)
	}
	md.Raw = append(json.RawMessage(nil), body...)
	return md, nil
}

// fetchKeys runs one full refresh: discovery if needed, then the JWK Set.
// It runs on the resolver's lifetime context, never a caller's.
func (r *Resolver) fetchKeys(ctx context.Context) (*keySet, error) {
	url := r.cfg.JWKSURL
	if url == "" {
		md, err := r.awaitMetadata(ctx, true)
		if err != nil {
			return nil, err
		}
		url = md.JWKSURI
	}
	body, err := r.get(ctx, url, "application/jwk-set+json, application/json")
	if err != nil {
		if r.cfg.JWKSURL == "" {
			// jwks_uri may have moved: rediscover on the next attempt.
			r.mu.Lock()
			r.meta = nil
			r.mu.Unlock()
		}
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	keys, skip, err := parseSet(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	set, dup := newKeySet(keys, r.clk.Now())
	for _, s := range append(skip, dup...) {
		level := warnLevel
		if strings.HasPrefix(s.Reason, "use ") {
			level = debugLevel // Keycloak's enc key, every refresh: not news
		}
		r.log.Log(ctx, level, "jwks: key skipped", "issuer", r.cfg.Name, "kid", s.KID, "index", s.Index, "reason", s.Reason)
	}
	if len(set.byAlg) == 0 {
		// An empty set would turn every token into "unknown kid" (401):
		// treat it as a failed fetch and keep serving the last good keys.
		return nil, fmt.Errorf("%w: JWK set has no usable signature key", ErrKeysUnavailable)
	}
	return set, nil
}

var errClosed = errors.New("resolver closed")
