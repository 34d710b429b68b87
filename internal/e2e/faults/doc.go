// Package faults holds the faults-under-load test: every strategy (local,
// introspection, tiered with its fail modes) over one in-process Keycloak
// simulator (idpsim), under a steady concurrent load of valid and invalid
// tokens, while the JWKS endpoint goes down and past max_stale, the
// introspection endpoint is down, slow, failing, answering garbage, hanging
// or refusing connections, the realm rotates its signing key, and
// everything recovers.
//
// The invariants checked on every single decision: a valid token is only
// ever refused as unavailable (503), never as invalid or inactive (401),
// because of an outage (README: "an outage never turns into a 401"), and an
// invalid token is never accepted. Time-based transitions (key age,
// max_stale, cache freshness, breaker open timeout) run on a manual clock;
// only the load loop uses real time.
package faults
