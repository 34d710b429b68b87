// Package bench is tokenwarden's benchmark harness: it answers "validating
// locally, how long does a revoked token keep working? Introspecting, how
// much load on the IdP and how much latency? What does tiered buy?" with
// numbers from the real code paths.
//
// A Scenario (YAML, configs/bench) describes a workload: virtual duration,
// request rate, users and sessions, token lifetime, requests per token (a
// distribution), the share of sensitive requests, IdP events over time —
// access tokens revoked at the IdP (RFC 7009 §2, nothing pushed), sessions
// logged out with or without OpenID Connect Back-Channel Logout 1.0 (§2.5:
// the IdP POSTs a logout token to the resource server), Keycloak not-before
// policies, pushed or not — key rotations, the IdP's injected latency and
// error rate, a seed, and named tiered variants. Generate turns it into a
// Workload, deterministic in the seed (Workload.Hash).
//
// Run replays the workload once per strategy — local (with pushed
// revocation), local-pure (no revocation store), introspection (RFC 7662),
// tiered and its variants — sequentially, each against a fresh in-process
// Keycloak-compatible IdP (idpsim) and a freshly built tokenwarden wired like
// cmd/tokenwarden, through strategy.Strategy.Validate or, with Options.HTTP,
// the service's POST /v1/validate on loopback. Every component (IdP, key
// resolver, introspection client, revocation store, strategies) reads one
// manual clock, so a 30-minute scenario runs in seconds: exposure times are
// virtual, latency, throughput and CPU are real (time.Now around each
// validation, getrusage over the busy periods). Tokens are minted before
// the replay at their virtual issue time (those after a key rotation when
// the replay reaches it), outside every measurement.
//
// The ground truth is the workload's: a request is post-revocation when its
// token was revoked at the IdP before it (RFC 7009 revocation, logout of its
// session, not-before after its iat: Keycloak's iat < notBefore rule), and
// every figure is counted from what the validator actually returned.
//
// A scenario may declare a grid of tiered settings (Scenario.Grid): every
// combination runs as a tiered strategy of its own (g01, g02, ...). Decide,
// a pure function over the results, then names the cheapest tiered
// configuration — fewest IdP calls per second under the scenario's declared
// (real-traffic) rate — that meets every Constraints bound (IdP calls per
// second, revocation exposure in seconds still working, requests or share,
// p99 latency), with the strategies block to paste into tokenwarden's
// configuration; or, when none does, the configuration closest to passing
// and the constraint that binds it.
//
// RunIssuer measures local, introspection and tiered against a real IdP
// (OpenID Connect Discovery 1.0) in real time: it mints a pool of tokens
// per strategy at the token endpoint (RFC 6749 §4.4 client credentials or
// §4.3 password), validates with them, and where the IdP publishes an RFC
// 7009 revocation endpoint revokes some halfway and counts what each
// strategy still accepts. Every request to the IdP waits for one rate
// limiter and is counted by the harness's own RoundTripper.
//
// Reports (Report) are written as a terminal table, report.md (verdict
// first, figures embedded), results.json and results.csv; WritePlots draws
// the figures with gonum.org/v1/plot as PNG and SVG: the trade-off frontier
// (IdP calls per 1 000 validations against the share of post-revocation
// requests accepted), the latency CDF, throughput, and IdP calls by
// trigger. Latency is kept in a log-linear histogram with a relative error
// under 1 %.
//
// Run is not meant for concurrent use with itself: strategies compete for
// the same CPUs, and so do parallel runs.
package bench
