package httpauth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tokenwarden/tokenwarden/strategy"
)

// DefaultRealm is the realm of challenges when WithRealm is not given.
const DefaultRealm = "api"

// Errors of reading the token, passed to the error handler.
var (
	// ErrNoToken: no Authorization header, an empty one, or another scheme.
	ErrNoToken = errors.New("no bearer token")
	// ErrMalformedAuthorization: the Bearer scheme without one b64token, or
	// more than one Authorization header.
	ErrMalformedAuthorization = errors.New("malformed Authorization header")
	// ErrMultipleAuthorization: more than one Authorization header. It also
	// matches ErrMalformedAuthorization.
	ErrMultipleAuthorization = fmt.Errorf("%w: multiple Authorization headers", ErrMalformedAuthorization)
)

// ErrorHandler writes the refusal for err: ErrNoToken,
// ErrMalformedAuthorization, or the strategy's error. It must write a
// response; it must not call the protected handler.
type ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

// Option configures Middleware.
type Option func(*options)

type options struct {
	scopes, roles []string
	sensitive     bool
	realm         string
	onError       ErrorHandler
}

// RequireScopes requires every scope (RFC 6749 §3.3) of each request.
func RequireScopes(scopes ...string) Option {
	return func(o *options) { o.scopes = append(o.scopes, scopes...) }
}

// RequireRoles requires every role: "name" for a Keycloak realm role,
// "client:role" for a client role (see strategy.Request).
func RequireRoles(roles ...string) Option {
	return func(o *options) { o.roles = append(o.roles, roles...) }
}

// Sensitive marks requests sensitive: a tiered strategy then asks the IdP
// whether the token is still active.
func Sensitive() Option { return func(o *options) { o.sensitive = true } }

// WithRealm names the realm of WWW-Authenticate challenges (default "api").
// Printable ASCII without '"' or '\'.
func WithRealm(realm string) Option { return func(o *options) { o.realm = realm } }

// WithErrorHandler replaces the RFC 6750 refusal (WriteError), e.g. to
// render an HTML login redirect. The handler sees the error kind through
// errors.Is; it must never turn an error into a pass.
func WithErrorHandler(h ErrorHandler) Option { return func(o *options) { o.onError = h } }

type ctxKey struct{}

// FromContext returns the Result of the strategy that accepted the request.
// It is shared and immutable: do not modify it.
func FromContext(ctx context.Context) (*strategy.Result, bool) {
	r, ok := ctx.Value(ctxKey{}).(*strategy.Result)
	return r, ok && r != nil
}

// Middleware returns middleware that lets a request through only when s
// accepts its bearer token for the required scopes and roles. The request
// body is never read. It panics on wiring mistakes (nil strategy, a realm
// or scope that cannot be put in a header), never on request input. The
// returned middleware is safe for concurrent use if s is.
func Middleware(s strategy.Strategy, opts ...Option) func(http.Handler) http.Handler {
	if s == nil {
		panic("httpauth: nil strategy")
	}
	o := options{realm: DefaultRealm}
	for _, opt := range opts {
		opt(&o)
	}
	if !quotable(o.realm) {
		panic(fmt.Sprintf("httpauth: realm %q must be printable ASCII without quotes or backslashes", o.realm))
	}
	for _, sc := range o.scopes {
		if !scopeToken(sc) {
			panic(fmt.Sprintf("httpauth: %q is not a scope-token (RFC 6749 §3.3)", sc))
		}
	}
	for _, r := range o.roles {
		if r == "" {
			panic("httpauth: empty role")
		}
	}
	// Strategies get the same slices on every request; clipping makes an
	// append by one of them copy instead of writing into shared memory.
	o.scopes, o.roles = slices.Clip(o.scopes), slices.Clip(o.roles)
	onError := o.onError
	if onError == nil {
		onError = func(w http.ResponseWriter, _ *http.Request, err error) { WriteError(w, err, o.realm, o.scopes...) }
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, err := BearerToken(r.Header)
			if err != nil {
				onError(w, r, err)
				return
			}
			res, err := s.Validate(r.Context(), strategy.Request{Token: tok, Scopes: o.scopes, Roles: o.roles, Sensitive: o.sensitive})
			if err == nil && res == nil {
				err = strategy.NewError(strategy.ErrInvalid, "", "", errors.New("strategy returned neither result nor error"))
			}
			if err != nil {
				onError(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, res)))
		})
	}
}

// StatusOf returns the HTTP status WriteError uses for err (see the package
// documentation). It is never 2xx.
func StatusOf(err error) int {
	switch {
	case errors.Is(err, ErrNoToken):
		return http.StatusUnauthorized
	case errors.Is(err, ErrMalformedAuthorization):
		return http.StatusBadRequest
	}
	switch strategy.KindOf(err) {
	case strategy.ErrForbidden:
		return http.StatusForbidden
	case strategy.ErrUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusUnauthorized
}

// WriteError writes the RFC 6750 refusal for err with a small JSON body
// {"error": "..."}; scopes are named in an insufficient_scope challenge.
// The body and headers never contain the token or the strategy's message.
// Safe for concurrent use.
func WriteError(w http.ResponseWriter, err error, realm string, scopes ...string) {
	if !quotable(realm) {
		realm = DefaultRealm
	}
	status := StatusOf(err)
	h := w.Header()
	challenge := `Bearer realm="` + realm + `"`
	code := ""
	switch status {
	case http.StatusBadRequest:
		code = "invalid_request"
	case http.StatusForbidden:
		code = "insufficient_scope"
	case http.StatusServiceUnavailable:
		code = "temporarily_unavailable"
		h.Set("Retry-After", strconv.FormatInt(retryAfter(err), 10))
	default:
		if !errors.Is(err, ErrNoToken) {
			code = "invalid_token"
		}
	}
	if status != http.StatusServiceUnavailable {
		if code != "" {
			challenge += `, error="` + code + `"`
		}
		var valid []string
		for _, s := range scopes {
			if scopeToken(s) {
				valid = append(valid, s)
			}
		}
		if status == http.StatusForbidden && len(valid) > 0 {
			challenge += `, scope="` + strings.Join(valid, " ") + `"`
		}
		h.Set("WWW-Authenticate", challenge)
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if code == "" {
		code = "unauthorized"
	}
	_, _ = fmt.Fprintf(w, "{\"error\":%q}\n", code)
}

// retryAfter is the advised delay in whole seconds, rounded up, 1..86400.
func retryAfter(err error) int64 {
	var se *strategy.Error
	if !errors.As(err, &se) || se.RetryAfter <= 0 {
		return 1
	}
	if se.RetryAfter >= 24*time.Hour {
		return 86400
	}
	return int64(math.Ceil(se.RetryAfter.Seconds()))
}

// BearerToken reads RFC 6750 §2.1 credentials from h: the scheme "Bearer"
// (case-insensitive, RFC 7235 §2.1), one or more spaces or tabs, then one
// b64token. It returns ErrNoToken (no Authorization header, an empty one, or
// another scheme: RFC 6750 §3.1), ErrMultipleAuthorization, or
// ErrMalformedAuthorization. A returned token is never empty and never
// contains whitespace, commas or quotes; errors never contain the header
// value. Safe for concurrent use.
func BearerToken(h http.Header) (string, error) {
	vals := h.Values("Authorization")
	switch {
	case len(vals) == 0:
		return "", ErrNoToken
	case len(vals) > 1:
		// Proxies and servers may pick different ones, so we pick none.
		return "", ErrMultipleAuthorization
	}
	v := strings.Trim(vals[0], " \t")
	i := strings.IndexAny(v, " \t")
	if i < 0 {
		if strings.EqualFold(v, "Bearer") {
			return "", ErrMalformedAuthorization // the scheme and nothing else
		}
		return "", ErrNoToken // empty, or another scheme (RFC 6750 §3.1)
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

// scopeToken: 1*NQCHAR, NQCHAR = %x21 / %x23-5B / %x5D-7E (RFC 6749 §3.3).
func scopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func quotable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
