// Package introspection is tokenwarden's OAuth 2.0 Token Introspection
// (RFC 7662) client. It asks an identity provider whether a token is active
// and reports exactly what the IdP said; it applies no acceptance policy.
// exp, iss, aud, typ and cnf checks belong to package strategy, which imports
// this package (never the other way round). A refresh token that Keycloak
// reports as active with typ "Refresh" is therefore returned as active here.
//
// What it implements:
//
//   - RFC 7662 §2.1: the request is a POST of application/x-www-form-urlencoded
//     "token=..." with Accept: application/json, authenticated as the
//     protected resource's own client.
//   - Client authentication: client_secret_basic with each half
//     form-url-encoded before base64 (RFC 6749 §2.3.1), client_secret_post
//     (RFC 6749 §2.3.1), private_key_jwt (RFC 7523 §2.2: a fresh JWS assertion
//     with iss = sub = client_id, aud, jti, iat and exp = iat+60s per call),
//     or none with static headers (an introspection endpoint behind a gateway,
//     such as Ory Hydra's admin port).
//   - RFC 7662 §2.2: the response is a JSON object; only the JSON boolean true
//     in "active" makes a token active ("true", 1 or a missing member mean
//     inactive). Registered members of an active answer must have their JSON
//     types (NumericDates are numbers, aud is a string or an array of
//     strings), otherwise the whole answer is malformed. Duplicate members are
//     refused so that no parser differential can flip "active". Unknown members
//     are kept in Response.Raw.
//   - RFC 7662 §2.3: any answer that is not 200 with a JSON object (401/403
//     for our own credentials, 429, 5xx, other content types, oversized or
//     undecodable bodies, timeouts, transport errors) is ErrUnavailable. An
//     outage is never reported as an inactive token.
//   - RFC 7662 §4: answers are cached by the SHA-256 of the token, positive
//     answers never past the response's exp and at most CacheMaxTTL, negative
//     answers for NegativeTTL; failures are never cached. Each call states the
//     oldest answer it accepts (maxAge), so a lenient entry never answers a
//     strict question.
//
// Around the HTTP call: concurrent calls for one token share one IdP request
// (coalescing; each waiter still honours its own context), a semaphore caps
// concurrent IdP requests, an optional rate budget fails fast, and a circuit
// breaker with an injectable clock stops calling an IdP that keeps failing
// and lets exactly one probe through after its open timeout.
//
// Security: the token and the client secret are never logged or used as map
// keys or metric labels; logs carry tokenhash.Fingerprint only. Every body
// read is bounded. Redirects are never followed, so credentials are only ever
// sent to the configured endpoint.
package introspection
