// Package soak holds tokenwarden's soak test: sustained load with many unique
// tokens (local, tiered and introspection, over an in-process Keycloak
// simulator) and a steady stream of revocation events, sampling the
// process's resident memory, goroutines, live heap and revocation entries
// into a CSV and an SVG chart, and failing if any of them keeps growing
// after warm-up instead of plateauing at the bounds the caches and TTLs
// set.
//
// It does not run by default: set TW_SOAK_DURATION (e.g. 5m), or run
// scripts/soak.sh (make soak DURATION=5m). See TestSoak for the knobs.
package soak
