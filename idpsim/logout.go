package idpsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// backchannelEvent is the OIDC Back-Channel Logout 1.0 §2.4 event member.
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// Logout ends session sid (online or offline) and, before returning, POSTs a
// back-channel logout token to every client that holds a client session in
// it and has a BackchannelLogoutURL. Delivery failures are logged, not
// returned, as in Keycloak.
func (s *Server) Logout(ctx context.Context, realm, sid string) error {
	r, err := s.realm(realm)
	if err != nil {
		return err
	}
	r.mu.Lock()
	sess := r.sessions[sid]
	if sess == nil {
		r.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownSession, sid)
	}
	delete(r.sessions, sid)
	targets := r.logoutTargets(sess)
	r.mu.Unlock()
	s.deliverLogouts(ctx, r, sess, targets)
	return nil
}

// LogoutUser ends all online sessions of username, like the admin "Sign out"
// action; offline sessions survive, as in Keycloak.
func (s *Server) LogoutUser(ctx context.Context, realm, username string) error {
	r, err := s.realm(realm)
	if err != nil {
		return err
	}
	type job struct {
		sess    *session
		targets []*client
	}
	var jobs []job
	r.mu.Lock()
	if r.users[username] == nil {
		r.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownUser, username)
	}
	for id, sess := range r.sessions {
		if sess.user.username == username && sess.user.serviceFor == "" && !sess.offline {
			delete(r.sessions, id)
			jobs = append(jobs, job{sess, r.logoutTargets(sess)})
		}
	}
	r.mu.Unlock()
	for _, j := range jobs {
		s.deliverLogouts(ctx, r, j.sess, j.targets)
	}
	return nil
}

// logoutTargets lists the clients of sess with a back-channel logout URL.
// Caller holds mu.
func (r *realm) logoutTargets(sess *session) []*client {
	var out []*client
	for id := range sess.clients {
		if c := r.clients[id]; c != nil && c.cfg.BackchannelLogoutURL != "" {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *client) int { return strings.Compare(a.cfg.ClientID, b.cfg.ClientID) })
	return out
}

// deliverLogouts sends one logout token per target concurrently and waits for
// all of them (each bounded by the delivery timeout).
func (s *Server) deliverLogouts(ctx context.Context, r *realm, sess *session, targets []*client) {
	if len(targets) == 0 {
		return
	}
	var wg sync.WaitGroup
	for _, c := range targets {
		tok, err := s.logoutToken(r, c, sess)
		if err != nil {
			s.log.Error("idpsim: logout token", "realm", r.name, "client", c.cfg.ClientID, "err", err)
			continue
		}
		wg.Go(func() {
			form := url.Values{"logout_token": {tok}}.Encode()
			status, err := s.post(ctx, c.cfg.BackchannelLogoutURL, "application/x-www-form-urlencoded", form)
			if err == nil && status != http.StatusOK && status != http.StatusNoContent {
				err = fmt.Errorf("status %d", status)
			}
			if err != nil {
				s.log.Warn("idpsim: back-channel logout failed", "realm", r.name, "client", c.cfg.ClientID, "err", err)
			}
		})
	}
	wg.Wait()
}

// logoutToken builds Keycloak's logout token (TokenManager.initLogoutToken):
// header typ logout+jwt; iss, aud = client id, iat, exp = iat+120, jti, sub,
// sid, typ "Logout", events; never a nonce (OIDC BCL 1.0 §2.4).
func (s *Server) logoutToken(r *realm, c *client, sess *session) (string, error) {
	now := s.clock.Now().Unix()
	r.mu.Lock()
	k := r.active
	r.mu.Unlock()
	claims := map[string]any{
		"iat":    now,
		"exp":    now + 120,
		"jti":    newUUID(),
		"iss":    s.Issuer(r.name),
		"aud":    c.cfg.ClientID,
		"sub":    sess.user.id,
		"typ":    TypeLogout,
		"sid":    sess.id,
		"events": map[string]any{backchannelEvent: map[string]any{}},
	}
	return s.signClaims(k, "logout+jwt", claims)
}

// PushNotBefore POSTs Keycloak's signed PushNotBeforeAction to
// {AdminURL}/k_push_not_before of clientID, or of every client with an
// AdminURL when clientID is "". notBefore is max(realm, client) not-before.
// Unlike back-channel logout, failed deliveries are returned (joined).
func (s *Server) PushNotBefore(ctx context.Context, realm, clientID string) error {
	r, err := s.realm(realm)
	if err != nil {
		return err
	}
	type job struct {
		clientID, url string
		notBefore     int64
	}
	var jobs []job
	r.mu.Lock()
	for id, c := range r.clients {
		if clientID != "" && id != clientID {
			continue
		}
		if c.cfg.AdminURL == "" {
			continue
		}
		jobs = append(jobs, job{id, strings.TrimRight(c.cfg.AdminURL, "/") + "/k_push_not_before", max(r.notBefore, c.notBefore)})
	}
	_, known := r.clients[clientID]
	k := r.active
	r.mu.Unlock()
	if clientID != "" && !known {
		return fmt.Errorf("%w: %q", ErrUnknownClient, clientID)
	}
	if clientID != "" && len(jobs) == 0 {
		return fmt.Errorf("idpsim: client %q has no admin URL", clientID)
	}
	var errs []error
	for _, j := range jobs {
		action := map[string]any{
			"id":         newUUID(),
			"expiration": s.clock.Now().Unix() + 30,
			"resource":   j.clientID,
			"action":     "PUSH_NOT_BEFORE",
			"notBefore":  j.notBefore,
		}
		tok, err := s.signClaims(k, "JWT", action)
		if err != nil {
			return err
		}
		// Keycloak's HttpClientProvider.postText: the JWS is the text/plain body.
		status, err := s.post(ctx, j.url, "text/plain", tok)
		if err == nil && status != http.StatusOK && status != http.StatusNoContent {
			err = fmt.Errorf("status %d", status)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("idpsim: push not-before to %s: %w", j.clientID, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Server) post(ctx context.Context, target, contentType, body string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.delivery)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := s.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	return resp.StatusCode, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"unknown_error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
