// Package validator is tokenwarden's HTTP face: it answers "is this bearer
// token good for this request?" over HTTP, and maps every verdict to HTTP in
// one place (WriteError, StatusOf).
//
// # Main handler (Service.Handler)
//
// POST /v1/validate takes the token from the Authorization header, scheme
// "Bearer" matched case-insensitively and the token a b64token (RFC 6750
// §2.1; BearerToken), or from the JSON body {"token", "scopes", "roles",
// "sensitive", "strategy"} (ValidateRequest) — never both. A 200 carries
// ValidateResponse; the token is never echoed.
//
// Refusals follow RFC 6750 §3 and §3.1:
//
//	no token                      401, WWW-Authenticate: Bearer realm="…" (no error code, §3.1)
//	malformed request             400 invalid_request (413 too large, 415 not JSON)
//	ErrInvalid/Inactive/NotApp.   401 invalid_token, challenge with error and error_description
//	ErrForbidden                  403 insufficient_scope, challenge with scope="…" (§3.1)
//	ErrUnavailable, overload      503 temporarily_unavailable, Retry-After (no challenge)
//	missing/wrong X-API-Key       401 unauthorized_caller, WWW-Authenticate: APIKey realm="…"
//	any other error               401 invalid_token: an unknown error never becomes a 200
//
// Every error body has "active": false, so a client that reads only that
// field fails closed. An outage is never reported as 401. error_description
// values in WWW-Authenticate are reduced to RFC 6750 §3's character set
// (which has no escapes: double quotes become single quotes).
//
// GET /healthz is liveness, GET /readyz readiness (Config.Ready).
//
// # Admin handler (Service.AdminHandler)
//
// /metrics, /healthz, /readyz and whatever Service.HandleAdmin registers
// (revocation endpoints). Bind it to an operator-only address.
//
// # Serving
//
// Serve runs both handlers on their own listeners with read, header, write
// and idle timeouts, a per-listener in-flight limit that sheds load with 503,
// and a bounded graceful shutdown.
//
// # Secrets
//
// Tokens appear in logs only as tokenhash fingerprints; API keys not at all.
// Every response is Cache-Control: no-store (RFC 6750 §5.3 asks the same of
// token-bearing responses; ours describe tokens).
package validator
