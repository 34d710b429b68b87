package validator

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tokenwarden/tokenwarden/strategy"
)

// DefaultRealm is the realm named in WWW-Authenticate when none is configured.
const DefaultRealm = "tokenwarden"

// ReasonOverloaded is the reason code of a request shed by the in-flight
// guard (see Serve).
const ReasonOverloaded strategy.Reason = "overloaded"

// Errors of the validate API itself (as opposed to the token's verdict).
var (
	// ErrInvalidRequest matches every malformed request: bad Authorization
	// header, bad body, token given twice, unknown strategy. HTTP 400 (or 413
	// or 415 where more precise), error "invalid_request" (RFC 6750 §3.1).
	ErrInvalidRequest = errors.New("invalid request")
	// ErrUnauthorizedCaller: API keys are configured and the caller did not
	// present one of them in X-API-Key. HTTP 401, error "unauthorized_caller".
	ErrUnauthorizedCaller = errors.New("unauthorized caller")
)

// requestError is an invalid_request with its status and a caller-safe
// description. It never holds a token.
type requestError struct {
	status int
	desc   string
}

func (e *requestError) Error() string        { return "invalid request: " + e.desc }
func (e *requestError) Is(target error) bool { return target == ErrInvalidRequest }

func invalidRequest(desc string) error {
	return &requestError{status: http.StatusBadRequest, desc: desc}
}

// ErrorOption adjusts WriteError.
type ErrorOption func(*errorOptions)

type errorOptions struct {
	scopes []string
	// redact is the presented token: a Detail containing it (a strategy
	// bug) is replaced by the generic description.
	redact string
}

// WithScope names the scopes the request required. WriteError puts them in
// the scope attribute of an insufficient_scope challenge and in the body
// (RFC 6750 §3).
func WithScope(scopes ...string) ErrorOption {
	return func(o *errorOptions) { o.scopes = scopes }
}

// WithRedact names the presented token: WriteError then replaces a Detail
// containing it by the generic description, so that even a misbehaving
// strategy cannot echo a token back.
func WithRedact(s string) ErrorOption {
	return func(o *errorOptions) { o.redact = s }
}

// errorBody is the JSON body of every error response. active is always false
// so that a client reading only "active" fails closed.
type errorBody struct {
	Active      bool   `json:"active"`
	Error       string `json:"error,omitempty"`
	Description string `json:"error_description,omitempty"`
	Reason      string `json:"reason,omitempty"`
	Scope       string `json:"scope,omitempty"`
}

// StatusOf returns the HTTP status WriteError uses for err:
//
//	nil                                          200
//	ErrNoToken, ErrUnauthorizedCaller            401
//	ErrInvalidRequest                            400 (413, 415 for body size, type)
//	strategy.ErrForbidden                        403
//	strategy.ErrUnavailable                      503
//	ErrInvalid, ErrInactive, ErrNotApplicable    401
//	anything else                                401 (never 200)
func StatusOf(err error) int {
	if err == nil {
		return http.StatusOK
	}
	var re *requestError
	switch {
	case errors.As(err, &re):
		return re.status
	case errors.Is(err, ErrInvalidRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrNoToken), errors.Is(err, ErrUnauthorizedCaller):
		return http.StatusUnauthorized
	}
	switch strategy.KindOf(err) {
	case strategy.ErrForbidden:
		return http.StatusForbidden
	case strategy.ErrUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusUnauthorized
}

// WriteError writes the one HTTP answer for err, a refusal: the status of
// StatusOf, a JSON body {"active":false, "error", "error_description",
// "reason", "scope"} and, per RFC 6750 §3, a WWW-Authenticate Bearer challenge
// on 400 (invalid_request), 401 and 403 (insufficient_scope). A 503 carries
// Retry-After: the *strategy.Error's RetryAfter rounded up to whole seconds,
// at least 1. Every response is Cache-Control: no-store.
//
// realm "" means DefaultRealm; it must be a valid quoted-string body
// (New checks the configured one). err == nil is treated as an unknown
// error: WriteError never writes a 200. Safe for concurrent use.
func WriteError(w http.ResponseWriter, err error, realm string, opts ...ErrorOption) {
	var o errorOptions
	for _, opt := range opts {
		opt(&o)
	}
	if realm == "" {
		realm = DefaultRealm
	}
	if err == nil {
		err = errors.New("refused without a reason")
	}
	status := StatusOf(err)
	h := w.Header()
	body := errorBody{}
	var challenge []string // auth-params after the realm

	var re *requestError
	switch {
	case errors.Is(err, ErrNoToken):
		// RFC 6750 §3.1: no error code when no credentials were sent.
		challenge = []string{}
	case errors.Is(err, ErrUnauthorizedCaller):
		body.Error = "unauthorized_caller"
		// RFC 7235 §3.1: a 401 must carry a challenge; this one is not
		// Bearer, so a client does not mistake it for a token problem.
		h.Set("WWW-Authenticate", `APIKey realm=`+quote(realm))
	case errors.As(err, &re) || errors.Is(err, ErrInvalidRequest):
		body.Error = "invalid_request"
		body.Description = "invalid request"
		if re != nil {
			body.Description = re.desc
		}
		if status == http.StatusBadRequest {
			challenge = []string{`error="invalid_request"`}
		}
	default:
		kind := strategy.KindOf(err)
		body.Reason = string(strategy.ReasonOf(err))
		body.Description = description(err, kind, o.redact)
		switch kind {
		case strategy.ErrForbidden:
			body.Error = "insufficient_scope"
			challenge = []string{`error="insufficient_scope"`}
			if s := scopeValue(o.scopes); s != "" {
				body.Scope = s
			}
		case strategy.ErrUnavailable:
			body.Error = "temporarily_unavailable"
			h.Set("Retry-After", strconv.FormatInt(retryAfterSeconds(err), 10))
		default:
			body.Error = "invalid_token"
			challenge = []string{`error="invalid_token"`}
		}
	}
	if challenge != nil {
		if body.Description != "" && len(challenge) > 0 {
			challenge = append(challenge, `error_description="`+headerSafe(body.Description, 200)+`"`)
		}
		if body.Scope != "" {
			challenge = append(challenge, `scope="`+headerSafe(body.Scope, 1024)+`"`)
		}
		h.Set("WWW-Authenticate", "Bearer "+strings.Join(append([]string{"realm=" + quote(realm)}, challenge...), ", "))
	}
	writeJSON(w, status, body)
}

// description is the caller-safe text of err: the strategy's Detail, else a
// generic text for its kind.
func description(err error, kind error, redact string) string {
	var se *strategy.Error
	// A Detail that contains the token (a strategy bug) is not shown at all.
	if errors.As(err, &se) && se.Detail != "" && (redact == "" || !strings.Contains(se.Detail, redact)) {
		return se.Detail
	}
	switch kind {
	case strategy.ErrInactive:
		return "the access token is not active"
	case strategy.ErrForbidden:
		return "the access token lacks a required scope or role"
	case strategy.ErrUnavailable:
		return "token validation is temporarily unavailable"
	case strategy.ErrNotApplicable:
		return "the access token cannot be validated"
	}
	return "the access token is invalid"
}

// retryAfterSeconds rounds the advised delay up to whole seconds (RFC 9110
// §10.2.3 delay-seconds), at least 1 and at most a day.
func retryAfterSeconds(err error) int64 {
	var se *strategy.Error
	if !errors.As(err, &se) || se.RetryAfter <= 0 {
		return 1
	}
	if se.RetryAfter >= 24*time.Hour {
		return 86400
	}
	return int64(math.Ceil(se.RetryAfter.Seconds()))
}

// scopeValue joins scopes that are valid scope-tokens (RFC 6749 §3.3).
func scopeValue(scopes []string) string {
	var out []string
	for _, s := range scopes {
		if validScopeToken(s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, " ")
}

// validScopeToken: 1*NQCHAR, NQCHAR = %x21 / %x23-5B / %x5D-7E.
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// headerSafe makes s fit RFC 6750 §3's error-description grammar
// (%x20-21 / %x23-5B / %x5D-7E), which has no quoted-pair: double quotes become
// single quotes, backslashes slashes, anything else outside it '?'. It also bounds the
// length so a long Detail cannot bloat the header.
func headerSafe(s string, max int) string {
	b := make([]byte, 0, min(len(s), max))
	for i := 0; i < len(s) && len(b) < max; i++ {
		c := s[i]
		switch {
		case c == '"':
			c = '\''
		case c == '\\':
			c = '/'
		case c < 0x20 || c > 0x7e:
			c = '?'
		}
		b = append(b, c)
	}
	return string(b)
}

// quote renders a realm as a quoted-string (RFC 9110 §5.6.4).
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// writeJSON writes v with the headers every response of this package carries.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own fixed types are marshalled; this cannot happen, but
		// it must not become a 200 either.
		status, b = http.StatusInternalServerError, []byte(`{"active":false,"error":"server_error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
