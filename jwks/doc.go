// Package jwks resolves the public key for a token: which key, for this
// issuer, with this kid and alg. It performs OpenID Connect Discovery 1.0 §4
// (the document's issuer must equal the configured one exactly, §4.3) and
// fetches the JWK Set (RFC 7517 §5) named by jwks_uri.
//
// It does no JWS or claim checks: package strategy does all of those with the
// key returned here. Keys named by token headers (jku, x5u, jwk, x5c) are
// never used: a Resolver only ever sees a kid and an alg (RFC 8725 §3.10,
// "do not trust received claims").
//
// What the package implements, and where it comes from:
//
//   - Every key is bound to exactly one algorithm: its "alg" member (RFC 7517
//     §4.4) or, absent that, the one implied by kty/crv (RSA→RS256, EC
//     P-256→ES256, P-384→ES384, P-521→ES512, OKP Ed25519→EdDSA). A token
//     whose alg differs from the key's is refused, as is any alg outside the
//     configured allowlist; "none" and HS* can never be allowed (RFC 8725
//     §3.1, "perform algorithm verification").
//   - Only signature keys are served: "use" absent or "sig" (RFC 7517 §4.2),
//     "key_ops" absent or containing "verify" (RFC 7517 §4.3). Keycloak
//     publishes an RSA-OAEP encryption key next to its signing keys; it is
//     skipped. RSA keys under 2048 bits are skipped (RFC 7518 §3.3 requires
//     2048), EC points off their curve too (RFC 8725 §3.4).
//   - The discovery URL is the issuer with any trailing "/" removed plus
//     "/.well-known/openid-configuration" (OIDC Discovery §4).
//   - An unknown kid triggers at most one forced JWKS fetch per
//     UnknownKIDMinInterval, coalesced across callers; kids still unknown
//     afterwards are negative-cached for NegativeTTL. An attacker sending
//     random kids therefore cannot make the resolver hammer the IdP; while a
//     forced fetch is suppressed the answer is ErrRefreshSuppressed (retry
//     later), so a token signed with a freshly rotated key is never refused
//     as invalid merely because of the rate limit.
//   - A fetched set with no usable signature key counts as a failed fetch:
//     the last good keys stay in service (an empty set would turn every
//     token into a 401).
//   - Stale-if-error: a failed refresh keeps the last good keys for up to
//     MaxStale after the last success; after that keys are unavailable, which
//     callers must map to "try again later" (503), never to "invalid token".
//
// A kid that appears twice in one set for the same algorithm is ambiguous;
// all keys sharing that (kid, alg) are dropped and logged. The same kid with
// different key types (RFC 7517 §4.5 allows it) is kept: each entry is bound
// to its own alg and the request's alg picks one.
package jwks
