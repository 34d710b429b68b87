package revocation

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"time"
)

// MaxAdminBodyBytes bounds an admin API body.
const MaxAdminBodyBytes = 4 << 10

// adminWire is the admin API body. Pointers tell "absent" from "empty".
type adminWire struct {
	SID      *string `json:"sid"`
	Sub      *string `json:"sub"`
	JTI      *string `json:"jti"`
	ClientID *string `json:"client_id"`
	Issuer   *string `json:"issuer"`
	Action   *string `json:"action"`
	At       *string `json:"at"`
}

// ParseAdminEvent parses a POST /v1/revocations body:
//
//	{"sid"|"sub"|"jti"|"client_id": "...", "issuer": "...", "action": "deny"|"watch", "at": "RFC 3339"}
//
// Exactly one key member; action is required; issuer defaults to the issuer
// argument (the store's) and at to now. The JSON is strict: unknown members,
// trailing data and bodies over MaxAdminBodyBytes are refused. Errors are
// *Error of kind ErrAdminEvent. Safe for concurrent use.
func ParseAdminEvent(issuer string, body []byte, now time.Time) (Event, error) {
	bad := func(r Reason, detail string) (Event, error) {
		return Event{}, newErr(ErrAdminEvent, r, detail)
	}
	if len(body) > MaxAdminBodyBytes {
		return bad(ReasonTooLarge, "body too large")
	}
	var w adminWire
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if len(bytes.TrimSpace(body)) == 0 || bytes.TrimSpace(body)[0] != '{' {
		return bad(ReasonMalformed, "body is not a JSON object")
	}
	if err := dec.Decode(&w); err != nil {
		return bad(ReasonMalformed, "body is not a valid event object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bad(ReasonMalformed, "trailing data after the object")
	}
	e := Event{Issuer: issuer, At: now, Source: SourceAdmin}
	n := 0
	for _, f := range []struct {
		v    *string
		kind KeyKind
	}{{w.SID, KindSession}, {w.Sub, KindSubject}, {w.JTI, KindToken}, {w.ClientID, KindClient}} {
		if f.v != nil {
			n++
			e.Kind, e.Value = f.kind, *f.v
		}
	}
	if n != 1 {
		return bad(ReasonKey, "exactly one of sid, sub, jti, client_id is required")
	}
	if e.Value == "" || len(e.Value) > MaxValueBytes {
		return bad(ReasonKey, "key value empty or too long")
	}
	if w.Action == nil {
		return bad(ReasonValue, "action is required")
	}
	switch a := Action(*w.Action); a {
	case ActionDeny, ActionWatch:
		e.Action = a
	default:
		return bad(ReasonValue, `action must be "deny" or "watch"`)
	}
	if w.Issuer != nil {
		e.Issuer = *w.Issuer
	}
	if e.Issuer == "" || len(e.Issuer) > MaxValueBytes {
		return bad(ReasonValue, "issuer missing or too long")
	}
	if w.At != nil {
		t, err := time.Parse(time.RFC3339, *w.At)
		if err != nil {
			return bad(ReasonValue, "at is not an RFC 3339 time")
		}
		e.At = t
	}
	if e.At.IsZero() {
		return bad(ReasonValue, "at is required")
	}
	return e, nil
}

// LearnedInactive is the event for a token the IdP called inactive (e.g.
// introspection active:false for a token that verifies locally, such as a
// revoked access token: Keycloak keeps revoked jtis only for the IdP's own
// checks). It denies that jti from now on.
func LearnedInactive(issuer, jti string, now time.Time) Event {
	return Event{Issuer: issuer, Kind: KindToken, Value: jti, Action: ActionDeny, At: now, Source: SourceLearned}
}
