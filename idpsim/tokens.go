package idpsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/tokenhash"
)

// Token types (payload typ) as Keycloak writes them.
const (
	TypeBearer  = "Bearer"
	TypeRefresh = "Refresh"
	TypeOffline = "Offline"
	TypeID      = "ID"
	TypeLogout  = "Logout"
)

const scopeOfflineAccess = "offline_access"

// OAuthError is an OAuth error response as the HTTP endpoint would send it.
// The Go API returns it too, so callers can errors.As and inspect Code.
type OAuthError struct {
	Status      int    // HTTP status
	Code        string // "error"
	Description string // "error_description"
}

func (e *OAuthError) Error() string {
	return fmt.Sprintf("idpsim: %d %s: %s", e.Status, e.Code, e.Description)
}

func oauthErr(status int, code, desc string) *OAuthError {
	return &OAuthError{Status: status, Code: code, Description: desc}
}

// ErrUnknownSession is returned by Logout for a session that does not exist.
var ErrUnknownSession = errors.New("idpsim: session not found")

// ErrUnknownClient is returned for a client id that is not in the realm.
var ErrUnknownClient = errors.New("idpsim: client not found")

// ErrUnknownUser is returned for a username that is not in the realm.
var ErrUnknownUser = errors.New("idpsim: user not found")

// TokenResponse is the token endpoint's JSON body (Keycloak's AccessTokenResponse).
type TokenResponse struct {
	AccessToken      string `json:"access_token"`
	ExpiresIn        int    `json:"expires_in"`
	RefreshExpiresIn int    `json:"refresh_expires_in"`
	RefreshToken     string `json:"refresh_token,omitempty"`
	TokenType        string `json:"token_type"`
	IDToken          string `json:"id_token,omitempty"`
	NotBeforePolicy  int    `json:"not-before-policy"`
	SessionState     string `json:"session_state,omitempty"`
	Scope            string `json:"scope"`
}

// grantScopes resolves the scope parameter against the client's default and
// optional scopes (Keycloak: "Invalid scopes" for anything else).
func grantScopes(c *client, requested []string) ([]string, error) {
	granted := slices.Clone(c.defaults)
	var bad []string
	for _, sc := range requested {
		if sc == "" || slices.Contains(granted, sc) {
			continue
		}
		if sc == "openid" || sc == scopeOfflineAccess || slices.Contains(c.optional, sc) {
			granted = append(granted, sc)
			continue
		}
		bad = append(bad, sc)
	}
	if len(bad) > 0 {
		return nil, oauthErr(http.StatusBadRequest, "invalid_scope", "Invalid scopes: "+strings.Join(requested, " "))
	}
	return granted, nil
}

func splitScopes(scopes []string) []string {
	var out []string
	for _, s := range scopes {
		out = append(out, strings.Fields(s)...)
	}
	return out
}

// ClientCredentials runs the client_credentials grant for clientID (no
// secret check: the Go API is trusted). Keycloak issues no refresh token for
// it by default; the service-account session is still created so that the
// token carries a sid and can be logged out.
func (s *Server) ClientCredentials(realm, clientID string, scopes ...string) (*TokenResponse, error) {
	r, err := s.realm(realm)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	c := r.clients[clientID]
	r.mu.Unlock()
	if c == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownClient, clientID)
	}
	return s.clientCredentials(r, c, splitScopes(scopes))
}

func (s *Server) clientCredentials(r *realm, c *client, scopes []string) (*TokenResponse, error) {
	if c.cfg.Public {
		return nil, oauthErr(http.StatusUnauthorized, "unauthorized_client", "Public client not allowed to retrieve service account")
	}
	if !c.cfg.ServiceAccounts {
		return nil, oauthErr(http.StatusUnauthorized, "unauthorized_client", "Client not enabled to retrieve service account")
	}
	granted, err := grantScopes(c, scopes)
	if err != nil {
		return nil, err
	}
	// offline_access makes no sense without a refresh token.
	granted = slices.DeleteFunc(granted, func(sc string) bool { return sc == scopeOfflineAccess })
	now := s.clock.Now()
	sess := &session{id: newUUID(), user: c.sa, started: now, lastRefresh: now,
		clients: map[string]*clientSession{c.cfg.ClientID: {clientID: c.cfg.ClientID, scope: strings.Join(granted, " ")}}}
	r.mu.Lock()
	r.sessions[sess.id] = sess
	r.mu.Unlock()
	return s.issue(r, c, sess, granted, false, "client_credentials")
}

// PasswordGrant runs the password grant for username (no password check: the
// Go API is trusted) and creates a new user session. Scope "offline_access"
// makes the refresh token an Offline token and the session an offline one.
func (s *Server) PasswordGrant(realm, clientID, username string, scopes ...string) (*TokenResponse, error) {
	r, err := s.realm(realm)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	c, u := r.clients[clientID], r.users[username]
	r.mu.Unlock()
	if c == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownClient, clientID)
	}
	if u == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownUser, username)
	}
	return s.passwordGrant(r, c, u, splitScopes(scopes))
}

func (s *Server) passwordGrant(r *realm, c *client, u *user, scopes []string) (*TokenResponse, error) {
	if !c.cfg.DirectAccessGrants {
		return nil, oauthErr(http.StatusBadRequest, "unauthorized_client", "Client not allowed for direct access grants")
	}
	granted, err := grantScopes(c, scopes)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	enabled := u.enabled
	r.mu.Unlock()
	if !enabled {
		return nil, oauthErr(http.StatusBadRequest, "invalid_grant", "Account disabled")
	}
	now := s.clock.Now()
	offline := slices.Contains(granted, scopeOfflineAccess)
	// For direct grants with offline_access Keycloak drops the online session
	// and keeps only the offline one (same id).
	sess := &session{id: newUUID(), user: u, started: now, lastRefresh: now, offline: offline,
		clients: map[string]*clientSession{c.cfg.ClientID: {clientID: c.cfg.ClientID, scope: strings.Join(granted, " ")}}}
	r.mu.Lock()
	r.sessions[sess.id] = sess
	r.mu.Unlock()
	return s.issue(r, c, sess, granted, true, "password")
}

// SSOLogin logs clientID into the existing live session sid, as a browser
// holding Keycloak's SSO cookie would (authorization code flow): the session
// gains a client session for clientID and tokens are issued in it. This is how
// one session comes to span several clients, e.g. for back-channel logout.
func (s *Server) SSOLogin(realm, sid, clientID string, scopes ...string) (*TokenResponse, error) {
	r, err := s.realm(realm)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	r.mu.Lock()
	c, sess := r.clients[clientID], r.sessions[sid]
	switch {
	case c == nil:
		r.mu.Unlock()
		return nil, fmt.Errorf("%w: %q", ErrUnknownClient, clientID)
	case !r.sessionAlive(sess, now) || sess.user.serviceFor != "":
		r.mu.Unlock()
		return nil, fmt.Errorf("%w: %q", ErrUnknownSession, sid)
	}
	r.mu.Unlock()
	granted, err := grantScopes(c, splitScopes(scopes))
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	sess.clients[clientID] = &clientSession{clientID: clientID, scope: strings.Join(granted, " ")}
	sess.lastRefresh = now
	r.mu.Unlock()
	return s.issue(r, c, sess, granted, true, "authorization_code")
}

// Refresh runs the refresh_token grant as clientID.
func (s *Server) Refresh(realm, clientID, refreshToken string) (*TokenResponse, error) {
	r, err := s.realm(realm)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	c := r.clients[clientID]
	r.mu.Unlock()
	if c == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownClient, clientID)
	}
	return s.refresh(r, c, refreshToken)
}

func (s *Server) refresh(r *realm, c *client, rt string) (*TokenResponse, error) {
	invalid := oauthErr(http.StatusBadRequest, "invalid_grant", "Invalid refresh token")
	claims, ok := s.decode(r, rt)
	if !ok {
		return nil, invalid
	}
	typ, _ := claims["typ"].(string)
	if typ != TypeRefresh && typ != TypeOffline {
		return nil, invalid
	}
	now := s.clock.Now()
	if exp := claimInt(claims, "exp"); exp != 0 && now.Unix() > exp {
		return nil, oauthErr(http.StatusBadRequest, "invalid_grant", "Token is not active")
	}
	if azp, _ := claims["azp"].(string); azp != c.cfg.ClientID {
		return nil, oauthErr(http.StatusBadRequest, "invalid_grant", "Invalid refresh token. Token client and authorized client don't match")
	}
	if iss, _ := claims["iss"].(string); iss != s.Issuer(r.name) {
		return nil, invalid
	}
	sid, _ := claims["sid"].(string)
	r.mu.Lock()
	if iat := claimInt(claims, "iat"); iat < r.notBefore || iat < c.notBefore {
		r.mu.Unlock()
		return nil, oauthErr(http.StatusBadRequest, "invalid_grant", "Stale token")
	}
	sess := r.sessions[sid]
	if !r.sessionAlive(sess, now) || sess.offline != (typ == TypeOffline) {
		r.mu.Unlock()
		return nil, oauthErr(http.StatusBadRequest, "invalid_grant", "Session not active")
	}
	cs := sess.clients[c.cfg.ClientID]
	if cs == nil {
		r.mu.Unlock()
		return nil, oauthErr(http.StatusBadRequest, "invalid_grant", "Session doesn't have required client")
	}
	if !sess.user.enabled {
		r.mu.Unlock()
		return nil, oauthErr(http.StatusBadRequest, "invalid_grant", "User disabled")
	}
	sess.lastRefresh = now
	scope, _ := claims["scope"].(string)
	r.mu.Unlock()
	return s.issue(r, c, sess, strings.Fields(scope), true, "refresh_token")
}

// issue mints the access token, and for user sessions the refresh token and,
// with scope openid, the ID token.
func (s *Server) issue(r *realm, c *client, sess *session, granted []string, withRefresh bool, grant string) (*TokenResponse, error) {
	now := s.clock.Now()
	iss := s.Issuer(r.name)
	scope := strings.Join(granted, " ")
	r.mu.Lock()
	key := r.active
	u := sess.user
	userClaims := r.userClaims(u)
	r.mu.Unlock()

	exp := now.Add(r.cfg.AccessTokenLifespan).Unix()
	at := map[string]any{
		"exp": exp,
		"iat": now.Unix(),
		"jti": newUUID(),
		"iss": iss,
		"typ": TypeBearer,
		"azp": c.cfg.ClientID,
		"sid": sess.id,
		"acr": "1",
		// Keycloak 25+ puts the session id in sid only (session_state removed).
		"scope": scope,
	}
	switch len(c.cfg.Audiences) {
	case 0:
	case 1:
		at["aud"] = c.cfg.Audiences[0]
	default:
		at["aud"] = slices.Clone(c.cfg.Audiences)
	}
	if !c.cfg.Lightweight {
		copyInto(at, userClaims)
	}
	if u.serviceFor != "" {
		// Service-account tokens: the "Client ID" and "Client Host" mappers of
		// the service_account scope.
		at["client_id"] = c.cfg.ClientID
		at["clientHost"] = "127.0.0.1"
		at["clientAddress"] = "127.0.0.1"
	}
	hdrTyp := "JWT"
	if c.cfg.HeaderTypeRFC9068 {
		hdrTyp = "at+jwt"
	}
	atStr, err := s.signClaims(key, hdrTyp, at)
	if err != nil {
		return nil, err
	}
	resp := &TokenResponse{
		AccessToken: atStr,
		ExpiresIn:   int(r.cfg.AccessTokenLifespan / time.Second),
		TokenType:   TypeBearer,
		Scope:       scope,
	}
	recs := map[tokenhash.Key]*tokenRec{tokenhash.Of(atStr): {kid: key.kid, exp: exp}}

	if withRefresh {
		typ := TypeRefresh
		if sess.offline {
			typ = TypeOffline
		}
		r.mu.Lock()
		rexp := r.sessionExpiry(sess)
		r.mu.Unlock()
		rt := map[string]any{
			"exp":   rexp.Unix(),
			"iat":   now.Unix(),
			"jti":   newUUID(),
			"iss":   iss,
			"aud":   iss,
			"sub":   u.id,
			"typ":   typ,
			"azp":   c.cfg.ClientID,
			"sid":   sess.id,
			"scope": scope,
		}
		rtStr, err := s.signRefresh(r, rt)
		if err != nil {
			return nil, err
		}
		resp.RefreshToken = rtStr
		resp.RefreshExpiresIn = int(rexp.Sub(now) / time.Second)
		if sess.offline {
			// Keycloak reports 0 for offline tokens without a max lifespan.
			resp.RefreshExpiresIn = 0
		}
		resp.SessionState = sess.id
		recs[tokenhash.Of(rtStr)] = &tokenRec{kid: r.hmac.kid, exp: rexp.Unix()}

		if slices.Contains(granted, "openid") {
			id := map[string]any{
				"exp": exp,
				"iat": now.Unix(),
				"jti": newUUID(),
				"iss": iss,
				"aud": c.cfg.ClientID,
				"sub": u.id,
				"typ": TypeID,
				"azp": c.cfg.ClientID,
				"sid": sess.id,
				"acr": "1",
				// at_hash: left half of SHA-256 of the access token (OIDC Core §3.1.3.6).
				"at_hash": atHash(atStr),
			}
			for _, k := range []string{"email_verified", "preferred_username", "email"} {
				if v, ok := userClaims[k]; ok {
					id[k] = v
				}
			}
			idStr, err := s.signClaims(key, "JWT", id)
			if err != nil {
				return nil, err
			}
			resp.IDToken = idStr
		}
	}

	r.mu.Lock()
	for k, v := range recs {
		r.tokens[k] = v
	}
	r.maybeSweep(now)
	r.mu.Unlock()
	s.m.issued.WithLabelValues(grant).Inc()
	return resp, nil
}

func copyInto(dst, src map[string]any) {
	for k, v := range src {
		dst[k] = v
	}
}

func atHash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

// userClaims are the claims the default mappers add for u (and that
// lightweight tokens drop). Caller holds mu.
func (r *realm) userClaims(u *user) map[string]any {
	m := map[string]any{
		"sub":                u.id,
		"preferred_username": u.username,
		"email_verified":     false,
	}
	if u.email != "" {
		m["email"] = u.email
	}
	if len(u.realmRoles) > 0 {
		m["realm_access"] = map[string]any{"roles": slices.Clone(u.realmRoles)}
	}
	if len(u.clientRoles) > 0 {
		ra := map[string]any{}
		for cl, roles := range u.clientRoles {
			ra[cl] = map[string]any{"roles": slices.Clone(roles)}
		}
		m["resource_access"] = ra
	}
	return m
}

func (s *Server) signClaims(k *sigKey, typ string, claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("idpsim: claims: %w", err)
	}
	return signCompact(map[string]any{"alg": string(k.alg), "typ": typ, "kid": k.kid}, payload, k.signer, k.priv)
}

func (s *Server) signRefresh(r *realm, claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("idpsim: claims: %w", err)
	}
	hb, _ := json.Marshal(map[string]any{"alg": "HS512", "typ": "JWT", "kid": r.hmac.kid})
	enc := base64.RawURLEncoding
	in := enc.EncodeToString(hb) + "." + enc.EncodeToString(payload)
	return in + "." + enc.EncodeToString(hs512(r.hmac.secret, in)), nil
}

// decode returns the claims of a token this realm signed with an enabled key
// (or its refresh-token HMAC key). Tokens it issued are found by hash; others
// are verified, so that tokens minted with Sign are judged like any other.
func (s *Server) decode(r *realm, tok string) (map[string]any, bool) {
	header, payload, input, sig, ok := compactParts(tok)
	if !ok {
		return nil, false
	}
	h := tokenhash.Of(tok)
	r.mu.Lock()
	if rec := r.tokens[h]; rec != nil {
		ok := rec.kid == r.hmac.kid || r.keyByKID(rec.kid) != nil
		r.mu.Unlock()
		if !ok {
			return nil, false
		}
		return parseClaims(payload)
	}
	r.mu.Unlock()
	kid, _ := header["kid"].(string)
	alg, _ := header["alg"].(string)
	r.mu.Lock()
	key := r.keyByKID(kid)
	hk := r.hmac
	r.mu.Unlock()
	switch {
	case key != nil:
		// The header alg must be the key's alg: a key is bound to one algorithm.
		if alg != string(key.alg) || key.verif.Verify([]byte(input), sig, key.priv.Public()) != nil {
			return nil, false
		}
	case kid == hk.kid && alg == "HS512":
		if !hmac.Equal(sig, hs512(hk.secret, input)) {
			return nil, false
		}
	default:
		return nil, false
	}
	return parseClaims(payload)
}

func parseClaims(payload []byte) (map[string]any, bool) {
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil || claims == nil {
		return nil, false
	}
	return claims, true
}

func claimInt(c map[string]any, name string) int64 {
	switch v := c[name].(type) {
	case int64:
		return v
	case int:
		return int64(v)
	case float64:
		return int64(v)
	case json.Number:
		n, _ := v.Int64()
		return n
	}
	return 0
}

var introspectionTypes = []string{TypeBearer, "DPoP", TypeRefresh, TypeOffline}

// introspect returns the RFC 7662 response for tok: nil means {"active":false}.
func (s *Server) introspect(r *realm, tok string) map[string]any {
	claims, ok := s.decode(r, tok)
	if !ok {
		return nil
	}
	typ, _ := claims["typ"].(string)
	if !slices.Contains(introspectionTypes, typ) {
		return nil
	}
	if iss, _ := claims["iss"].(string); iss != s.Issuer(r.name) {
		return nil
	}
	now := s.clock.Now()
	n := now.Unix()
	if exp := claimInt(claims, "exp"); exp != 0 && n > exp {
		return nil
	}
	if _, has := claims["nbf"]; has && n < claimInt(claims, "nbf") {
		return nil
	}
	azp, _ := claims["azp"].(string)
	jti, _ := claims["jti"].(string)
	sid, _ := claims["sid"].(string)
	iat := claimInt(claims, "iat")

	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.clients[azp]
	if c == nil {
		return nil
	}
	if iat < r.notBefore || iat < c.notBefore {
		return nil
	}
	if until, revoked := r.revoked[jti]; revoked && jti != "" && until >= n {
		return nil
	}
	var u *user
	if sid != "" {
		sess := r.sessions[sid]
		if !r.sessionAlive(sess, now) || sess.clients[azp] == nil {
			return nil
		}
		if (typ == TypeOffline) != sess.offline {
			return nil
		}
		u = sess.user
	} else {
		sub, _ := claims["sub"].(string)
		u = r.usersByID[sub]
	}
	if u == nil || !u.enabled {
		return nil
	}
	out := make(map[string]any, len(claims)+8)
	copyInto(out, claims)
	// Mappers with "Add to token introspection" on (the default) contribute
	// their claims even when the JWT is lightweight.
	for k, v := range r.userClaims(u) {
		if _, has := out[k]; !has {
			out[k] = v
		}
	}
	out["client_id"] = azp
	if un, ok := out["preferred_username"].(string); ok {
		out["username"] = un
	}
	out["token_type"] = typ
	out["active"] = true
	return out
}

// revoke implements TokenRevocationEndpoint for client c.
func (s *Server) revoke(r *realm, c *client, tok string) *OAuthError {
	claims, ok := s.decode(r, tok)
	if !ok {
		return oauthErr(http.StatusOK, "invalid_token", "Invalid token")
	}
	typ, _ := claims["typ"].(string)
	if typ != TypeBearer && typ != TypeRefresh && typ != TypeOffline {
		return oauthErr(http.StatusBadRequest, "unsupported_token_type", "Unsupported token type")
	}
	azp, _ := claims["azp"].(string)
	if azp == "" {
		return oauthErr(http.StatusOK, "invalid_token", "Invalid token")
	}
	if azp != c.cfg.ClientID {
		return oauthErr(http.StatusBadRequest, "invalid_request", "Unmatching clients")
	}
	now := s.clock.Now()
	sid, _ := claims["sid"].(string)
	r.mu.Lock()
	defer r.mu.Unlock()
	var u *user
	if sess := r.sessions[sid]; sess != nil && sess.clients[c.cfg.ClientID] != nil {
		u = sess.user
	} else if sid == "" {
		sub, _ := claims["sub"].(string)
		u = r.usersByID[sub]
	}
	if u == nil {
		return oauthErr(http.StatusOK, "invalid_token", "Invalid token")
	}
	if typ == TypeBearer {
		jti, _ := claims["jti"].(string)
		life := max(claimInt(claims, "exp")-now.Unix()+1, 10)
		r.revoked[jti] = now.Unix() + life
		return nil
	}
	// Refresh/offline: detach this client from every session of the user and
	// drop sessions left without clients (TokenRevocationEndpoint.revokeClient).
	for id, sess := range r.sessions {
		if sess.user != u {
			continue
		}
		delete(sess.clients, c.cfg.ClientID)
		if len(sess.clients) == 0 {
			delete(r.sessions, id)
		}
	}
	return nil
}

// Revoke revokes token as the client it was issued to (like the revocation
// endpoint). An access token's jti is denied at introspection while its JWT
// still verifies; a refresh or offline token detaches the client session. An
// unknown token gives an *OAuthError with Code "invalid_token".
func (s *Server) Revoke(realm, token string) error {
	r, err := s.realm(realm)
	if err != nil {
		return err
	}
	claims, ok := s.decode(r, token)
	if !ok {
		return oauthErr(http.StatusOK, "invalid_token", "Invalid token")
	}
	azp, _ := claims["azp"].(string)
	r.mu.Lock()
	c := r.clients[azp]
	r.mu.Unlock()
	if c == nil {
		return oauthErr(http.StatusOK, "invalid_token", "Invalid token")
	}
	if e := s.revoke(r, c, token); e != nil {
		return e
	}
	return nil
}

// Sessions returns the ids of username's live online sessions (offline
// sessions are listed separately in Keycloak and are not included).
func (s *Server) Sessions(realm, username string) []string {
	r := s.realms[realm]
	if r == nil {
		return nil
	}
	now := s.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for id, sess := range r.sessions {
		if sess.user.username == username && !sess.offline && r.sessionAlive(sess, now) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// SetUserEnabled enables or disables a user; a disabled user's tokens are
// inactive at introspection and their refresh fails.
func (s *Server) SetUserEnabled(realm, username string, enabled bool) error {
	r, err := s.realm(realm)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	u := r.users[username]
	if u == nil {
		return fmt.Errorf("%w: %q", ErrUnknownUser, username)
	}
	u.enabled = enabled
	return nil
}

// SetNotBefore sets the not-before policy of clientID ("" = realm-wide):
// tokens with iat < t are inactive at introspection and cannot be refreshed.
// Like Keycloak it keeps whole seconds.
func (s *Server) SetNotBefore(realm, clientID string, t time.Time) {
	r := s.realms[realm]
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if clientID == "" {
		r.notBefore = t.Unix()
		return
	}
	if c := r.clients[clientID]; c != nil {
		c.notBefore = t.Unix()
	}
}
