package revocation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/internal/numericdate"
)

// BackchannelLogoutEvent is the event type of a logout token (OIDC
// Back-Channel Logout 1.0 §2.4).
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// Defaults of LogoutConfig.
const (
	DefaultLogoutMaxAge    = 2 * time.Minute
	DefaultClockSkew       = 30 * time.Second
	DefaultReplayCacheSize = 10000
	maxClaimBytes          = 256 // jti, sid, sub: Keycloak's are UUIDs
)

// LogoutConfig configures a LogoutValidator. The zero value of every
// duration and size selects its default.
type LogoutConfig struct {
	// Issuers maps each accepted issuer (compared exactly with the token's
	// iss) to its keys. Required.
	Issuers map[string]KeySource
	// Algorithms allowed. Default [RS256]. Never none or HS*.
	Algorithms []string
	// Audiences: the token's aud must contain one of them (our client id at
	// the IdP; Keycloak sets aud to the client the logout is for). Required.
	Audiences []string
	// MaxAge: tokens whose iat is older are refused. Default 2m (Keycloak
	// sets exp = iat+120s).
	MaxAge time.Duration
	// ClockSkew tolerated on iat and exp. Default 30s.
	ClockSkew time.Duration
	// ReplayCacheSize bounds the (iss, jti) pairs remembered. Default 10000.
	ReplayCacheSize int
	// MaxTokenBytes bounds the token. Default 16 KiB.
	MaxTokenBytes int
}

// LogoutClaims are the verified claims of a logout token.
type LogoutClaims struct {
	Issuer    string
	Audience  []string
	IssuedAt  time.Time
	Expiry    time.Time // zero when the token has no exp
	TokenID   string
	Subject   string // may be empty when SessionID is set
	SessionID string // may be empty when Subject is set
	// RevokeOfflineAccess is Keycloak's extension claim: offline sessions of
	// the user are revoked as well.
	RevokeOfflineAccess bool
	// ReceivedAt is the validator's clock when the token was accepted.
	ReceivedAt time.Time
}

// LogoutValidator validates OIDC back-channel logout tokens (§2.6) and turns
// them into events. Safe for concurrent use. It starts no goroutine.
//
// Security caveats: a logout token is only as trustworthy as the issuer's
// keys; configure Audiences narrowly (our own client id), or any client's
// logout token of the realm is accepted.
type LogoutValidator struct {
	cfg       LogoutConfig
	issuers   map[string]KeySource
	verifiers map[string]jws.Verifier
	audiences map[string]bool
	clk       clock.Clock
	replay    *replayCache
}

// NewLogoutValidator validates cfg. It does no I/O.
func NewLogoutValidator(cfg LogoutConfig, opts ...Option) (*LogoutValidator, error) {
	bad := func(format string, a ...any) (*LogoutValidator, error) {
		return nil, fmt.Errorf("%w: logout: %s", ErrInvalidConfig, fmt.Sprintf(format, a...))
	}
	if len(cfg.Issuers) == 0 {
		return bad("at least one issuer is required")
	}
	for iss, ks := range cfg.Issuers {
		if iss == "" || ks == nil {
			return bad("issuer %q has no key source", iss)
		}
	}
	if len(cfg.Audiences) == 0 {
		return bad("at least one audience is required")
	}
	switch {
	case cfg.MaxAge < 0 || cfg.MaxAge > 24*time.Hour:
		return bad("max_age out of range [0, 24h]")
	case cfg.ClockSkew < 0 || cfg.ClockSkew > 5*time.Minute:
		return bad("clock_skew out of range [0, 5m]")
	case cfg.ReplayCacheSize < 0 || cfg.MaxTokenBytes < 0:
		return bad("sizes must not be negative")
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = DefaultLogoutMaxAge
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = DefaultClockSkew
	}
	if cfg.ReplayCacheSize == 0 {
		cfg.ReplayCacheSize = DefaultReplayCacheSize
	}
	if cfg.MaxTokenBytes == 0 {
		cfg.MaxTokenBytes = DefaultMaxTokenBytes
	}
	verifiers, err := verifiersFor(cfg.Algorithms)
	if err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	v := &LogoutValidator{
		cfg:       cfg,
		issuers:   make(map[string]KeySource, len(cfg.Issuers)),
		verifiers: verifiers,
		audiences: make(map[string]bool, len(cfg.Audiences)),
		clk:       o.clock,
		replay:    newReplayCache(cfg.ReplayCacheSize),
	}
	for iss, ks := range cfg.Issuers {
		v.issuers[iss] = ks
	}
	for _, a := range cfg.Audiences {
		if a == "" {
			return bad("empty audience")
		}
		v.audiences[a] = true
	}
	return v, nil
}

// logoutWire is the payload as sent; raw members are type-checked by hand.
type logoutWire struct {
	Iss    *string         `json:"iss"`
	Aud    json.RawMessage `json:"aud"`
	Iat    json.RawMessage `json:"iat"`
	Exp    json.RawMessage `json:"exp"`
	JTI    *string         `json:"jti"`
	Sub    *string         `json:"sub"`
	Sid    *string         `json:"sid"`
	Nonce  json.RawMessage `json:"nonce"`
	Events json.RawMessage `json:"events"`
	Typ    *string         `json:"typ"`
	// Keycloak's extension; ignored unless a boolean.
	RevokeOffline json.RawMessage `json:"revoke_offline_access"`
}

// Validate implements OIDC Back-Channel Logout 1.0 §2.6 for one logout
// token. Errors are *Error of kind ErrLogoutToken (the handler answers 400),
// or of kind ErrKeysUnavailable when the issuer's keys could not be obtained
// (503). A token is accepted at most once per (iss, jti).
func (v *LogoutValidator) Validate(ctx context.Context, logoutToken string) (*LogoutClaims, error) {
	c, err := parseCompact(ErrLogoutToken, logoutToken, v.cfg.MaxTokenBytes, v.verifiers)
	if err != nil {
		return nil, err
	}
	// §2.4: typ logout+jwt is recommended; when a typ is present it must say
	// so, which keeps ID and access tokens (typ "JWT", "at+jwt") out
	// (RFC 8725 §3.11).
	if t := c.hdr.Typ; t != nil && !isLogoutTyp(*t) {
		return nil, newErr(ErrLogoutToken, ReasonType, "header typ is not logout+jwt")
	}
	var w logoutWire
	if err := decodeObject(c.payload, &w); err != nil {
		return nil, newErr(ErrLogoutToken, ReasonMalformed, "claims are not a well-typed JSON object")
	}
	// §2.6 step 3: iss selects the issuer, and only its keys are consulted.
	if w.Iss == nil || *w.Iss == "" {
		return nil, newErr(ErrLogoutToken, ReasonIssuer, "iss missing")
	}
	ks, ok := v.issuers[*w.Iss]
	if !ok {
		return nil, newErr(ErrLogoutToken, ReasonIssuer, "issuer not trusted")
	}
	k, err := ks.Key(ctx, c.hdr.KID, c.hdr.Alg)
	if err != nil {
		return nil, keyError(ErrLogoutToken, err)
	}
	if err := c.verify(ErrLogoutToken, k, v.verifiers); err != nil {
		return nil, err
	}
	// Keycloak puts typ "Logout" in the payload; any other payload typ
	// ("Bearer", "ID", "Refresh") is a token of another kind.
	if w.Typ != nil && *w.Typ != "Logout" {
		return nil, newErr(ErrLogoutToken, ReasonType, "payload typ is not Logout")
	}
	out := &LogoutClaims{Issuer: *w.Iss}
	if out.Audience, ok = audience(w.Aud); !ok {
		return nil, newErr(ErrLogoutToken, ReasonAudience, "aud missing or malformed")
	}
	if !slices.ContainsFunc(out.Audience, func(a string) bool { return v.audiences[a] }) {
		return nil, newErr(ErrLogoutToken, ReasonAudience, "audience not accepted")
	}
	now := v.clk.Now()
	skew := v.cfg.ClockSkew
	if out.IssuedAt, ok = numericdate.Parse(w.Iat); !ok {
		return nil, newErr(ErrLogoutToken, ReasonIssuedAt, "iat missing or malformed")
	}
	if out.IssuedAt.After(now.Add(skew)) {
		return nil, newErr(ErrLogoutToken, ReasonIssuedAt, "iat in the future")
	}
	if now.Sub(out.IssuedAt) > v.cfg.MaxAge+skew {
		return nil, newErr(ErrLogoutToken, ReasonIssuedAt, "token too old")
	}
	if len(w.Exp) != 0 {
		if out.Expiry, ok = numericdate.Parse(w.Exp); !ok {
			return nil, newErr(ErrLogoutToken, ReasonExp, "exp malformed")
		}
		if now.After(out.Expiry.Add(skew)) {
			return nil, newErr(ErrLogoutToken, ReasonExp, "token expired")
		}
	}
	// §2.6 step 4: sub and/or sid.
	if w.Sub != nil {
		out.Subject = *w.Sub
	}
	if w.Sid != nil {
		out.SessionID = *w.Sid
	}
	if out.Subject == "" && out.SessionID == "" {
		return nil, newErr(ErrLogoutToken, ReasonSubject, "neither sub nor sid")
	}
	if len(out.Subject) > maxClaimBytes || len(out.SessionID) > maxClaimBytes {
		return nil, newErr(ErrLogoutToken, ReasonSubject, "sub or sid too long")
	}
	// §2.6 step 5: the back-channel logout event, whose value is a JSON object.
	if !hasLogoutEvent(w.Events) {
		return nil, newErr(ErrLogoutToken, ReasonEvents, "no back-channel logout event")
	}
	// §2.6 step 6: nonce is prohibited (§2.4), so that an ID token can never
	// pass as a logout token.
	if len(w.Nonce) != 0 {
		return nil, newErr(ErrLogoutToken, ReasonNonce, "nonce present")
	}
	if w.JTI == nil || *w.JTI == "" || len(*w.JTI) > maxClaimBytes {
		return nil, newErr(ErrLogoutToken, ReasonJTI, "jti missing or too long")
	}
	out.TokenID = *w.JTI
	if b := bytes.TrimSpace(w.RevokeOffline); string(b) == "true" {
		out.RevokeOfflineAccess = true
	}
	// §2.6 step 7: a jti seen recently is a replay. Recorded last, once the
	// token is known good, so that garbage cannot fill the cache. After
	// iat+MaxAge+skew the iat check refuses the token anyway.
	if !v.replay.add(replayKey{out.Issuer, out.TokenID}, out.IssuedAt.Add(v.cfg.MaxAge+skew), now) {
		return nil, newErr(ErrLogoutToken, ReasonReplay, "logout token already received")
	}
	out.ReceivedAt = now
	return out, nil
}

// Events turns accepted claims into store events, all of source
// backchannel_logout:
//
//   - deny for the session (sid), or for the subject when there is no sid
//     (the user's every session ended);
//   - watch for the subject when sid is present: the user's other sessions
//     may have ended too (Keycloak's "sign out" of one device does not say),
//     so their tokens are checked at the IdP.
//
// At is the later of the time the token was received and its iat plus one
// second. Receipt time (not iat) because tokens issued before the logout
// are the ones to kill and the logout happened no later than receipt; the
// iat bound because access tokens carry the IdP's clock: if ours runs behind
// it, receipt time alone would spare tokens issued just before the logout.
// The extra second covers whole-second iat values: a token issued in the
// logout's second, before it, has iat == the logout token's iat.
func (v *LogoutValidator) Events(c *LogoutClaims) []Event {
	if c == nil {
		return nil
	}
	at := later(c.ReceivedAt, c.IssuedAt.Add(time.Second))
	if c.SessionID == "" {
		return []Event{{Issuer: c.Issuer, Kind: KindSubject, Value: c.Subject, Action: ActionDeny, At: at, Source: SourceBackchannelLogout}}
	}
	out := []Event{{Issuer: c.Issuer, Kind: KindSession, Value: c.SessionID, Action: ActionDeny, At: at, Source: SourceBackchannelLogout}}
	if c.Subject != "" {
		out = append(out, Event{Issuer: c.Issuer, Kind: KindSubject, Value: c.Subject, Action: ActionWatch, At: at, Source: SourceBackchannelLogout})
	}
	return out
}

// isLogoutTyp compares a typ header with logout+jwt as a media type: case
// insensitive, "application/" optional (RFC 7515 §4.1.9).
func isLogoutTyp(t string) bool {
	t = strings.ToLower(t)
	t = strings.TrimPrefix(t, "application/")
	return t == "logout+jwt"
}

// audience parses aud: a string or an array of strings (RFC 7519 §4.1.3).
func audience(raw json.RawMessage) ([]string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, false
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil || s == "" {
			return nil, false
		}
		return []string{s}, true
	}
	var list []string
	if raw[0] != '[' || json.Unmarshal(raw, &list) != nil || len(list) == 0 {
		return nil, false
	}
	return list, true
}

// hasLogoutEvent reports whether events is a JSON object whose
// back-channel logout member is a JSON object (§2.4).
func hasLogoutEvent(raw json.RawMessage) bool {
	var events map[string]json.RawMessage
	if decodeObject(raw, &events) != nil {
		return false
	}
	ev, ok := events[BackchannelLogoutEvent]
	if !ok {
		return false
	}
	var obj map[string]json.RawMessage
	return decodeObject(ev, &obj) == nil
}

type replayKey struct{ iss, jti string }

type replayItem struct {
	k   replayKey
	exp time.Time
}

// replayCache remembers (iss, jti) pairs until they expire, bounded by max.
// Items are queued in arrival order; since every expiry is iat+MaxAge+skew
// and tokens are recent, that is close to expiry order, which is all the
// sweep needs. When full of live items the oldest is forgotten rather than
// a new logout refused: a replayed logout token can only repeat a logout.
type replayCache struct {
	mu    sync.Mutex
	max   int
	seen  map[replayKey]time.Time
	queue []replayItem
	head  int
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, seen: make(map[replayKey]time.Time)}
}

// add records k until exp and reports whether it was new (or expired).
func (r *replayCache) add(k replayKey, exp, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.seen[k]; ok && !now.After(e) {
		return false
	}
	for r.head < len(r.queue) {
		it := r.queue[r.head]
		if !now.After(it.exp) && len(r.seen) < r.max {
			break
		}
		if e, ok := r.seen[it.k]; ok && e.Equal(it.exp) {
			delete(r.seen, it.k)
		}
		r.queue[r.head] = replayItem{}
		r.head++
	}
	if r.head > len(r.queue)/2 {
		r.queue = append(r.queue[:0], r.queue[r.head:]...)
		r.head = 0
	}
	r.seen[k] = exp
	r.queue = append(r.queue, replayItem{k, exp})
	return true
}
