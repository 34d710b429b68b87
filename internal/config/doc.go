// Package config loads, defaults and validates tokenwarden's configuration.
// It is the only package that imports viper; every other package receives
// plain Config structs.
//
// # Sources and precedence
//
// [Load] reads one YAML file, then TOKENWARDEN_* environment variables, then
// command-line flags (highest). The key server.admin_addr is overridden by
// TOKENWARDEN_SERVER_ADMIN_ADDR ("." becomes "_"); every leaf key outside
// lists and maps is bound explicitly, so an override works even when the file
// does not mention the key. Keys inside lists of structs (issuers[*],
// routes[*]) cannot be set from the environment. List values from the
// environment are comma-separated. Flags --addr, --admin-addr and
// --log-level (see [AddFlags]) map to server.addr, server.admin_addr and
// log.level.
//
// # Strictness
//
// Unknown keys are errors that name the key ("issuers[0].jwks.refresh_intervall:
// unknown key"), so a typo cannot silently disable a check. Durations need a
// unit ("30s"); a bare number is rejected instead of being read as
// nanoseconds. Keys are case-insensitive (viper folds them to lower case),
// including strategy names and introspection header names.
//
// # Secrets
//
// A [Secret] is a reference, {file: PATH} or {env: VARIABLE}; an inline value
// in the file is rejected. Load and Validate never read secrets; the
// component that needs one calls [Secret.Read]. No error of this package
// contains a secret value.
//
// # Security rules
//
// Validate enforces, per issuer: https for issuer, discovery, JWKS and
// introspection URLs except on loopback hosts (OpenID Connect Discovery 1.0
// §3 requires https issuers; RFC 7662 §4 requires TLS for introspection); no
// credentials in URLs; an algorithm allowlist of asymmetric JWS algorithms,
// never "none" nor HS* (RFC 8725 §2.1, §3.1, §3.2); an audience or azp
// restriction (RFC 8725 §3.9, RFC 9068 §4); bounded clock skew and token
// size; and client authentication for introspection (RFC 7662 §2.1) with
// client_secret_basic/post (RFC 6749 §2.3.1), private_key_jwt (RFC 7523 §2.2,
// OpenID Connect Core §9) or none (for endpoints protected otherwise, e.g.
// Hydra's admin port).
//
// See configs/tokenwarden.yaml in the repository for every key with its
// default.
package config
