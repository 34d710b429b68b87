package strategy

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/numericdate"
)

// header is the JOSE header of a compact JWS (RFC 7515 §4.1). Members that
// name keys (jku, x5u, jwk, x5c) are decoded only to refuse them.
type header struct {
	Alg  string          `json:"alg"`
	KID  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
	JKU  json.RawMessage `json:"jku"`
	X5U  json.RawMessage `json:"x5u"`
	JWK  json.RawMessage `json:"jwk"`
	X5C  json.RawMessage `json:"x5c"`
	B64  json.RawMessage `json:"b64"`
	Enc  json.RawMessage `json:"enc"`
}

// wireClaims is the payload as decoded; dates stay raw so that a malformed
// one is reported with its own reason code.
type wireClaims struct {
	Iss            string                     `json:"iss"`
	Sub            string                     `json:"sub"`
	Aud            json.RawMessage            `json:"aud"`
	Exp            json.RawMessage            `json:"exp"`
	Nbf            json.RawMessage            `json:"nbf"`
	Iat            json.RawMessage            `json:"iat"`
	Jti            string                     `json:"jti"`
	Typ            string                     `json:"typ"`
	Azp            string                     `json:"azp"`
	ClientID       string                     `json:"client_id"`
	Sid            string                     `json:"sid"`
	Scope          json.RawMessage            `json:"scope"`
	Scp            json.RawMessage            `json:"scp"`
	RealmAccess    *rolesClaim                `json:"realm_access"`
	ResourceAccess map[string]json.RawMessage `json:"resource_access"`
	Cnf            json.RawMessage            `json:"cnf"`
}

type rolesClaim struct {
	Roles []string `json:"roles"`
}

// Claims are the verified facts about a token that decisions are made from.
// A Claims value is immutable once built and may be shared between
// goroutines through the verified-claims cache.
type Claims struct {
	Issuer      string
	Subject     string
	Audience    []string
	ClientID    string // azp, else client_id
	SessionID   string
	TokenID     string
	Type        string // payload typ (Keycloak: Bearer)
	Scopes      []string
	RealmRoles  []string
	ClientRoles map[string][]string
	ExpiresAt   time.Time
	NotBefore   time.Time // zero when absent
	IssuedAt    time.Time
	Bound       bool // carries a cnf confirmation of a key (jkt, x5t#S256)
	Raw         json.RawMessage
}

var errNumericDate = errors.New("not a valid NumericDate")

// parseNumericDate parses a NumericDate (RFC 7519 §2) per numericdate.Parse.
func parseNumericDate(raw json.RawMessage) (time.Time, error) {
	t, ok := numericdate.Parse(raw)
	if !ok {
		return time.Time{}, errNumericDate
	}
	return t, nil
}

// stringOrArray decodes a claim that is a string or an array of strings
// (aud, RFC 7519 §4.1.3).
func stringOrArray(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
	var a []string
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, err
	}
	return a, nil
}

// scopesOf returns scopes from "scope" (space-separated string, RFC 8693
// §4.2) or "scp" (an array, or a space-separated string as some issuers do).
func scopesOf(scope, scp json.RawMessage) ([]string, error) {
	for _, raw := range []json.RawMessage{scope, scp} {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		if raw[0] == '"' {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, err
			}
			return strings.Fields(s), nil
		}
		var a []string
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		return a, nil
	}
	return nil, nil
}

// hasBinding reports whether cnf confirms a key the presenter must prove
// possession of: DPoP (jkt, RFC 9449 §6) or mTLS (x5t#S256, RFC 8705 §3.1).
func hasBinding(cnf json.RawMessage) (bool, error) {
	cnf = bytes.TrimSpace(cnf)
	if len(cnf) == 0 || string(cnf) == "null" {
		return false, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(cnf, &m); err != nil {
		return false, err
	}
	_, jkt := m["jkt"]
	_, x5t := m["x5t#S256"]
	_, jwk := m["jwk"]
	return jkt || x5t || jwk, nil
}
