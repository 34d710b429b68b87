package bench

import (
	"time"
)

// StrategyResult is what one strategy's replay measured. Latency, CPU and
// throughput are real time; exposure times are virtual time.
type StrategyResult struct {
	Strategy string `json:"strategy"`
	// Kind is the base strategy (local, local-pure, introspection, tiered).
	Kind string `json:"kind"`
	// Config is a tiered strategy's configuration (Tiered, as text); Grid
	// marks the configurations of the scenario's grid.
	Config      string      `json:"config,omitempty"`
	Grid        bool        `json:"grid,omitempty"`
	Tiered      *TieredSpec `json:"-"`
	Validations int         `json:"validations"`
	// BusySeconds is the real time spent replaying requests (events, key
	// rotations and token minting excluded).
	BusySeconds float64 `json:"busy_seconds"`
	// Throughput is Validations / BusySeconds.
	Throughput float64        `json:"validations_per_second"`
	Latency    LatencySummary `json:"latency"`
	// LatencyQuantiles sample the latency distribution (for its CDF).
	LatencyQuantiles []Quantile `json:"latency_quantiles,omitempty"`
	// CPUPerValidationUS is process CPU time (user+system, every goroutine:
	// the validator, the harness, and the in-process IdP answering it) over
	// the busy periods, per validation; -1 when unknown.
	CPUPerValidationUS float64 `json:"cpu_per_validation_us"`
	// FloorRatioMean and FloorRatioP50 are the mean and median latency as
	// multiples of the crypto floor's.
	FloorRatioMean float64 `json:"floor_ratio_mean"`
	FloorRatioP50  float64 `json:"floor_ratio_p50"`
	IdP            IdPLoad `json:"idp"`
	// Outcomes counts decisions by strategy.Outcome (accepted, invalid,
	// inactive, forbidden, unavailable, not_applicable).
	Outcomes map[string]int `json:"outcomes"`
	// Reasons counts refusals by reason code.
	Reasons map[string]int `json:"reasons"`
	// Triggers counts why the IdP was asked (tiered), over decisions.
	Triggers map[string]int `json:"triggers"`
	// CallsByTrigger counts the introspection calls that reached the IdP
	// (answers neither cached nor shared with a concurrent call), each
	// under the first trigger of its decision in the strategy's order
	// (sensitive_scope, revocation_window, restart_window, token_age,
	// lightweight, sampled); "always" for the introspection strategy,
	// "unattributed" for a tiered decision reported without triggers. Nil
	// when the harness could not attribute calls (--http with concurrency
	// above 1).
	CallsByTrigger map[string]int `json:"idp_calls_by_trigger,omitempty"`
	// Degraded counts acceptances on local evidence because the IdP could
	// not be asked (on_unavailable: local).
	Degraded int      `json:"degraded"`
	Exposure Exposure `json:"exposure"`
	// FalseRefusals are refusals of tokens neither revoked nor expired;
	// FalseRefusalsUnavailable of them were 503 (IdP or keys unavailable).
	FalseRefusals            int `json:"false_refusals"`
	FalseRefusalsUnavailable int `json:"false_refusals_unavailable"`
	// Pushes counts the IdP's back-channel logout and not-before deliveries
	// the resource server accepted or refused.
	Pushes Pushes `json:"pushes"`
	// EventErrors counts IdP events that failed (e.g. a not-before push
	// that was not delivered).
	EventErrors int `json:"event_errors"`
	// MintSeconds is the real time spent issuing this run's tokens (excluded
	// from every other figure).
	MintSeconds float64 `json:"mint_seconds"`
}

// IdPLoad is the load the strategy put on the IdP, counted by idpsim.
type IdPLoad struct {
	Introspections             int64 `json:"introspections"`
	JWKSFetches                int64 `json:"jwks_fetches"`
	DiscoveryFetches           int64 `json:"discovery_fetches"`
	PeakIntrospectionsInFlight int64 `json:"peak_introspections_in_flight"`
	// Per1000 is all IdP calls (introspection, JWKS, discovery) per 1000
	// validations.
	Per1000 float64 `json:"calls_per_1000"`
	// IntrospectionsPer1000 is introspection calls per 1000 validations.
	IntrospectionsPer1000 float64 `json:"introspections_per_1000"`
	// RPSAtDeclaredRate is the IdP calls per second this strategy would
	// send under the scenario's real traffic (its declared rate, before
	// --quick): introspections per validation x the declared rate, plus
	// key and discovery fetches per second of the run (they follow time,
	// not traffic). In real-issuer mode every call is per validation.
	RPSAtDeclaredRate float64 `json:"idp_calls_per_second_at_declared_rate"`
	// Avoided is the introspection strategy's IdP calls minus this one's,
	// AvoidedPct the same as a share of the introspection strategy's; both
	// absent when introspection was not run.
	Avoided    *int64   `json:"avoided_vs_introspection,omitempty"`
	AvoidedPct *float64 `json:"avoided_vs_introspection_pct,omitempty"`
}

// Exposure counts what the validator returned for tokens already revoked at
// the IdP (revoked, session logged out, or stale by a not-before policy).
// Times are virtual.
type Exposure struct {
	// RevokedTokensUsed is the number of revoked tokens used at least once
	// after their revocation.
	RevokedTokensUsed int `json:"revoked_tokens_used"`
	// PostRevocation counts requests made with a revoked token.
	PostRevocation          int `json:"post_revocation_requests"`
	PostRevocationSensitive int `json:"post_revocation_sensitive"`
	PostRevocationStandard  int `json:"post_revocation_standard"`
	// Accepted counts those the validator accepted (the exposure).
	Accepted          int `json:"accepted"`
	AcceptedSensitive int `json:"accepted_sensitive"`
	AcceptedStandard  int `json:"accepted_standard"`
	// Share is Accepted / PostRevocation (0 when there is none).
	Share float64 `json:"share"`
	// MaxToRefusalS and MeanToRefusalS: per revoked token used after its
	// revocation, the virtual time from revocation to its first refusal; a
	// token never refused before it expired counts until its exp.
	MaxToRefusalS  float64 `json:"max_revocation_to_refusal_s"`
	MeanToRefusalS float64 `json:"mean_revocation_to_refusal_s"`
	// NeverRefused counts revoked, used tokens the validator never refused.
	NeverRefused int `json:"never_refused"`
	// MaxWorkingS and MeanWorkingS: per revoked token used after its
	// revocation, the virtual time from revocation to its last accepted
	// request (0 when none was accepted): how long it kept working.
	MaxWorkingS  float64 `json:"max_working_after_revocation_s"`
	MeanWorkingS float64 `json:"mean_working_after_revocation_s"`
}

// Pushes counts deliveries from the IdP to the resource server.
type Pushes struct {
	Accepted int64 `json:"accepted"`
	Refused  int64 `json:"refused"`
}

// recorder accumulates one run's measures; only the replay goroutine uses it.
type recorder struct {
	wl   *Workload
	spec strategySpec
	res  StrategyResult
	hist *histogram

	paused   bool
	segStart time.Time
	cpuStart time.Duration
	busy     time.Duration
	cpu      time.Duration
	cpuKnown bool

	firstRefusal []time.Duration // per token; -1: none yet
	lastAccepted []time.Duration // per token, after revocation; -1: none
	usedAfter    []bool
	callsUnknown bool
}

func newRecorder(wl *Workload, spec strategySpec, _ Options) *recorder {
	r := &recorder{wl: wl, spec: spec, hist: newHistogram(), paused: true, cpuKnown: true,
		firstRefusal: make([]time.Duration, len(wl.Tokens)), lastAccepted: make([]time.Duration, len(wl.Tokens)),
		usedAfter: make([]bool, len(wl.Tokens))}
	for i := range r.firstRefusal {
		r.firstRefusal[i], r.lastAccepted[i] = -1, -1
	}
	r.res = StrategyResult{Strategy: spec.name, Kind: spec.kind, Grid: spec.grid,
		Outcomes: map[string]int{}, Reasons: map[string]int{}, Triggers: map[string]int{}, CallsByTrigger: map[string]int{}}
	if spec.kind == StrategyTiered {
		t := spec.tiered
		r.res.Tiered, r.res.Config = &t, tieredConfig(t)
	}
	return r
}

func (r *recorder) resume() {
	if !r.paused {
		return
	}
	r.paused = false
	c, ok := processCPU()
	r.cpuKnown = r.cpuKnown && ok
	r.cpuStart = c
	r.segStart = time.Now()
}

func (r *recorder) pause() {
	if r.paused {
		return
	}
	r.paused = true
	r.busy += time.Since(r.segStart)
	c, ok := processCPU()
	r.cpuKnown = r.cpuKnown && ok
	r.cpu += c - r.cpuStart
}

// record accounts one validation of q, decided at virtual offset at.
func (r *recorder) record(q Request, at time.Duration, d decision, lat time.Duration) {
	r.hist.record(lat)
	r.res.Validations++
	r.res.Outcomes[d.outcome]++
	if d.outcome != "accepted" {
		reason := d.reason
		if reason == "" {
			reason = "other"
		}
		r.res.Reasons[reason]++
	}
	if d.degraded {
		r.res.Degraded++
	}
	for _, t := range d.triggers {
		r.res.Triggers[string(t)]++
	}
	switch {
	case d.idpCalls < 0:
		r.callsUnknown = true
	case d.idpCalls > 0:
		// The introspection strategy asks for every token; a tiered
		// decision without triggers is one whose refusal did not say why
		// (the service's 401 body carries none).
		first := map[bool]string{true: "always", false: "unattributed"}[r.spec.kind == StrategyIntrospection]
		if len(d.triggers) > 0 {
			first = string(d.triggers[0])
		}
		r.res.CallsByTrigger[first] += d.idpCalls
	}
	tk := &r.wl.Tokens[q.Token]
	accepted := d.outcome == "accepted"
	ex := &r.res.Exposure
	switch {
	case at >= tk.RevokedAt:
		r.usedAfter[q.Token] = true
		ex.PostRevocation++
		if q.Sensitive {
			ex.PostRevocationSensitive++
		} else {
			ex.PostRevocationStandard++
		}
		if accepted {
			r.lastAccepted[q.Token] = at
			ex.Accepted++
			if q.Sensitive {
				ex.AcceptedSensitive++
			} else {
				ex.AcceptedStandard++
			}
		} else if r.firstRefusal[q.Token] < 0 {
			r.firstRefusal[q.Token] = at
		}
	case !accepted && at < tk.ExpiresAt:
		r.res.FalseRefusals++
		if d.outcome == "unavailable" {
			r.res.FalseRefusalsUnavailable++
		}
	}
}

func (r *recorder) result() *StrategyResult {
	res := r.res
	res.Latency = r.hist.summary()
	res.LatencyQuantiles = r.hist.quantiles()
	if r.callsUnknown {
		res.CallsByTrigger = nil
	}
	res.BusySeconds = r.busy.Seconds()
	if r.busy > 0 {
		res.Throughput = float64(res.Validations) / r.busy.Seconds()
	}
	res.CPUPerValidationUS = -1
	if r.cpuKnown && res.Validations > 0 {
		res.CPUPerValidationUS = us(r.cpu) / float64(res.Validations)
	}
	ex := &res.Exposure
	if ex.PostRevocation > 0 {
		ex.Share = float64(ex.Accepted) / float64(ex.PostRevocation)
	}
	var sum, working time.Duration
	for i, used := range r.usedAfter {
		if !used {
			continue
		}
		tk := r.wl.Tokens[i]
		ex.RevokedTokensUsed++
		end := r.firstRefusal[i]
		if end < 0 {
			ex.NeverRefused++
			end = tk.ExpiresAt
		}
		d := end - tk.RevokedAt
		sum += d
		ex.MaxToRefusalS = max(ex.MaxToRefusalS, d.Seconds())
		if la := r.lastAccepted[i]; la >= 0 {
			working += la - tk.RevokedAt
			ex.MaxWorkingS = max(ex.MaxWorkingS, (la - tk.RevokedAt).Seconds())
		}
	}
	if n := time.Duration(ex.RevokedTokensUsed); n > 0 {
		ex.MeanToRefusalS = (sum / n).Seconds()
		ex.MeanWorkingS = (working / n).Seconds()
	}
	return &res
}
