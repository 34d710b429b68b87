package introspection

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/numericdate"
)

// Response is the IdP's RFC 7662 §2.2 answer with Keycloak's additional
// members. A Response is shared between callers and the cache: treat it as
// read-only.
//
// Active is true only when the "active" member is the JSON boolean true. An
// inactive Response carries nothing but Active and Raw. Nothing here has been
// checked against any policy: an active answer may still be expired by the
// caller's clock, have the wrong issuer or audience, or be a refresh token.
type Response struct {
	Active    bool
	Scope     string
	ClientID  string
	Username  string
	TokenType string
	// TokenUse is Ory Hydra's token kind ("access_token", "refresh_token").
	TokenUse string
	// Exp, Iat and Nbf are NumericDates (RFC 7519 §2); nil when absent.
	Exp, Iat, Nbf *time.Time
	Sub           string
	// Aud is the "aud" member, a string or an array of strings in JSON.
	Aud []string
	Iss string
	Jti string
	// Keycloak members.
	Typ               string
	Azp               string
	Sid               string
	PreferredUsername string
	RealmAccess       Access
	ResourceAccess    map[string]Access
	// Cnf is the confirmation member (RFC 7800), a JSON object, kept raw.
	Cnf json.RawMessage
	// Raw is the whole response body, including unknown members.
	Raw json.RawMessage
}

// Access is Keycloak's realm_access / resource_access[client] object.
type Access struct {
	Roles []string `json:"roles"`
}

var jsonTrue = []byte("true")

// decodeResponse parses an RFC 7662 response body. It never panics. The
// error wraps ErrMalformedResponse.
func decodeResponse(body []byte) (*Response, error) {
	members, err := topLevelMembers(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedResponse, err)
	}
	r := &Response{Raw: body}
	// RFC 7662 §2.2: active is a boolean; anything but the JSON literal true
	// is no affirmation that the token is active.
	if !bytes.Equal(members["active"], jsonTrue) {
		return r, nil
	}
	r.Active = true
	d := memberDecoder{m: members}
	d.str("scope", &r.Scope)
	d.str("client_id", &r.ClientID)
	d.str("username", &r.Username)
	d.str("token_type", &r.TokenType)
	d.date("exp", &r.Exp)
	d.date("iat", &r.Iat)
	d.date("nbf", &r.Nbf)
	d.str("sub", &r.Sub)
	d.aud(&r.Aud)
	d.str("iss", &r.Iss)
	d.str("jti", &r.Jti)
	d.str("typ", &r.Typ)
	d.str("azp", &r.Azp)
	d.str("sid", &r.Sid)
	d.str("preferred_username", &r.PreferredUsername)
	d.object("realm_access", &r.RealmAccess)
	d.object("resource_access", &r.ResourceAccess)
	// Ory Hydra's token kind ("access_token", "refresh_token"); not an RFC
	// 7662 member, so a non-string value is ignored rather than refused.
	if raw, ok := members["token_use"]; ok {
		_ = json.Unmarshal(raw, &r.TokenUse)
	}
	if raw, ok := members["cnf"]; ok && !isNull(raw) {
		if raw[0] != '{' {
			d.fail("cnf", "not an object")
		} else {
			r.Cnf = raw
		}
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedResponse, d.err)
	}
	return r, nil
}

// topLevelMembers splits a JSON object into its members, refusing anything
// that is not exactly one object and any duplicate member name: with
// duplicates, parsers disagree on which value wins, and "active" must mean
// one thing.
func topLevelMembers(body []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return nil, errors.New("not JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	members := make(map[string]json.RawMessage, 16)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errors.New("not JSON")
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errors.New("not JSON")
		}
		if _, dup := members[name]; dup {
			return nil, fmt.Errorf("duplicate member %.40q", name)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, errors.New("not JSON")
		}
		members[name] = raw
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, errors.New("not JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return members, nil
}

// memberDecoder decodes typed members and keeps the first error.
type memberDecoder struct {
	m   map[string]json.RawMessage
	err error
}

func (d *memberDecoder) fail(name, why string) {
	if d.err == nil {
		d.err = fmt.Errorf("member %s: %s", name, why)
	}
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// get returns the member's raw value, treating null as absent.
func (d *memberDecoder) get(name string) (json.RawMessage, bool) {
	raw, ok := d.m[name]
	if !ok || isNull(raw) {
		return nil, false
	}
	return raw, true
}

func (d *memberDecoder) str(name string, dst *string) {
	raw, ok := d.get(name)
	if !ok {
		return
	}
	if raw[0] != '"' || json.Unmarshal(raw, dst) != nil {
		d.fail(name, "not a string")
	}
}

// date decodes a NumericDate: a JSON number of seconds, possibly fractional
// (RFC 7519 §2). Strings are not NumericDates.
func (d *memberDecoder) date(name string, dst **time.Time) {
	raw, ok := d.get(name)
	if !ok {
		return
	}
	t, ok := numericdate.Parse(raw)
	if !ok {
		d.fail(name, "not a NumericDate")
		return
	}
	*dst = &t
}

func (d *memberDecoder) aud(dst *[]string) {
	raw, ok := d.get("aud")
	if !ok {
		return
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			*dst = []string{s}
			return
		}
	case '[':
		var ss []string
		if json.Unmarshal(raw, &ss) == nil {
			*dst = ss
			return
		}
	}
	d.fail("aud", "not a string or an array of strings")
}

func (d *memberDecoder) object(name string, dst any) {
	raw, ok := d.get(name)
	if !ok {
		return
	}
	if raw[0] != '{' || json.Unmarshal(raw, dst) != nil {
		d.fail(name, "not an object of the expected shape")
	}
}
