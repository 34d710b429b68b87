package validator

import (
	"errors"
	"net/http"

	"github.com/tokenwarden/tokenwarden/strategy/httpauth"
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

// BearerToken extracts the bearer token from h per RFC 6750 §2.1 (see
// httpauth.BearerToken, which it shares), translated to this package's
// request errors: ErrNoToken, ErrMalformedAuthorization or
// ErrMultipleAuthorization. Safe for concurrent use.
func BearerToken(h http.Header) (string, error) {
	tok, err := httpauth.BearerToken(h)
	switch {
	case err == nil:
		return tok, nil
	case errors.Is(err, httpauth.ErrMultipleAuthorization):
		return "", ErrMultipleAuthorization
	case errors.Is(err, httpauth.ErrMalformedAuthorization):
		return "", ErrMalformedAuthorization
	default:
		return "", ErrNoToken
	}
}

// IsB64Token reports whether s matches RFC 6750 §2.1's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func IsB64Token(s string) bool { return httpauth.IsB64Token(s) }
