// Package strategy decides whether a bearer token (RFC 6750) is good for a
// request. It owns the contracts every tokenwarden component shares —
// Strategy, Request, Result and the error kinds — and every JWS and claim
// check.
//
// The local pipeline (Verifier) implements the JWT validation rules of
// RFC 7519 §7.2 and RFC 7515 §5.2, hardened per RFC 8725 (JWT BCP):
//
//   - a size cap before any decoding; compact serialisation only (§3.11 of
//     RFC 8725: no JSON serialisation, no JWE);
//   - the header alg must be in the issuer's allowlist and equal to the
//     algorithm the key is bound to (RFC 8725 §3.1); never "none", never HMAC;
//   - unknown "crit" headers are refused (RFC 7515 §4.1.11); keys named by
//     the token itself (jku, x5u, jwk, x5c) are refused (RFC 8725 §3.10);
//   - iss selects one of the configured issuers (compared exactly), and only
//     that issuer's keys are consulted (RFC 8725 §3.8);
//   - exp is required, nbf and iat are checked with a bounded clock skew
//     (RFC 7519 §4.1.4-4.1.6); aud must contain a configured audience, or azp
//     must be an authorized party (RFC 7519 §4.1.3, OIDC Core §2);
//   - explicit typing per token profile (RFC 8725 §3.11, RFC 9068 §2.1, 4):
//     refresh, offline, ID and logout tokens are never access tokens;
//   - sender-constrained tokens (cnf with jkt or x5t#S256) are refused when
//     presented as bearer tokens (RFC 9449 §7.2, RFC 8705 §3);
//   - claims must be valid UTF-8 JSON with well-typed NumericDates (RFC 8725 §3.7).
//
// Verified claims are cached by the SHA-256 of the token together with a
// fingerprint of the policy that verified them; a cache hit re-checks every
// time-dependent rule, revocation, and the request's scopes and roles, so the
// cache stores facts, never decisions.
//
// Three strategies share one Verifier (and so one key store, one
// verified-claims cache, one introspection client per issuer and one
// revocation store):
//
//   - Local judges on local evidence only: fast, but blind to revocation the
//     IdP has not pushed to us (back-channel logout, not-before).
//   - Introspect asks the IdP (RFC 7662 §2) about every token, through a
//     freshness-aware cache; the IdP's answer gets the same acceptance policy
//     as a local token (RFC 7662 §4: the caller decides what "active" is
//     good for — audience, token type, expiry).
//   - Tiered verifies locally and asks the IdP only when a rule fires
//     (sensitive scope, revocation or restart window, token age, opaque or
//     lightweight token, keys unavailable, sampling), listing every rule in
//     Result.Triggers.
//
// Instrument records the decision metrics; wrap only the outermost strategy.
package strategy
