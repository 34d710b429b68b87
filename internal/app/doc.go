// Package app is the wiring of `tokenwarden serve`, `dev` and `check`: it
// turns an internal/config.Config into running components — per issuer one
// JWKS resolver (OpenID Connect Discovery 1.0 §4, RFC 7517) and, when
// enabled, one RFC 7662 introspection client, one revocation store, one
// shared strategy.Verifier, the named strategies over it, and the
// validator.Service with its forward-auth handler and revocation endpoints
// (OpenID Connect Back-Channel Logout 1.0 §2.5, Keycloak's not-before push,
// the admin API) — and reloads the live-reloadable part of a changed
// configuration.
//
// It is shared by cmd/tokenwarden and the end-to-end suites
// (internal/e2e/...), so that they test the wiring that ships rather than a
// copy of it. In the layering (cmd -> validator, bench -> strategy -> jwks,
// introspection, revocation) it sits beside cmd, above everything cmd wires:
//
//	cmd -> internal/app -> validator -> strategy -> jwks, introspection, revocation
//	cmd -> bench        -> validator -> strategy -> ...
//
// and it is the only package besides cmd that turns internal/config into
// components. The benchmark's library mode builds strategies directly on
// purpose (it measures them without the service around them).
//
// Build does no network I/O; Start begins key loading with goroutines owned
// by its context, and Close stops them.
package app
