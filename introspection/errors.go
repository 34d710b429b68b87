package introspection

import (
	"errors"
	"fmt"
)

// ErrUnavailable is every failure that is not the token's fault: transport
// errors, timeouts, 5xx, 429, 401/403 (the IdP rejected our own
// credentials), non-JSON or oversized bodies, an open breaker, an exhausted
// budget, a cancelled wait. Callers must treat it as "no answer", never as an
// inactive token.
var ErrUnavailable = errors.New("introspection unavailable")

var (
	// ErrBreakerOpen: the circuit breaker is open; no request was sent.
	// errors.Is(ErrBreakerOpen, ErrUnavailable) holds.
	ErrBreakerOpen = fmt.Errorf("%w: circuit breaker open", ErrUnavailable)
	// ErrBudget: the rate budget is exhausted; no request was sent.
	// errors.Is(ErrBudget, ErrUnavailable) holds.
	ErrBudget = fmt.Errorf("%w: request budget exhausted", ErrUnavailable)
	// ErrMalformedResponse: the IdP answered 200 with a body that is not a
	// well-formed RFC 7662 response (not JSON, not an object, duplicate
	// members, ill-typed members of an active answer, oversized).
	// errors.Is(ErrMalformedResponse, ErrUnavailable) holds.
	ErrMalformedResponse = fmt.Errorf("%w: malformed introspection response", ErrUnavailable)
	// ErrClosed: Introspect was called after Close.
	// errors.Is(ErrClosed, ErrUnavailable) holds.
	ErrClosed = fmt.Errorf("%w: client closed", ErrUnavailable)
)

// ErrNoToken is returned for an empty token; nothing is sent. It is the
// caller's fault, so it does not match ErrUnavailable.
var ErrNoToken = errors.New("introspection: empty token")

// ErrConfig reports an invalid Config from New.
var ErrConfig = errors.New("introspection: invalid config")

// StatusError is the cause wrapped in ErrUnavailable when the IdP answers
// with a status other than 200. The body is never decoded as an answer.
type StatusError struct {
	StatusCode int
	// OAuthError is the "error" member of a JSON error body, if any
	// (truncated; e.g. "invalid_request"). The description is not kept.
	OAuthError string
}

func (e *StatusError) Error() string {
	if e.OAuthError != "" {
		return fmt.Sprintf("IdP answered HTTP %d (%s)", e.StatusCode, e.OAuthError)
	}
	return fmt.Sprintf("IdP answered HTTP %d", e.StatusCode)
}
