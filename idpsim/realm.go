package idpsim

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/tokenwarden/tokenwarden/internal/tokenhash"
)

// realm is the live state of one realm. mu guards everything mutable; signing
// happens outside mu so that concurrent token requests only serialise on map
// updates.
type realm struct {
	name string
	cfg  RealmConfig

	mu        sync.Mutex
	keys      []*sigKey // enabled signing keys, in creation order
	active    *sigKey
	enc       jwk.Key
	hmac      hmacKey
	jwks      []byte // serialized JWKS; nil when keys changed
	clients   map[string]*client
	users     map[string]*user // by username
	usersByID map[string]*user
	sessions  map[string]*session
	notBefore int64                       // realm-wide not-before, Unix seconds
	revoked   map[string]int64            // access token jti -> revoked until (Unix)
	tokens    map[tokenhash.Key]*tokenRec // tokens this realm issued
	lastSweep time.Time
	issued    int
}

type client struct {
	cfg       ClientConfig
	notBefore int64
	sa        *user // service-account user, nil unless ServiceAccounts
	defaults  []string
	optional  []string
}

type user struct {
	id          string
	username    string
	password    string
	email       string
	realmRoles  []string
	clientRoles map[string][]string
	enabled     bool
	serviceFor  string // client id for service-account users
}

// session is a Keycloak user session with its client sessions.
type session struct {
	id          string
	user        *user
	started     time.Time
	lastRefresh time.Time
	offline     bool
	clients     map[string]*clientSession
}

type clientSession struct {
	clientID string
	scope    string
}

// tokenRec remembers an issued token so that introspection of a token we
// minted can skip signature verification (the benchmark runs idpsim in process
// on two cores). It is keyed by the token's SHA-256, never by the raw token.
type tokenRec struct {
	kid string
	exp int64
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func newRealm(rc RealmConfig, now time.Time) (*realm, error) {
	rc = rc.withDefaults()
	r := &realm{
		name:      rc.Name,
		cfg:       rc,
		hmac:      newHMACKey(),
		clients:   map[string]*client{},
		users:     map[string]*user{},
		usersByID: map[string]*user{},
		sessions:  map[string]*session{},
		revoked:   map[string]int64{},
		tokens:    map[tokenhash.Key]*tokenRec{},
		lastSweep: now,
	}
	k, err := newSigKey(rc.SigningAlg, rc.Name, now)
	if err != nil {
		return nil, err
	}
	r.keys = []*sigKey{k}
	r.active = k
	if r.enc, err = newEncKey(rc.Name, now); err != nil {
		return nil, err
	}
	for _, uc := range rc.Users {
		u := &user{
			id:          newUUID(),
			username:    uc.Username,
			password:    uc.Password,
			email:       uc.Email,
			realmRoles:  slices.Clone(uc.RealmRoles),
			clientRoles: cloneRoles(uc.ClientRoles),
			enabled:     uc.Enabled == nil || *uc.Enabled,
		}
		r.users[u.username] = u
		r.usersByID[u.id] = u
	}
	for _, cc := range rc.Clients {
		c := &client{cfg: cc, optional: slices.Clone(cc.OptionalScopes)}
		c.defaults = slices.Clone(cc.DefaultScopes)
		if cc.DefaultScopes == nil {
			c.defaults = []string{"openid", "profile", "email"}
		}
		if cc.ServiceAccounts {
			// Keycloak creates a service-account user named after the client.
			u := &user{
				id:          newUUID(),
				username:    "service-account-" + cc.ClientID,
				realmRoles:  slices.Clone(cc.ServiceAccountRealmRoles),
				clientRoles: cloneRoles(cc.ServiceAccountClientRoles),
				enabled:     true,
				serviceFor:  cc.ClientID,
			}
			c.sa = u
			r.usersByID[u.id] = u
		}
		r.clients[cc.ClientID] = c
	}
	return r, nil
}

func cloneRoles(m map[string][]string) map[string][]string {
	if m == nil {
		return nil
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	return out
}

// keyByKID returns the enabled signing key with that kid. Caller holds mu.
func (r *realm) keyByKID(kid string) *sigKey {
	for _, k := range r.keys {
		if k.kid == kid {
			return k
		}
	}
	return nil
}

// sessionAlive reports whether s is usable at now (idle and max timeouts).
// Caller holds mu.
func (r *realm) sessionAlive(s *session, now time.Time) bool {
	if s == nil {
		return false
	}
	if s.offline {
		return now.Before(s.lastRefresh.Add(offlineSessionIdle))
	}
	if s.user.serviceFor != "" {
		// client_credentials issues no refresh token, so nothing can extend
		// the service-account session beyond its access token (Keycloak keeps
		// it transient); dropping it then bounds memory under load.
		return !now.After(s.started.Add(r.cfg.AccessTokenLifespan))
	}
	return now.Before(s.lastRefresh.Add(r.cfg.SSOSessionIdle)) && now.Before(s.started.Add(r.cfg.SSOSessionMax))
}

// sessionExpiry is when the session's refresh tokens stop working.
func (r *realm) sessionExpiry(s *session) time.Time {
	if s.offline {
		return s.lastRefresh.Add(offlineSessionIdle)
	}
	idle := s.lastRefresh.Add(r.cfg.SSOSessionIdle)
	if hard := s.started.Add(r.cfg.SSOSessionMax); hard.Before(idle) {
		return hard
	}
	return idle
}

// maybeSweep drops expired tokens, revocations and sessions so that a long
// benchmark does not grow without bound. Caller holds mu.
func (r *realm) maybeSweep(now time.Time) {
	r.issued++
	if r.issued%1024 != 0 && now.Sub(r.lastSweep) < time.Minute {
		return
	}
	r.lastSweep = now
	n := now.Unix()
	for k, t := range r.tokens {
		if t.exp != 0 && t.exp < n {
			delete(r.tokens, k)
		}
	}
	for jti, until := range r.revoked {
		if until < n {
			delete(r.revoked, jti)
		}
	}
	for id, s := range r.sessions {
		if !r.sessionAlive(s, now) {
			delete(r.sessions, id)
		}
	}
}
