// Package httpauth is net/http middleware that protects handlers with a
// tokenwarden strategy.Strategy, for services that embed tokenwarden as a
// library instead of calling its HTTP API. It imports only package strategy
// and the standard library.
//
// The token is read from the Authorization header with the Bearer scheme
// (RFC 6750 §2.1; the form body and query parameter methods of §2.2 and
// §2.3 are not supported: they leak tokens into logs and caches). Refusals
// follow RFC 6750 §3 and §3.1, the same mapping as tokenwarden's HTTP API:
//
//	no Bearer credentials                401, WWW-Authenticate: Bearer realm="…" (no error code)
//	malformed Authorization              400, error="invalid_request"
//	strategy.ErrInvalid/Inactive/NotApp. 401, error="invalid_token"
//	strategy.ErrForbidden                403, error="insufficient_scope", scope="…"
//	strategy.ErrUnavailable              503, Retry-After (never a 401: an outage is not a bad token)
//	anything else                        401, error="invalid_token" (never passes)
//
// An accepted request reaches the wrapped handler with the *strategy.Result
// in its context (FromContext).
package httpauth
