// Package idpsim is an in-process, Keycloak-compatible OAuth 2.0 / OpenID
// Connect identity provider simulator. Every tokenwarden integration test,
// `tokenwarden dev` and the benchmark harness run against it, so it copies
// Keycloak's observable behaviour (kc = github.com/keycloak/keycloak) rather
// than the RFCs' ideal:
//
//   - Paths: /realms/{realm}/.well-known/openid-configuration and
//     /realms/{realm}/protocol/openid-connect/{certs,token,token/introspect,
//     revoke,logout}. An unknown realm answers 404 {"error":"Realm does not exist"}.
//   - Discovery advertises Keycloak's client authentication methods for the
//     token, introspection and revocation endpoints and
//     backchannel_logout_supported / backchannel_logout_session_supported.
//   - JWKS lists every enabled signing key (active and passive, with x5c) plus
//     an RSA "enc" key with alg RSA-OAEP that must never verify a signature.
//   - Tokens: access tokens have header typ "JWT" (or "at+jwt" with the RFC
//     9068 switch) and payload typ "Bearer"; the requesting client is not in
//     aud unless an audience mapper adds it; lightweight clients omit sub and
//     the role and profile claims. Refresh tokens (typ Refresh, or Offline
//     with scope offline_access) are HS512-signed with an unpublished realm
//     secret, like Keycloak's, so they never verify against the JWKS.
//   - Client authentication (ClientIdAndSecretAuthenticator): client_secret_basic
//     with RFC 6749 §2.3.1 form-url-decoding, client_secret_post, public
//     clients by client_id; Keycloak's error bodies and status codes.
//   - Introspection (RFC 7662, TokenIntrospectionEndpoint): confidential
//     clients only (public: 403 "Client not allowed."; failed authentication
//     or a bearer token as credentials: 401 "Authentication failed.");
//     duplicated parameters, a missing token and an unknown token_type_hint
//     are 400. Any confidential client may introspect any token of the realm.
//     Every inactive case is exactly {"active":false}: bad signature, not a
//     JWT, unknown or removed kid, expired, revoked jti, iat before the realm
//     or client not-before, ended/expired session, detached client session,
//     disabled user, foreign issuer.
//   - Revocation (RFC 7009, TokenRevocationEndpoint): an access token's jti is
//     denied for max(exp-now+1, 10) seconds — introspection turns inactive
//     while the JWT still verifies locally; a refresh or offline token detaches
//     the client from the user's sessions. Invalid token: 200
//     {"error":"invalid_token",...}; another client's token: 400 "Unmatching clients".
//   - OpenID Connect Back-Channel Logout 1.0: when a session ends (Logout,
//     LogoutUser, POST .../logout) every client holding a client session in it
//     that has a BackchannelLogoutURL receives a logout token (header typ
//     logout+jwt; iss, aud, iat, exp=iat+120, jti, sub, sid, events; no nonce,
//     §2.4) as form field logout_token, synchronously, before the call returns.
//   - Not-before push: PushNotBefore POSTs Keycloak's PushNotBeforeAction as a
//     signed compact JWS (text/plain body) to {AdminURL}/k_push_not_before.
//   - Key rotation: RotateKey makes a new active key and keeps the old one as
//     passive; RemoveKey disables a key (gone from the JWKS, its tokens
//     inactive).
//
// Beyond Keycloak it counts calls per endpoint (Calls, InFlight,
// PeakInFlight), injects faults per endpoint (latency, error status, garbage
// bodies, hangs) and reads time from an injectable clock.Clock. The Go API
// (ClientCredentials, PasswordGrant, Refresh, Revoke, Logout, Sign, ...) runs
// the same logic as the endpoints but is neither counted nor faulted.
//
// Error texts follow current Keycloak sources: a wrong user password is 401
// invalid_grant "Invalid user credentials"; a wrong client secret is 401
// unauthorized_client, an unknown client 401 invalid_client (both "Invalid
// client or Invalid client credentials"); an unknown introspection
// token_type_hint is 400 "Unsupported token type." (older releases appended
// the hint in brackets).
//
// Sessions: every password grant opens a user session; SSOLogin adds another
// client to it (what a browser with the SSO cookie does), Refresh extends it
// within SSOSessionIdle/SSOSessionMax. client_credentials opens a
// service-account session that lives as long as its access token, since no
// refresh token can extend it.
//
// Deviations: no interactive login (the authorization endpoint is a stub),
// no private_key_jwt/mTLS client authentication, default roles such as
// offline_access and default-roles-{realm} are not added, and the "account"
// audience is not added to user tokens.
//
// idpsim holds private keys in memory and trusts plain-text passwords from
// its config: it is a test and development tool, never an identity provider.
package idpsim
