package introspection

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/tokenwarden/tokenwarden/internal/metricnames"
)

// The outcome label values of tokenwarden_introspection_requests_total.
const (
	OutcomeActive      = "active"
	OutcomeInactive    = "inactive"
	OutcomeError       = "error"
	OutcomeBreakerOpen = "breaker_open"
	OutcomeBudget      = "budget"
)

// The result label values of tokenwarden_introspection_cache_requests_total.
const (
	CacheHit   = "hit"
	CacheMiss  = "miss"
	CacheStale = "stale" // an entry existed but was too old for maxAge or past its TTL
)

// Metrics holds the introspection metric families. Build it once per
// registry with NewMetrics and share it between the clients of every issuer
// (WithMetrics): registering the families twice on one registry fails.
// Safe for concurrent use.
type Metrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	cache     *prometheus.CounterVec
	coalesced prometheus.Counter
	breaker   *prometheus.GaugeVec
}

// NewMetrics creates the families and registers them on reg; a nil reg
// registers nothing (the metrics still count, unexported).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: metricnames.IntrospectionRequestsTotal,
			Help: "Introspection calls by outcome (active|inactive|error) and calls refused without a request (breaker_open|budget).",
		}, []string{"issuer", "outcome"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    metricnames.IntrospectionRequestDuration,
			Help:    "Duration of introspection calls to the IdP, retries included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"issuer"}),
		cache: f.NewCounterVec(prometheus.CounterOpts{
			Name: metricnames.IntrospectionCacheRequestsTotal,
			Help: "Introspection cache lookups by result (hit|miss|stale).",
		}, []string{"result"}),
		coalesced: f.NewCounter(prometheus.CounterOpts{
			Name: metricnames.IntrospectionCoalescedTotal,
			Help: "Introspect calls that joined another caller's in-flight IdP call.",
		}),
		breaker: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: metricnames.IntrospectionBreakerOpen,
			Help: "1 while the issuer's introspection circuit breaker is open or half-open, else 0.",
		}, []string{"issuer"}),
	}
}

// clientMetrics are one client's label-bound children, resolved once so the
// hot path does no label lookups.
type clientMetrics struct {
	active, inactive, failed, breakerOpen, budget prometheus.Counter
	duration                                      prometheus.Observer
	hit, miss, stale                              prometheus.Counter
	coalesced                                     prometheus.Counter
	breaker                                       prometheus.Gauge
}

func (m *Metrics) forIssuer(issuer string) clientMetrics {
	cm := clientMetrics{
		active:      m.requests.WithLabelValues(issuer, OutcomeActive),
		inactive:    m.requests.WithLabelValues(issuer, OutcomeInactive),
		failed:      m.requests.WithLabelValues(issuer, OutcomeError),
		breakerOpen: m.requests.WithLabelValues(issuer, OutcomeBreakerOpen),
		budget:      m.requests.WithLabelValues(issuer, OutcomeBudget),
		duration:    m.duration.WithLabelValues(issuer),
		hit:         m.cache.WithLabelValues(CacheHit),
		miss:        m.cache.WithLabelValues(CacheMiss),
		stale:       m.cache.WithLabelValues(CacheStale),
		coalesced:   m.coalesced,
		breaker:     m.breaker.WithLabelValues(issuer),
	}
	cm.breaker.Set(0)
	return cm
}
