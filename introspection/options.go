package introspection

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/tokenwarden/tokenwarden/internal/clock"
)

// Option sets a collaborator or test seam of a Client.
type Option func(*options)

type options struct {
	hc           *http.Client
	clock        clock.Clock
	log          *slog.Logger
	metrics      *Metrics
	endpointFunc func(ctx context.Context) (string, error)
}

// WithHTTPClient sets the HTTP client. Its Timeout should be zero (Config.Timeout
// governs); its redirect policy is replaced: redirects are never followed, so
// credentials only go to the configured endpoint. The caller owns its idle
// connections.
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.hc = hc } }

// WithClock sets the clock for cache ages and TTLs, exp, the breaker's open
// timeout, the rate budget and assertion iat/exp (default clock.Real).
// Network timeouts are real time regardless.
func WithClock(c clock.Clock) Option { return func(o *options) { o.clock = c } }

// WithLogger sets the logger (default: discard). Logs carry the token's
// fingerprint, never the token or the secret.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithMetrics records into m, which may be shared by the clients of several
// issuers (default: unregistered metrics).
func WithMetrics(m *Metrics) Option { return func(o *options) { o.metrics = m } }

// WithEndpointFunc resolves the endpoint lazily (e.g. from discovery's
// introspection_endpoint) when Config.Endpoint is empty. It is called for
// every IdP call on the call's context, so it must be cheap (cached by its
// owner) and safe for concurrent use. Its error makes the call ErrUnavailable.
func WithEndpointFunc(f func(ctx context.Context) (string, error)) Option {
	return func(o *options) { o.endpointFunc = f }
}
