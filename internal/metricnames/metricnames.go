// Package metricnames is the single list of tokenwarden's Prometheus metric
// families (the foundation contract). Packages register the families they own
// under these names; the dashboard test checks against this list.
//
// Labels are bounded enums only: never a token, subject, session or kid.
package metricnames

// Decision metrics: recorded only by strategy.Instrument, the outermost
// wrapper, so that nested strategies are never counted twice.
const (
	// DecisionsTotal counts decisions. Labels: strategy, outcome
	// (accepted|degraded|invalid|inactive|forbidden|unavailable|not_applicable),
	// decided_by. "degraded" (added with the tiered strategy): accepted on
	// local evidence because the IdP could not be asked (on_unavailable: local).
	DecisionsTotal = "tokenwarden_decisions_total"
	// RejectionsTotal counts refusals by reason code. Labels: strategy, reason.
	RejectionsTotal = "tokenwarden_rejections_total"
	// DecisionDuration observes decision latency. Labels: strategy, decided_by.
	DecisionDuration = "tokenwarden_decision_duration_seconds"
	// IntrospectionTriggersTotal counts why the IdP was asked. Labels: trigger.
	IntrospectionTriggersTotal = "tokenwarden_introspection_triggers_total"
	// VerifiedCacheRequestsTotal counts verified-claims cache lookups. Labels: result (hit|miss).
	VerifiedCacheRequestsTotal = "tokenwarden_verified_cache_requests_total"
)

// Introspection client metrics (package introspection).
const (
	IntrospectionRequestsTotal      = "tokenwarden_introspection_requests_total"           // issuer, outcome
	IntrospectionRequestDuration    = "tokenwarden_introspection_request_duration_seconds" // issuer
	IntrospectionCacheRequestsTotal = "tokenwarden_introspection_cache_requests_total"     // result
	IntrospectionCoalescedTotal     = "tokenwarden_introspection_coalesced_total"
	IntrospectionBreakerOpen        = "tokenwarden_introspection_breaker_open" // issuer
)

// Key resolution metrics (package jwks).
const (
	// JWKSFetchesTotal counts JWKS and discovery fetches. Labels: issuer (configured
	// name), outcome (success|error), cause (initial|scheduled|unknown_kid|manual).
	JWKSFetchesTotal = "tokenwarden_jwks_fetches_total"
	// JWKSLastSuccess is the Unix time of the last successful JWKS fetch. Labels: issuer.
	JWKSLastSuccess = "tokenwarden_jwks_last_success_timestamp_seconds"
)

// Revocation metrics (package revocation).
const (
	RevocationEventsTotal = "tokenwarden_revocation_events_total" // source, action
	RevocationEntries     = "tokenwarden_revocation_entries"
	// RevocationDroppedTotal counts events not kept: watch entries evicted
	// to make room, and events refused because the store is full of deny
	// entries (never silent). Labels: action, cause (evicted|full). Added
	// with the revocation store: the contract needs an alert for a full store.
	RevocationDroppedTotal = "tokenwarden_revocation_dropped_total"
)

// All lists every family above.
var All = []string{
	DecisionsTotal, RejectionsTotal, DecisionDuration, IntrospectionTriggersTotal,
	VerifiedCacheRequestsTotal,
	IntrospectionRequestsTotal, IntrospectionRequestDuration, IntrospectionCacheRequestsTotal,
	IntrospectionCoalescedTotal, IntrospectionBreakerOpen,
	JWKSFetchesTotal, JWKSLastSuccess,
	RevocationEventsTotal, RevocationEntries, RevocationDroppedTotal,
}
