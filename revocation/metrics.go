package revocation

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/internal/metricnames"
	"github.com/tokenwarden/tokenwarden/internal/promreg"
)

// metricDroppedTotal counts events and entries the store could not keep.
// TODO(lead): move into internal/metricnames (not this package's file).
const metricDroppedTotal = metricnames.RevocationDroppedTotal

// Metrics holds the revocation metric families. One Metrics may be shared by
// every store on a registry (one store per issuer): the entries gauge is then
// the total. Safe for concurrent use.
type Metrics struct {
	events  *prometheus.CounterVec // source, action
	entries prometheus.Gauge
	dropped *prometheus.CounterVec // action, cause (evicted|full)
}

// NewMetrics creates the families and registers them with reg (nil: not
// registered). Families already registered by an earlier NewMetrics on the
// same registry are reused, so calling it once per store is also correct. It
// panics, like promauto, if reg holds a different family of the same name.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricnames.RevocationEventsTotal,
			Help: "Revocation events recorded, by source and action.",
		}, []string{"source", "action"}),
		entries: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: metricnames.RevocationEntries,
			Help: "Revocation entries held (deny and watch).",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricDroppedTotal,
			Help: "Revocation entries evicted (watch only) or events refused because the store was full.",
		}, []string{"action", "cause"}),
	}
	if reg == nil {
		return m
	}
	m.events = promreg.Register(reg, m.events)
	m.entries = promreg.Register(reg, m.entries)
	m.dropped = promreg.Register(reg, m.dropped)
	return m
}

// Option configures collaborators and test seams.
type Option func(*options)

type options struct {
	clock   clock.Clock
	log     *slog.Logger
	reg     prometheus.Registerer
	metrics *Metrics
}

// WithClock sets the clock for expiry, iat/exp checks and the restart window.
func WithClock(c clock.Clock) Option { return func(o *options) { o.clock = c } }

// WithLogger sets the logger. Default slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithRegisterer registers the store's metrics with reg (nil: none).
func WithRegisterer(reg prometheus.Registerer) Option { return func(o *options) { o.reg = reg } }

// WithMetrics shares one Metrics between stores; it wins over WithRegisterer.
func WithMetrics(m *Metrics) Option { return func(o *options) { o.metrics = m } }

func buildOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	o.clock = clock.OrReal(o.clock)
	if o.log == nil {
		o.log = slog.Default()
	}
	return o
}
