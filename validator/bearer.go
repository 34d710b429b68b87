package validator

import (
	"errors"
	"net/http"
	"strings"
)

// The errors of BearerToken. WriteError maps them: ErrNoToken to 401 without
// an error code (RFC 6750 §3.1), the others to 400 invalid_request.
var (
	// ErrNoToken: the request carries no Bearer credentials: no
	// Authorization header, an empty one, or another scheme (RFC 6750 §3.1
	// treats an unsupported authentication method like missing credentials).
	ErrNoToken = errors.New("no bearer token")
	// ErrMalformedAuthorization: the Authorization header names the Bearer
	// scheme but its credentials are not one b64token (RFC 6750 §2.1).
	ErrMalformedAuthorization error = &requestError{status: http.StatusBadRequest, desc: "malformed Authorization header"}
	// ErrMultipleAuthorization: more than one Authorization header field.
	// Proxies and servers may pick different ones, so we pick none.
	ErrMultipleAuthorization error = &requestError{status: http.StatusBadRequest, desc: "multiple Authorization headers"}
)

// BearerToken extracts the bearer token from h per RFC 6750 §2.1: the scheme
// "Bearer" (case-insensitive, RFC 7235 §2.1), one or more spaces or tabs, then
// a b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
//
// It returns ErrNoToken, ErrMalformedAuthorization or
// ErrMultipleAuthorization. A returned token is never empty and never
// contains whitespace, commas or quotes. Errors never contain the header value.
// Safe for concurrent use.
func BearerToken(h http.Header) (string, error) {
	vals := h.Values("Authorization")
	switch len(vals) {
	case 0:
		return "", ErrNoToken
	case 1:
	default:
		return "", ErrMultipleAuthorization
	}
	// net/http already trims optional whitespace around field values, but a
	// header built by hand may carry it; it is never part of the token.
	v := strings.Trim(vals[0], " \t")
	if v == "" {
		return "", ErrNoToken
	}
	i := strings.IndexAny(v, " \t")
	if i < 0 {
		if strings.EqualFold(v, "Bearer") {
			return "", ErrMalformedAuthorization // the scheme and nothing else
		}
		return "", ErrNoToken
	}
	if !strings.EqualFold(v[:i], "Bearer") {
		return "", ErrNoToken
	}
	tok := strings.TrimLeft(v[i+1:], " \t")
	if !IsB64Token(tok) {
		return "", ErrMalformedAuthorization
	}
	return tok, nil
}

// IsB64Token reports whether s matches RFC 6750 §2.1's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func IsB64Token(s string) bool {
	i := 0
	for i < len(s) && isB64TokenChar(s[i]) {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

func isB64TokenChar(c byte) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', '+', '/':
		return true
	}
	return false
}
