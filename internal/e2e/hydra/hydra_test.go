package hydra_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Hydra's key set for JWT access tokens (hydra.jwt.access-token): new tokens
// are signed with its newest key.
const accessTokenKeySet = "hydra.jwt.access-token"

// The audiences the clients may request; the shipped config accepts urn:api.
const (
	audAPI   = "urn:api"
	audOther = "urn:other"
)

// call sends one request to Hydra and decodes a JSON answer into out (when
// non-nil). It returns the status and the (bounded) body.
func call(method, u string, body io.Reader, contentType string, basic *client, out any) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if basic != nil {
		// RFC 6749 §2.3.1: id and secret are form-encoded before Basic.
		req.SetBasicAuth(url.QueryEscape(basic.id), url.QueryEscape(basic.secret))
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if out != nil && resp.StatusCode/100 == 2 && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, b, fmt.Errorf("%s %s: decode: %w: %s", method, u, err, b)
		}
	}
	return resp.StatusCode, b, nil
}

func drainClose(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// adminJSON calls Hydra's admin REST API with a JSON body.
func (h *hydra) adminJSON(method, path string, in, out any) (int, []byte, error) {
	var body io.Reader
	ct := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, nil, err
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	return call(method, h.admin+path, body, ct, nil, out)
}

// createClient registers a client_credentials client (admin API POST
// /admin/clients). strategy "" keeps the server default (jwt).
func (h *hydra) createClient(id, strategy string) (client, error) {
	in := map[string]any{
		"client_id":                  id,
		"client_secret":              id + "-secret-0123456789",
		"grant_types":                []string{"client_credentials"},
		"response_types":             []string{"token"},
		"scope":                      "read write",
		"audience":                   []string{audAPI, audOther},
		"token_endpoint_auth_method": "client_secret_basic",
	}
	if strategy != "" {
		in["access_token_strategy"] = strategy
	}
	var out struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	st, body, err := h.adminJSON(http.MethodPost, "/admin/clients", in, &out)
	if err != nil {
		return client{}, err
	}
	if st != http.StatusCreated || out.ClientID == "" || out.ClientSecret == "" {
		return client{}, fmt.Errorf("create client %s: HTTP %d: %s", id, st, body)
	}
	return client{id: out.ClientID, secret: out.ClientSecret}, nil
}

// mint gets an access token for c with the client_credentials grant.
// audience "" requests none (Hydra then issues aud []).
func (h *hydra) mint(t *testing.T, c client, scope, audience string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	if audience != "" {
		form.Set("audience", audience)
	}
	var out struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	st, body, err := call(http.MethodPost, h.public+"/oauth2/token", strings.NewReader(form.Encode()),
		"application/x-www-form-urlencoded", &c, &out)
	if err != nil {
		t.Fatalf("token endpoint: %v", err)
	}
	if st != http.StatusOK || out.AccessToken == "" || !strings.EqualFold(out.TokenType, "bearer") {
		t.Fatalf("token endpoint: HTTP %d: %s", st, body)
	}
	return out.AccessToken
}

// revoke revokes token at Hydra (RFC 7009 §2.1, client authentication).
func (h *hydra) revoke(t *testing.T, c client, token string) {
	t.Helper()
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	st, body, err := call(http.MethodPost, h.public+"/oauth2/revoke", strings.NewReader(form.Encode()),
		"application/x-www-form-urlencoded", &c, nil)
	if err != nil || st != http.StatusOK {
		t.Fatalf("revoke: HTTP %d %v: %s", st, err, body)
	}
}

// introspect asks Hydra directly (admin port, no client authentication).
func (h *hydra) introspect(t *testing.T, token string) map[string]any {
	t.Helper()
	var out map[string]any
	st, body, err := call(http.MethodPost, h.admin+"/admin/oauth2/introspect",
		strings.NewReader(url.Values{"token": {token}}.Encode()), "application/x-www-form-urlencoded", nil, &out)
	if err != nil || st != http.StatusOK {
		t.Fatalf("introspect: HTTP %d %v: %s", st, err, body)
	}
	return out
}

// addKey creates a key in the access-token key set (admin API POST
// /admin/keys/{set}); Hydra signs new access tokens with it.
func (h *hydra) addKey(t *testing.T, alg, kid string) {
	t.Helper()
	st, body, err := h.adminJSON(http.MethodPost, "/admin/keys/"+accessTokenKeySet,
		map[string]string{"alg": alg, "use": "sig", "kid": kid}, nil)
	if err != nil || st != http.StatusCreated {
		t.Fatalf("create %s key: HTTP %d %v: %s", alg, st, err, body)
	}
}

// deleteKey removes a key from the access-token key set.
func (h *hydra) deleteKey(t *testing.T, kid string) {
	t.Helper()
	st, body, err := h.adminJSON(http.MethodDelete, "/admin/keys/"+accessTokenKeySet+"/"+url.PathEscape(kid), nil, nil)
	if err != nil || st != http.StatusNoContent {
		t.Errorf("delete key %s: HTTP %d %v: %s", kid, st, err, body)
	}
}

// publicKIDs lists the kids of Hydra's public JWKS.
func (h *hydra) publicKIDs(t *testing.T) map[string]string {
	t.Helper()
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	st, body, err := call(http.MethodGet, h.public+"/.well-known/jwks.json", nil, "", nil, &set)
	if err != nil || st != http.StatusOK {
		t.Fatalf("jwks: HTTP %d %v: %s", st, err, body)
	}
	out := map[string]string{}
	for _, k := range set.Keys {
		out[k.KID] = k.Alg
	}
	return out
}

// jwtParts decodes a compact JWS's header and payload (unverified: only
// to assert what Hydra issued).
func jwtParts(t *testing.T, token string) (header, claims map[string]any) {
	t.Helper()
	seg := strings.Split(token, ".")
	if len(seg) != 3 {
		t.Fatalf("not a compact JWS: %d segments", len(seg))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(seg[i])
		if err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
	}
	return header, claims
}
