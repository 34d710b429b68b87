package idpsim

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

var clientAuthMethods = []string{"private_key_jwt", "client_secret_basic", "client_secret_post", "tls_client_auth", "client_secret_jwt"}

func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request, rl *realm) {
	if !methodAllowed(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	iss := s.Issuer(rl.name)
	oidc := iss + "/protocol/openid-connect"
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                        iss,
		"authorization_endpoint":                        oidc + "/auth",
		"token_endpoint":                                oidc + "/token",
		"introspection_endpoint":                        oidc + "/token/introspect",
		"jwks_uri":                                      oidc + "/certs",
		"end_session_endpoint":                          oidc + "/logout",
		"revocation_endpoint":                           oidc + "/revoke",
		"grant_types_supported":                         []string{"client_credentials", "password", "refresh_token"},
		"response_types_supported":                      []string{"code"},
		"subject_types_supported":                       []string{"public", "pairwise"},
		"id_token_signing_alg_values_supported":         supportedAlgs,
		"token_endpoint_auth_methods_supported":         clientAuthMethods,
		"introspection_endpoint_auth_methods_supported": clientAuthMethods,
		"revocation_endpoint_auth_methods_supported":    clientAuthMethods,
		"scopes_supported":                              []string{"openid", "offline_access", "profile", "email"},
		"claims_supported":                              []string{"aud", "sub", "iss", "auth_time", "name", "preferred_username", "email", "email_verified", "acr", "azp", "sid"},
		"backchannel_logout_supported":                  true,
		"backchannel_logout_session_supported":          true,
		"frontchannel_logout_supported":                 false,
	})
}

func (s *Server) handleCerts(w http.ResponseWriter, r *http.Request, rl *realm) {
	if !methodAllowed(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	b, err := rl.jwksJSON()
	if err != nil {
		s.log.Error("idpsim: jwks", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "unknown_error"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func methodAllowed(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	w.WriteHeader(http.StatusMethodNotAllowed)
	return false
}

// readForm reads the bounded form body. Like Keycloak it reads the body only
// (never the query string) and treats a non-form body as empty.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, *OAuthError) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return nil, oauthErr(http.StatusRequestEntityTooLarge, "invalid_request", "Request body too large")
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return url.Values{}, nil
	}
	v, err := url.ParseQuery(string(b))
	if err != nil {
		return nil, oauthErr(http.StatusBadRequest, "invalid_request", "Invalid form body")
	}
	return v, nil
}

func writeOAuthErr(w http.ResponseWriter, e *OAuthError) {
	if e.Code == "" {
		w.WriteHeader(e.Status)
		return
	}
	writeJSON(w, e.Status, map[string]string{"error": e.Code, "error_description": e.Description})
}

// parseBasic decodes client_secret_basic credentials: base64, then each half
// form-url-decoded (RFC 6749 §2.3.1), as Keycloak's BasicAuthHelper.RFC6749.
func parseBasic(h string) (id, secret string, ok bool) {
	const prefix = "basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[len(prefix):]))
	if err != nil {
		return "", "", false
	}
	u, p, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	if u, err = url.QueryUnescape(u); err != nil {
		return "", "", false
	}
	if p, err = url.QueryUnescape(p); err != nil {
		return "", "", false
	}
	return u, p, true
}

// authClient is Keycloak's ClientIdAndSecretAuthenticator: Basic header or
// client_id/client_secret form fields; public clients need only client_id.
// A non-Basic Authorization header (a bearer token) without client_id gets a
// bare 401 Basic challenge (OAuthError with empty Code).
func (s *Server) authClient(w http.ResponseWriter, r *http.Request, rl *realm, form url.Values) (*client, *OAuthError) {
	var id, secret string
	var haveSecret bool
	if h := r.Header.Get("Authorization"); h != "" {
		if u, p, ok := parseBasic(h); ok {
			id, secret, haveSecret = u, p, true
		} else if !form.Has("client_id") {
			w.Header().Set("WWW-Authenticate", `Basic realm="`+rl.name+`"`)
			return nil, &OAuthError{Status: http.StatusUnauthorized}
		}
	}
	if form.Has("client_id") {
		id = form.Get("client_id")
	}
	if form.Has("client_secret") {
		secret, haveSecret = form.Get("client_secret"), true
	}
	if id == "" {
		return nil, oauthErr(http.StatusBadRequest, "invalid_client", "Missing client_id parameter")
	}
	rl.mu.Lock()
	c := rl.clients[id]
	rl.mu.Unlock()
	if c == nil {
		return nil, oauthErr(http.StatusUnauthorized, "invalid_client", "Invalid client or Invalid client credentials")
	}
	if c.cfg.Public {
		return c, nil
	}
	if !haveSecret || subtle.ConstantTimeCompare([]byte(secret), []byte(c.cfg.Secret)) != 1 {
		return nil, oauthErr(http.StatusUnauthorized, "unauthorized_client", "Invalid client or Invalid client credentials")
	}
	return c, nil
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, rl *realm) {
	if !methodAllowed(w, r, http.MethodPost) {
		return
	}
	form, e := readForm(w, r)
	if e != nil {
		writeOAuthErr(w, e)
		return
	}
	grant := form.Get("grant_type")
	switch grant {
	case "":
		writeOAuthErr(w, oauthErr(http.StatusBadRequest, "invalid_request", "Missing form parameter: grant_type"))
		return
	case "client_credentials", "password", "refresh_token":
	default:
		writeOAuthErr(w, oauthErr(http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant_type"))
		return
	}
	c, e := s.authClient(w, r, rl, form)
	if e != nil {
		writeOAuthErr(w, e)
		return
	}
	scopes := strings.Fields(form.Get("scope"))
	var resp *TokenResponse
	var err error
	switch grant {
	case "client_credentials":
		resp, err = s.clientCredentials(rl, c, scopes)
	case "password":
		resp, err = s.httpPassword(rl, c, form, scopes)
	case "refresh_token":
		rt := form.Get("refresh_token")
		if rt == "" {
			err = oauthErr(http.StatusBadRequest, "invalid_request", "Missing parameter: refresh_token")
			break
		}
		resp, err = s.refresh(rl, c, rt)
	}
	if err != nil {
		var oe *OAuthError
		if !errors.As(err, &oe) {
			s.log.Error("idpsim: token", "err", err)
			oe = oauthErr(http.StatusInternalServerError, "unknown_error", "")
		}
		writeOAuthErr(w, oe)
		return
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}

// httpPassword checks the user's credentials the way the direct grant flow's
// ValidateUsername/ValidatePassword authenticators answer.
func (s *Server) httpPassword(rl *realm, c *client, form url.Values, scopes []string) (*TokenResponse, error) {
	if !c.cfg.DirectAccessGrants {
		return nil, oauthErr(http.StatusBadRequest, "unauthorized_client", "Client not allowed for direct access grants")
	}
	username := form.Get("username")
	if username == "" {
		return nil, oauthErr(http.StatusUnauthorized, "invalid_request", "Missing parameter: username")
	}
	rl.mu.Lock()
	u := rl.users[username]
	rl.mu.Unlock()
	if u == nil || subtle.ConstantTimeCompare([]byte(form.Get("password")), []byte(u.password)) != 1 || u.password == "" {
		return nil, oauthErr(http.StatusUnauthorized, "invalid_grant", "Invalid user credentials")
	}
	return s.passwordGrant(rl, c, u, scopes)
}

var (
	errAuthFailed       = oauthErr(http.StatusUnauthorized, "invalid_request", "Authentication failed.")
	errClientNotAllowed = oauthErr(http.StatusForbidden, "invalid_request", "Client not allowed.")
)

// handleIntrospect is TokenIntrospectionEndpoint (RFC 7662): authenticate,
// reject duplicated parameters, require token, check the hint, answer.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request, rl *realm) {
	if !methodAllowed(w, r, http.MethodPost) {
		return
	}
	form, e := readForm(w, r)
	if e != nil {
		writeOAuthErr(w, e)
		return
	}
	// Keycloak turns every client authentication failure, including a bearer
	// token in place of client credentials, into this one 401.
	c, e := s.authClient(discardHeaders{w}, r, rl, form)
	if e != nil {
		writeOAuthErr(w, errAuthFailed)
		return
	}
	if c.cfg.Public {
		writeOAuthErr(w, errClientNotAllowed)
		return
	}
	for _, vs := range form {
		if len(vs) != 1 {
			writeOAuthErr(w, oauthErr(http.StatusBadRequest, "invalid_request", "duplicated parameter"))
			return
		}
	}
	hint := "access_token"
	if form.Has("token_type_hint") {
		hint = form.Get("token_type_hint")
	}
	if !form.Has("token") {
		writeOAuthErr(w, oauthErr(http.StatusBadRequest, "invalid_request", "Token not provided."))
		return
	}
	if hint != "access_token" && hint != "refresh_token" {
		writeOAuthErr(w, oauthErr(http.StatusBadRequest, "invalid_request", "Unsupported token type."))
		return
	}
	tok := form.Get("token")
	out := s.introspect(rl, tok)
	if out == nil {
		writeJSON(w, http.StatusOK, map[string]bool{"active": false})
		return
	}
	if c.cfg.IntrospectionJWTClaim && acceptsJWT(r) && out["token_type"] != TypeRefresh && out["token_type"] != TypeOffline {
		out["jwt"] = tok
	}
	writeJSON(w, http.StatusOK, out)
}

func acceptsJWT(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := mime.ParseMediaType(strings.TrimSpace(part))
		if mt == "application/jwt" {
			return true
		}
	}
	return false
}

// discardHeaders hides header writes (the Basic challenge) from the response
// when the caller answers with its own error.
type discardHeaders struct{ http.ResponseWriter }

func (d discardHeaders) Header() http.Header { return http.Header{} }

// clientForm is the common start of the revoke and logout endpoints: a POST
// form from an authenticated client. When ok is false the error was written.
func (s *Server) clientForm(w http.ResponseWriter, r *http.Request, rl *realm) (form url.Values, c *client, ok bool) {
	if !methodAllowed(w, r, http.MethodPost) {
		return nil, nil, false
	}
	form, e := readForm(w, r)
	if e != nil {
		writeOAuthErr(w, e)
		return nil, nil, false
	}
	c, e = s.authClient(w, r, rl, form)
	if e != nil {
		writeOAuthErr(w, e)
		return nil, nil, false
	}
	return form, c, true
}

// handleRevoke is TokenRevocationEndpoint (RFC 7009).
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request, rl *realm) {
	form, c, ok := s.clientForm(w, r, rl)
	if !ok {
		return
	}
	tok := form.Get("token")
	if tok == "" {
		writeOAuthErr(w, oauthErr(http.StatusBadRequest, "invalid_request", "Token not provided"))
		return
	}
	if h := form.Get("token_type_hint"); h != "" && h != "access_token" && h != "refresh_token" {
		writeOAuthErr(w, oauthErr(http.StatusBadRequest, "unsupported_token_type", "Unsupported token type"))
		return
	}
	if e := s.revoke(rl, c, tok); e != nil {
		writeOAuthErr(w, e)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// handleLogout is the LogoutEndpoint's back-channel form: POST refresh_token
// with client authentication ends the session and notifies the session's
// clients by back-channel logout before answering 204.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, rl *realm) {
	form, c, ok := s.clientForm(w, r, rl)
	if !ok {
		return
	}
	rt := form.Get("refresh_token")
	if rt == "" {
		writeOAuthErr(w, oauthErr(http.StatusBadRequest, "invalid_request", "No refresh token"))
		return
	}
	claims, ok := s.decode(rl, rt)
	typ, _ := claims["typ"].(string)
	azp, _ := claims["azp"].(string)
	if !ok || (typ != TypeRefresh && typ != TypeOffline) || azp != c.cfg.ClientID {
		writeOAuthErr(w, oauthErr(http.StatusBadRequest, "invalid_grant", "Invalid refresh token"))
		return
	}
	sid, _ := claims["sid"].(string)
	rl.mu.Lock()
	sess := rl.sessions[sid]
	var targets []*client
	if sess != nil {
		delete(rl.sessions, sid)
		targets = rl.logoutTargets(sess)
	}
	rl.mu.Unlock()
	if sess != nil {
		// The deliveries belong to the logout, not to the caller's connection.
		s.deliverLogouts(context.WithoutCancel(r.Context()), rl, sess, targets)
	}
	w.WriteHeader(http.StatusNoContent)
}
