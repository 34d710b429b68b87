// Package revocation remembers what the identity provider told us it
// revoked, and answers in O(1) whether a locally verified token is denied or
// must be watched (checked at the IdP).
//
// Local JWT verification cannot see a revocation until the token expires.
// Keycloak tells resource servers some of what it revokes, and this package
// turns those messages into entries of a Store:
//
//   - OIDC Back-Channel Logout 1.0: LogoutValidator implements the logout
//     token rules of §2.4 (claims: iss, aud, iat, jti, events, sub and/or
//     sid, no nonce; typ logout+jwt, §2.4 and RFC 8725 §3.11) and the
//     validation steps of §2.6, including the optional jti replay check;
//     §2.5 (the POST form) and §2.8 (200 on success, 400 with an OAuth error
//     otherwise) are the HTTP handler's part, §2.7 (what a logout means) is
//     Events: deny the session, watch the user's other sessions. The events
//     member is a Security Event Token event (RFC 8417 §2.2): a JSON object
//     keyed by event type URI whose value is a JSON object.
//   - Keycloak's not-before: an admin's "Revocation -> Set to now -> Push"
//     POSTs a PushNotBeforeAction JWS (signed with the realm key, action
//     PUSH_NOT_BEFORE, notBefore in seconds, expiration now+30s) to the
//     client's admin URL. NotBeforeValidator checks it. Keycloak's rule is
//     kept exactly: a token is stale when iat < notBefore; a token issued in
//     the notBefore second itself stays valid. Every entry kind follows the
//     same rule (iat < At), except jti entries, which apply to their one
//     token whatever its iat.
//   - The operator: ParseAdminEvent parses the admin API's body.
//   - Learned facts: LearnedInactive records a jti the IdP called inactive.
//
// Every event has a bounded lifetime (Config.Window, at least the longest
// access-token lifetime): afterwards the tokens it could affect have expired
// on their own. Memory holds the entries in process, bounded by
// Config.MaxEntries: watch entries may be evicted, deny entries never are
// (ErrFull instead). A memory store forgets everything on restart, so
// Config.RestartWindow watches tokens issued before the start.
//
// All token parsing follows RFC 8725: compact JWS only, a size bound before
// decoding, an asymmetric algorithm allowlist (never none or HMAC), keys only
// from the issuer's JWKS (never jku, x5u, jwk, x5c), no crit extensions.
// Logged keys are fingerprints (internal/tokenhash), never raw sid, sub or
// jti values. Failures are typed (*Error with a bounded Reason) and never
// turn a key-fetch outage into a "bad token" answer: ErrKeysUnavailable.
//
// This package is a leaf: it imports jwks only for the key type, never
// strategy or validator.
package revocation
