// Package hydra holds tokenwarden's interop tests against a real third-party
// issuer, Ory Hydra v2.3.0 (https://github.com/ory/hydra): a certified
// OAuth2/OIDC server issuing RS256 and ES256 JWT access tokens and opaque
// ory_at_ tokens, with RFC 7662 introspection (admin port) and RFC 7009
// revocation. The package has test files only.
//
// scripts/hydra.sh builds the binary into .cache/hydra/hydra (the Makefile's
// hydra target). TestMain starts `hydra serve all --dev` on free loopback
// ports with an in-memory database, creates its clients through the admin
// REST API and stops Hydra (its whole process group) at the end. The
// tokenwarden under test is built in-process from the shipped
// configs/hydra.yaml (only the issuer and admin addresses replaced), loaded
// through internal/config and wired by internal/app, the wiring
// cmd/tokenwarden ships, and every case is asked over HTTP at POST
// /v1/validate.
//
// Without the binary (TW_HYDRA_BIN, or .cache/hydra/hydra) the tests skip,
// except under CI, where a missing binary fails the run.
package hydra
