package jwks

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokenwarden/tokenwarden/internal/metricnames"
	"github.com/tokenwarden/tokenwarden/internal/promreg"
)

// Fetch causes, the bounded values of the "cause" label.
const (
	causeInitial    = "initial"     // first load (Start or the first Key call)
	causeScheduled  = "scheduled"   // background refresh, or reload of too-stale keys
	causeUnknownKID = "unknown_kid" // forced by a token with an unknown kid
	causeManual     = "manual"      // Refresh
)

// Metrics holds the jwks metric families. One Metrics can (and, with a
// plain prometheus.Registry, should) be shared by every Resolver on a
// registry: the issuer label tells them apart. Safe for concurrent use.
type Metrics struct {
	fetches     *prometheus.CounterVec
	lastSuccess *prometheus.GaugeVec
}

// NewMetrics creates the families and registers them with reg (nil: not
// registered). If reg already holds families of these names and shapes (an
// earlier NewMetrics on the same registry), those are reused, so calling it
// once per resolver is also correct. Registration uses Register rather than
// promauto for exactly that reuse: promauto panics on AlreadyRegisteredError.
// It panics, like promauto, if reg holds a different family of the same name.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricnames.JWKSFetchesTotal,
			Help: "JWKS fetches (including the discovery they need), by issuer, outcome and cause.",
		}, []string{"issuer", "outcome", "cause"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: metricnames.JWKSLastSuccess,
			Help: "Unix time of the last successful JWKS fetch, by issuer.",
		}, []string{"issuer"}),
	}
	if reg == nil {
		return m
	}
	m.fetches = promreg.Register(reg, m.fetches)
	m.lastSuccess = promreg.Register(reg, m.lastSuccess)
	return m
}

// init pre-creates an issuer's series so that dashboards see zeros, not gaps.
func (m *Metrics) init(issuer string) {
	for _, outcome := range []string{"success", "error"} {
		for _, cause := range []string{causeInitial, causeScheduled, causeUnknownKID, causeManual} {
			m.fetches.WithLabelValues(issuer, outcome, cause)
		}
	}
}
