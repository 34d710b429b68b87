package revocation

import (
	"context"
	"time"
)

// Action says what a revocation entry does to the tokens it applies to.
type Action string

// The actions.
const (
	// ActionDeny refuses the token outright.
	ActionDeny Action = "deny"
	// ActionWatch does not refuse the token but tells the caller that local
	// verification is not enough for it (the tiered strategy introspects it).
	ActionWatch Action = "watch"
)

// KeyKind names the token fact an entry is keyed by.
type KeyKind string

// The key kinds. Their string values are also the Verdict reasons.
const (
	KindSession   KeyKind = "sid"       // OIDC session id (sid claim)
	KindSubject   KeyKind = "sub"       // subject (sub claim)
	KindToken     KeyKind = "jti"       // one token (jti claim)
	KindClient    KeyKind = "client_id" // every token of a client (client_id or azp)
	KindNotBefore KeyKind = "not_before"
)

// Sources of events: the bounded values of the "source" metric label.
const (
	SourceBackchannelLogout = "backchannel_logout" // OIDC Back-Channel Logout token
	SourceNotBeforePush     = "not_before_push"    // Keycloak PUSH_NOT_BEFORE admin action
	SourceAdmin             = "admin"              // tokenwarden's own admin API
	SourceLearned           = "learned"            // learned from the IdP, e.g. introspection active:false
)

// ReasonRestart is the Verdict reason for a token that is only watched
// because it was issued before the store started (see Config.RestartWindow).
const ReasonRestart = "restart"

// Event is one thing the IdP (or an operator) told us. Events are per issuer.
type Event struct {
	Issuer string
	Kind   KeyKind
	// Value is the sid, sub, jti or client id. For KindNotBefore it is the
	// client id, or "" for a realm-wide not-before.
	Value  string
	Action Action
	// At is the time of the event. Tokens with iat < At are affected; a token
	// with iat == At is not, as in Keycloak's not-before rule (a token issued
	// in the same second as a "Set to now" stays valid). KindToken entries
	// apply whatever the token's iat.
	At time.Time
	// Source is one of the Source* constants.
	Source string
}

// TokenFacts are the claims of a verified token that entries are looked up
// by. Empty fields are not looked up. A zero IssuedAt is "issued before
// everything", so a token without iat is affected by every entry of its keys
// (fail closed).
type TokenFacts struct {
	Issuer    string
	Subject   string
	SessionID string
	TokenID   string
	ClientID  string // client_id claim, or azp when the token has none
	IssuedAt  time.Time
}

// Verdict is the answer of Store.Check. The zero Verdict means "nothing
// known against this token".
type Verdict struct {
	Denied bool
	Watch  bool
	// Reason is the kind of the entry that decided ("sid", "sub", "jti",
	// "client_id", "not_before") or ReasonRestart. Bounded: safe as a label.
	Reason string
	// Source is the Source* of the deciding entry ("" for the restart window).
	Source string
	// At is the event time of the deciding entry: for a watch, the latest
	// applicable event (an IdP answer fetched before it says nothing about
	// it); for the restart window, the store's start.
	At time.Time
	// RestartWindow is set when the token was issued before the store
	// started and the restart window is still open: what happened while we
	// were down is unknown.
	RestartWindow bool
}

// Store remembers revocation events and answers whether a verified token is
// denied or watched. It is the seam for a store shared by several replicas;
// Memory is the in-process implementation. Implementations must be safe for
// concurrent use.
type Store interface {
	// Add records an event. It returns ErrFull rather than drop a deny entry,
	// and ErrInvalidEvent for an event that is not well formed.
	Add(ctx context.Context, e Event) error
	// Check looks the token's facts up. It is called on every request,
	// including verified-claims cache hits, so it must be O(1) and must not
	// allocate when nothing applies.
	Check(t TokenFacts) Verdict
	// List returns the live entries (for GET /v1/revocations).
	List() []Entry
	// Len is the number of live entries.
	Len() int
}

// Entry is a stored event and the time it is forgotten.
type Entry struct {
	Event
	Expires time.Time
	// Fingerprint is tokenhash.Fingerprint(Value): what logs show. Value
	// itself is an identifier of a person or session; callers that expose
	// List should prefer the fingerprint.
	Fingerprint string
}
