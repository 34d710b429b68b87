package strategy

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/tokenwarden/tokenwarden/internal/metricnames"
)

// Metrics holds the decision metric families of the foundation contract.
// Create one per registry with NewMetrics and share it between every
// Instrument wrapper and Verifier. A nil *Metrics records nothing.
type Metrics struct {
	decisions  *prometheus.CounterVec
	rejections *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	triggers   *prometheus.CounterVec
	cache      *prometheus.CounterVec
	cacheHit   prometheus.Counter
	cacheMiss  prometheus.Counter
}

// NewMetrics registers the decision families with reg (nil: unregistered,
// still usable).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		decisions: f.NewCounterVec(prometheus.CounterOpts{
			Name: metricnames.DecisionsTotal,
			Help: "Token decisions by strategy, outcome and the component whose evidence decided.",
		}, []string{"strategy", "outcome", "decided_by"}),
		rejections: f.NewCounterVec(prometheus.CounterOpts{
			Name: metricnames.RejectionsTotal,
			Help: "Refused tokens by strategy and reason code.",
		}, []string{"strategy", "reason"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    metricnames.DecisionDuration,
			Help:    "Time to decide, by strategy and decider.",
			Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"strategy", "decided_by"}),
		triggers: f.NewCounterVec(prometheus.CounterOpts{
			Name: metricnames.IntrospectionTriggersTotal,
			Help: "Why the IdP was asked, per trigger rule (a decision may fire several).",
		}, []string{"trigger"}),
		cache: f.NewCounterVec(prometheus.CounterOpts{
			Name: metricnames.VerifiedCacheRequestsTotal,
			Help: "Verified-claims cache lookups by result (hit|miss).",
		}, []string{"result"}),
	}
	m.cacheHit = m.cache.WithLabelValues("hit")
	m.cacheMiss = m.cache.WithLabelValues("miss")
	return m
}

func (m *Metrics) cacheLookup(hit bool) {
	if m == nil {
		return
	}
	if hit {
		m.cacheHit.Inc()
	} else {
		m.cacheMiss.Inc()
	}
}

// Instrument wraps s so that every decision is recorded under name. Wrap only
// the outermost strategy, so nothing is counted twice.
func Instrument(name string, s Strategy, m *Metrics) Strategy {
	if m == nil {
		return s
	}
	return &instrumented{name: name, next: s, m: m}
}

type instrumented struct {
	name string
	next Strategy
	m    *Metrics
}

func (i *instrumented) Validate(ctx context.Context, req Request) (*Result, error) {
	start := time.Now()
	res, err := i.next.Validate(ctx, req)
	elapsed := time.Since(start).Seconds()
	by := DecidedByLocal
	if res != nil {
		by = res.DecidedBy
		for _, t := range res.Triggers {
			i.m.triggers.WithLabelValues(string(t)).Inc()
		}
	} else if e, ok := err.(*Error); ok {
		if e.DecidedBy != "" {
			by = e.DecidedBy
		}
		for _, t := range e.Triggers {
			i.m.triggers.WithLabelValues(string(t)).Inc()
		}
	}
	outcome := Outcome(err)
	if res != nil && res.Degraded {
		// Accepted on local evidence because the IdP could not be asked.
		outcome = "degraded"
	}
	i.m.decisions.WithLabelValues(i.name, outcome, string(by)).Inc()
	i.m.duration.WithLabelValues(i.name, string(by)).Observe(elapsed)
	if err != nil {
		r := ReasonOf(err)
		if r == "" {
			r = "other"
		}
		i.m.rejections.WithLabelValues(i.name, string(r)).Inc()
	}
	return res, err
}

// TriggerCounter returns the trigger counter for tr (tests, dashboards).
func (m *Metrics) TriggerCounter(tr Trigger) prometheus.Counter {
	return m.triggers.WithLabelValues(string(tr))
}

// DecisionCounter returns the decision counter for the labels (tests).
func (m *Metrics) DecisionCounter(strategy, outcome, decidedBy string) prometheus.Counter {
	return m.decisions.WithLabelValues(strategy, outcome, decidedBy)
}

// WithOnUnavailable forwards a route's fail-mode override to the wrapped
// strategy (when it has a fail mode) and keeps the result instrumented
// under the same name.
func (i *instrumented) WithOnUnavailable(mode string) (Strategy, error) {
	o, ok := i.next.(interface {
		WithOnUnavailable(mode string) (Strategy, error)
	})
	if !ok {
		return nil, fmt.Errorf("strategy %s has no on_unavailable policy to override", i.name)
	}
	s, err := o.WithOnUnavailable(mode)
	if err != nil {
		return nil, err
	}
	return &instrumented{name: i.name, next: s, m: i.m}, nil
}
