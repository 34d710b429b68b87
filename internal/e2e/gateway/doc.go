// Package gateway holds end-to-end tests of tokenwarden's forward-auth
// endpoint (/v1/auth) behind real gateways: nginx (auth_request) and Caddy
// (forward_auth), each started from the configuration shipped in
// configs/gateways with only its well-known addresses replaced, in front of
// an in-process tokenwarden judging tokens of an in-process Keycloak
// simulator (idpsim).
//
// The gateways are installed by scripts/install-gateways.sh. Without a
// gateway binary the tests skip, except under CI=true, where a missing
// binary fails the run. TW_LOAD=1 runs a short load measurement of
// /v1/auth against /v1/validate (TestLoad).
package gateway
