package validator

import (
	"errors"
	"net/url"
	"slices"
	"strings"
)

// escapeValue percent-encodes every byte of s except RFC 3986 §2.3
// unreserved characters (ALPHA / DIGIT / "-" / "." / "_" / "~"), with
// upper-case hex. The result is a safe header value whatever s holds
// (spaces, commas, colons, quotes, CR/LF, UTF-8), and decodes with
// url.PathUnescape (or url.QueryUnescape: no '+' is ever left unencoded).
func escapeValue(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return string(b)
}

func unreserved(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '-' || c == '.' || c == '_' || c == '~'
}

// EncodeRoles renders roles as the X-Auth-Roles header value: a
// comma-separated list (no spaces) of realm roles as "name" and client
// roles as "client:role", where every name is percent-encoded as by
// escapeValue, so that commas, colons, spaces and non-ASCII inside names
// are unambiguous (a literal ':' or ',' in the value is always a
// separator). Realm roles come first in their order, then client roles by
// client name; empty names are left out. DecodeRoles inverts it. For
// example realm roles ["user", "a,b"] and client roles {"my app":
// ["read"]} give "user,a%2Cb,my%20app:read".
func EncodeRoles(realmRoles []string, clientRoles map[string][]string) string {
	var b strings.Builder
	add := func(s string) {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s)
	}
	for _, r := range realmRoles {
		if r != "" {
			add(escapeValue(r))
		}
	}
	clients := make([]string, 0, len(clientRoles))
	for c := range clientRoles {
		if c != "" {
			clients = append(clients, c)
		}
	}
	slices.Sort(clients)
	for _, c := range clients {
		ec := escapeValue(c)
		for _, r := range clientRoles[c] {
			if r != "" {
				add(ec + ":" + escapeValue(r))
			}
		}
	}
	return b.String()
}

// ErrRolesEncoding: a value is not in EncodeRoles' format.
var ErrRolesEncoding = errors.New("malformed roles header")

// DecodeRoles parses an X-Auth-Roles value (EncodeRoles). "" gives no
// roles. clientRoles is nil when there are none. Safe for concurrent use.
func DecodeRoles(v string) (realmRoles []string, clientRoles map[string][]string, err error) {
	if v == "" {
		return nil, nil, nil
	}
	for item := range strings.SplitSeq(v, ",") {
		client, role, isClient := strings.Cut(item, ":")
		if !isClient {
			r, err := unescapeName(item)
			if err != nil {
				return nil, nil, err
			}
			realmRoles = append(realmRoles, r)
			continue
		}
		c, err := unescapeName(client)
		if err != nil {
			return nil, nil, err
		}
		r, err := unescapeName(role)
		if err != nil {
			return nil, nil, err
		}
		if clientRoles == nil {
			clientRoles = map[string][]string{}
		}
		clientRoles[c] = append(clientRoles[c], r)
	}
	return realmRoles, clientRoles, nil
}

func unescapeName(s string) (string, error) {
	if s == "" || strings.ContainsAny(s, ":, +") {
		return "", ErrRolesEncoding
	}
	u, err := url.PathUnescape(s)
	if err != nil {
		return "", ErrRolesEncoding
	}
	return u, nil
}
