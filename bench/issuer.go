package bench

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/tokenwarden/tokenwarden/introspection"
	"github.com/tokenwarden/tokenwarden/jwks"
	"github.com/tokenwarden/tokenwarden/strategy"
)

// ErrIssuerOptions reports unusable real-issuer options.
var ErrIssuerOptions = errors.New("bench: invalid issuer options")

// The grants RunIssuer can mint tokens with (RFC 6749 §4.4 and §4.3).
const (
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
)

// Bounds of a real-issuer run: it sends real traffic to somebody's IdP.
const (
	maxIssuerTokens   = 10_000
	maxIssuerRequests = 1_000_000
	maxIssuerBody     = 1 << 20 // discovery, token and revocation responses
	// DefaultIssuerRate is the default cap on requests to the IdP per second.
	DefaultIssuerRate = 20.0
)

// IssuerOptions configures RunIssuer. Secrets are bytes the caller read from
// a file or the environment; they are sent to the IdP's endpoints only and
// never logged.
type IssuerOptions struct {
	// Issuer is the issuer URL; its discovery document
	// (Issuer + "/.well-known/openid-configuration") names the endpoints.
	Issuer string
	// ClientID and ClientSecret authenticate (client_secret_basic) the
	// token, introspection and revocation requests.
	ClientID     string
	ClientSecret []byte
	// Grant is client_credentials (default) or password (Username, Password).
	Grant    string
	Username string
	Password []byte
	// Scope is requested with each token (optional).
	Scope string
	// RateCap bounds every request to the IdP, token minting and
	// revocation included, per second (default DefaultIssuerRate).
	RateCap float64
	// Tokens is the pool minted for each strategy (default 20); Requests
	// the validations per strategy (default 200).
	Tokens, Requests int
	// Revoke is the number of pool tokens revoked (RFC 7009) halfway
	// through each strategy's validations (default max(1, Tokens/5); 0
	// with NoRevoke).
	Revoke   int
	NoRevoke bool
	// Strategies to run: local, introspection, tiered (default all three).
	Strategies []string
	// SensitiveShare of validations are marked sensitive.
	SensitiveShare float64
	// Introspection and Tiered configure those strategies.
	Introspection IntrospectionSpec
	Tiered        TieredSpec
	// Audiences and TokenProfile are checked as tokenwarden would (issuer
	// config); tokens must also carry azp (or client_id) = ClientID.
	Audiences    []string
	TokenProfile string
	// DeclaredRate is the real traffic IdP calls per second are given at
	// (default 50 validations/s).
	DeclaredRate float64
	// Constraints for the verdict.
	Constraints Constraints
	// Transport carries every request (default a clone of
	// http.DefaultTransport).
	Transport http.RoundTripper
	// Seed fixes which tokens are used, revoked and marked sensitive.
	Seed uint64
	// Progress receives one line per phase; OnProgress as in Options.
	Progress   io.Writer
	OnProgress func(Progress)
}

// IssuerInfo describes a real-issuer run in its Report.
type IssuerInfo struct {
	URL      string  `json:"url"`
	Grant    string  `json:"grant"`
	Tokens   int     `json:"tokens_per_strategy"`
	Requests int     `json:"requests_per_strategy"`
	RateCap  float64 `json:"rate_cap_per_second"`
	Alg      string  `json:"alg"`
	// RevocationMeasured is false when the IdP has no revocation endpoint
	// (or revocation was turned off); RevocationNote says why.
	RevocationMeasured bool   `json:"revocation_measured"`
	RevocationNote     string `json:"revocation_note,omitempty"`
	RevokedPerStrategy int    `json:"revoked_per_strategy"`
	// MintCalls, RevokeCalls and DiscoveryCalls are the harness's own
	// requests; ValidatorCalls those of the strategies' clients.
	MintCalls      int64 `json:"mint_calls"`
	RevokeCalls    int64 `json:"revoke_calls"`
	DiscoveryCalls int64 `json:"discovery_calls"`
	ValidatorCalls int64 `json:"validator_calls"`
	// Notes flag what looks wrong (e.g. a strategy refusing fresh tokens).
	Notes []string `json:"notes,omitempty"`
}

func (o *IssuerOptions) defaults() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrIssuerOptions, fmt.Sprintf(format, a...))
	}
	if o.Grant == "" {
		o.Grant = GrantClientCredentials
	}
	if o.RateCap == 0 {
		o.RateCap = DefaultIssuerRate
	}
	if o.Tokens == 0 {
		o.Tokens = 20
	}
	if o.Requests == 0 {
		o.Requests = 200
	}
	if o.Revoke == 0 && !o.NoRevoke {
		o.Revoke = max(1, o.Tokens/5)
	}
	if o.NoRevoke {
		o.Revoke = 0
	}
	if len(o.Strategies) == 0 {
		o.Strategies = []string{StrategyLocal, StrategyIntrospection, StrategyTiered}
	}
	if o.DeclaredRate == 0 {
		o.DeclaredRate = 50
	}
	u, err := url.Parse(o.Issuer)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return bad("--issuer %q is not an http(s) URL without credentials, query or fragment", o.Issuer)
	case o.ClientID == "" || len(o.ClientSecret) == 0:
		return bad("a client id and secret are required (--client-id, --client-secret-file or TOKENWARDEN_BENCH_CLIENT_SECRET)")
	case o.Grant != GrantClientCredentials && o.Grant != GrantPassword:
		return bad("--grant %q is not client_credentials or password", o.Grant)
	case o.Grant == GrantPassword && (o.Username == "" || len(o.Password) == 0):
		return bad("the password grant needs --username and a password (--password-file or TOKENWARDEN_BENCH_PASSWORD)")
	case math.IsNaN(o.RateCap) || o.RateCap <= 0 || o.RateCap > 10_000:
		return bad("--rate must be in (0, 10000] requests per second")
	case o.Tokens < 1 || o.Tokens > maxIssuerTokens:
		return bad("--tokens must be in [1, %d]", maxIssuerTokens)
	case o.Requests < 2 || o.Requests > maxIssuerRequests:
		return bad("--requests must be in [2, %d]", maxIssuerRequests)
	case o.Revoke < 0 || o.Revoke > o.Tokens:
		return bad("--revoke must be in [0, --tokens]")
	case math.IsNaN(o.SensitiveShare) || o.SensitiveShare < 0 || o.SensitiveShare > 1:
		return bad("sensitive share must be in [0, 1]")
	case math.IsNaN(o.DeclaredRate) || o.DeclaredRate <= 0:
		return bad("declared rate must be > 0")
	}
	for _, s := range o.Strategies {
		if s != StrategyLocal && s != StrategyIntrospection && s != StrategyTiered {
			return bad("strategy %q: real-issuer mode runs local, introspection and tiered", s)
		}
	}
	o.Strategies = slices.Compact(o.Strategies)
	return nil
}

// Validate reports the first problem of o (after defaults), wrapped in
// ErrIssuerOptions.
func (o IssuerOptions) Validate() error { return o.defaults() }

// MaxIssuerCalls is an upper bound on the requests RunIssuer sends the IdP
// with o: discovery, then per strategy the pool's tokens, the revocations,
// the key resolver's discovery and key fetches, and at most one
// introspection per validation.
func MaxIssuerCalls(o IssuerOptions) int {
	if err := o.defaults(); err != nil {
		return 0
	}
	n := 1
	for _, s := range o.Strategies {
		n += o.Tokens + o.Revoke + 3
		if s != StrategyLocal {
			n += o.Requests
		}
	}
	return n
}

// PlanIssuer says what RunIssuer will do with o, for the warning printed
// before it starts.
func PlanIssuer(o IssuerOptions) string {
	if err := o.defaults(); err != nil {
		return err.Error()
	}
	n := MaxIssuerCalls(o)
	rev := fmt.Sprintf("revoke %d of them (RFC 7009) halfway if the IdP has a revocation endpoint, ", o.Revoke)
	if o.Revoke == 0 {
		rev = ""
	}
	return fmt.Sprintf("bench will send real traffic to %s: for each of %s, mint %d tokens (%s grant, client %s) at its token endpoint, "+
		"validate %d requests with them, %sthen close. At most %d requests to the IdP, capped at %g per second (at least %s).",
		o.Issuer, strings.Join(o.Strategies, ", "), o.Tokens, o.Grant, o.ClientID, o.Requests, rev, n, o.RateCap,
		(time.Duration(float64(n) / o.RateCap * float64(time.Second))).Round(time.Second))
}

// discovery is what RunIssuer needs from the OpenID Provider metadata
// (OpenID Connect Discovery 1.0 §3; RFC 8414 §2).
type discovery struct {
	Issuer                string `json:"issuer"`
	TokenEndpoint         string `json:"token_endpoint"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
}

// RunIssuer measures local, introspection and tiered against a real IdP in
// real time: it reads the issuer's discovery document, then for each
// strategy mints a fresh pool of tokens at the token endpoint, builds a
// fresh tokenwarden (key resolver, introspection client, strategy) and
// validates Requests requests with the pool's tokens, one at a time.
// Halfway through, where the IdP publishes an RFC 7009 revocation
// endpoint, it revokes Revoke of the pool's tokens and counts what each
// strategy accepts afterwards. Every request to the IdP waits for one
// shared rate limiter (RateCap per second) and is counted; latency excludes
// those waits. ctx bounds the run.
func RunIssuer(ctx context.Context, o IssuerOptions) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	base := o.Transport
	if base == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		defer tr.CloseIdleConnections()
		base = tr
	}
	progress := func(format string, a ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", a...)
		}
	}
	// One limiter for everything: the cap is on the IdP's total load.
	limiter := rate.NewLimiter(rate.Limit(o.RateCap), 1)
	discoURL := strings.TrimSuffix(o.Issuer, "/") + "/.well-known/openid-configuration"
	mgmt := newPoliteTransport(base, limiter, map[string]string{discoURL: "discovery"})
	hc := &http.Client{Transport: mgmt, Timeout: 30 * time.Second}

	begin := time.Now()
	d, err := fetchDiscovery(ctx, hc, discoURL, o.Issuer)
	if err != nil {
		return nil, err
	}
	mgmt.kinds[canonURL(d.TokenEndpoint)] = "token"
	if d.RevocationEndpoint != "" {
		mgmt.kinds[canonURL(d.RevocationEndpoint)] = "revoke"
	}
	info := &IssuerInfo{URL: o.Issuer, Grant: o.Grant, Tokens: o.Tokens, Requests: o.Requests, RateCap: o.RateCap,
		RevocationMeasured: d.RevocationEndpoint != "" && o.Revoke > 0, RevokedPerStrategy: o.Revoke}
	switch {
	case o.Revoke == 0:
		info.RevocationNote = "not measured: revocation turned off"
	case d.RevocationEndpoint == "":
		info.RevocationNote = "not measured: the IdP's discovery document has no revocation_endpoint (RFC 7009)"
	}
	if !info.RevocationMeasured {
		o.Revoke = 0
		info.RevokedPerStrategy = 0
	}
	if slices.Contains(o.Strategies, StrategyIntrospection) || slices.Contains(o.Strategies, StrategyTiered) {
		if d.IntrospectionEndpoint == "" {
			return nil, fmt.Errorf("bench: %s publishes no introspection_endpoint: run --strategies local", o.Issuer)
		}
	}
	sc := &Scenario{Name: "issuer", Rate: o.DeclaredRate, SensitiveShare: o.SensitiveShare, Introspection: o.Introspection, Tiered: o.Tiered}
	rep := &Report{
		Scenario: ScenarioInfo{Name: "issuer", Description: "real issuer " + o.Issuer, Seed: o.Seed, Rate: o.DeclaredRate, DeclaredRate: o.DeclaredRate,
			SensitiveShare: o.SensitiveShare, Introspection: fmt.Sprintf("standard_max_age=%s sensitive_max_age=%s", o.Introspection.StandardMaxAge, o.Introspection.SensitiveMaxAge),
			Tiered: []TieredInfo{{Name: StrategyTiered, Config: tieredConfig(o.Tiered)}}},
		Machine: machineInfo(), Mode: "issuer", Concurrency: 1, Started: time.Now().UTC(), Issuer: info,
	}
	for i, name := range o.Strategies {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		spec := strategySpec{name: name, kind: name}
		if name == StrategyTiered {
			spec.tiered = o.Tiered
		}
		progress("bench: %s: minting %d tokens at %s", name, o.Tokens, d.TokenEndpoint)
		pool, err := mintPool(ctx, hc, d.TokenEndpoint, &o)
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", name, err)
		}
		if info.Alg == "" {
			info.Alg = pool.alg
		}
		progress("bench: %s: validating %d requests", name, o.Requests)
		res, err := runIssuerOne(ctx, &o, d, discoURL, base, limiter, hc, pool, spec, sc, func(done int) {
			if o.OnProgress != nil {
				o.OnProgress(Progress{Strategy: name, Index: i, Count: len(o.Strategies), Done: done, Total: o.Requests})
			}
		})
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", name, err)
		}
		info.ValidatorCalls += res.IdP.Introspections + res.IdP.JWKSFetches + res.IdP.DiscoveryFetches
		if res.Outcomes["accepted"] == 0 && res.FalseRefusals > 0 {
			info.Notes = append(info.Notes, fmt.Sprintf("%s refused every token (reasons %v): check --audience, --token-profile and the client's azp", name, res.Reasons))
		}
		rep.Results = append(rep.Results, *res)
	}
	info.MintCalls, info.RevokeCalls, info.DiscoveryCalls = mgmt.count("token"), mgmt.count("revoke"), mgmt.count("discovery")
	rep.finish()
	rep.Clocks = map[string]string{"real": "every figure: the run talks to a real IdP in real time"}
	rep.Constraints = o.Constraints
	rep.Verdict = Decide(rep.Results, o.Constraints)
	rep.ElapsedSeconds = time.Since(begin).Seconds()
	return rep, nil
}

// canonURL is u without query, fragment or user info: the key of
// politeTransport.kinds.
func canonURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

func readBody(resp *http.Response) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxIssuerBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxIssuerBody {
		return nil, fmt.Errorf("response larger than %d bytes", maxIssuerBody)
	}
	return b, nil
}

func fetchDiscovery(ctx context.Context, hc *http.Client, discoURL, issuer string) (*discovery, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, discoURL, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: discovery: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: discovery: %w", err)
	}
	defer resp.Body.Close()
	body, err := readBody(resp)
	if err != nil {
		return nil, fmt.Errorf("bench: discovery: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bench: discovery: %s answered %d", discoURL, resp.StatusCode)
	}
	var d discovery
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, fmt.Errorf("bench: discovery: %w", err)
	}
	// OIDC Discovery §4.3: the document must name the issuer we asked.
	if d.Issuer != issuer {
		return nil, fmt.Errorf("bench: discovery: issuer %q, want %q", d.Issuer, issuer)
	}
	if d.TokenEndpoint == "" || d.JWKSURI == "" {
		return nil, errors.New("bench: discovery: no token_endpoint or jwks_uri")
	}
	for _, e := range []string{d.TokenEndpoint, d.JWKSURI, d.IntrospectionEndpoint, d.RevocationEndpoint} {
		if e == "" {
			continue
		}
		if u, err := url.Parse(e); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("bench: discovery: endpoint %q is not an http(s) URL", e)
		}
	}
	return &d, nil
}

// tokenPool is one strategy's minted tokens.
type tokenPool struct {
	tokens []string
	exp    []time.Time
	alg    string
}

// postForm sends a client-authenticated form (client_secret_basic, RFC 6749
// §2.3.1: id and secret form-encoded, then Basic).
func postForm(ctx context.Context, hc *http.Client, endpoint string, o *IssuerOptions, form url.Values) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(o.ClientID), url.QueryEscape(string(o.ClientSecret)))
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := readBody(resp)
	return resp.StatusCode, body, err
}

// oauthError is the error code of an RFC 6749 §5.2 error body ("" if none).
func oauthError(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	if len(e.Error) > 64 {
		return e.Error[:64]
	}
	return e.Error
}

func mintPool(ctx context.Context, hc *http.Client, endpoint string, o *IssuerOptions) (*tokenPool, error) {
	p := &tokenPool{}
	for range o.Tokens {
		form := url.Values{"grant_type": {o.Grant}}
		if o.Grant == GrantPassword {
			form.Set("username", o.Username)
			form.Set("password", string(o.Password))
		}
		if o.Scope != "" {
			form.Set("scope", o.Scope)
		}
		status, body, err := postForm(ctx, hc, endpoint, o, form)
		if err != nil {
			return nil, fmt.Errorf("mint: %w", err)
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("mint: token endpoint answered %d %s", status, oauthError(body))
		}
		var tr struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   int64  `json:"expires_in"`
		}
		if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
			return nil, errors.New("mint: the token response has no access_token")
		}
		alg, exp, err := peekJWT(tr.AccessToken)
		if err != nil {
			return nil, fmt.Errorf("mint: %w (local validation needs JWT access tokens)", err)
		}
		if p.alg == "" {
			p.alg = alg
		}
		if exp.IsZero() && tr.ExpiresIn > 0 {
			exp = time.Now().Add(time.Duration(tr.ExpiresIn) * time.Second)
		}
		p.tokens = append(p.tokens, tr.AccessToken)
		p.exp = append(p.exp, exp)
	}
	return p, nil
}

var jwsAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// peekJWT reads, unverified, the alg of a JWS and its exp: which algorithm
// to allow, and the ground truth of when the token stops being good. The
// strategies verify the token themselves.
func peekJWT(tok string) (alg string, exp time.Time, err error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", exp, errors.New("the access token is not a JWT")
	}
	h, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	b, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	if err1 != nil || err2 != nil {
		return "", exp, errors.New("the access token is not a JWT")
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Exp float64 `json:"exp"`
	}
	if json.Unmarshal(h, &hdr) != nil || json.Unmarshal(b, &claims) != nil {
		return "", exp, errors.New("the access token is not a JWT")
	}
	if !slices.Contains(jwsAlgs, hdr.Alg) {
		return "", exp, fmt.Errorf("the access token's alg %q is not an asymmetric JWS algorithm", hdr.Alg)
	}
	if claims.Exp > 0 && claims.Exp < 1e11 {
		exp = time.Unix(int64(claims.Exp), 0)
	}
	return hdr.Alg, exp, nil
}

// runIssuerOne validates o.Requests requests with pool through a freshly
// built strategy.
func runIssuerOne(ctx context.Context, o *IssuerOptions, d *discovery, discoURL string, base http.RoundTripper, limiter *rate.Limiter,
	hc *http.Client, pool *tokenPool, spec strategySpec, sc *Scenario, tick func(int)) (*StrategyResult, error) {
	pt := newPoliteTransport(base, limiter, map[string]string{
		discoURL: "discovery", canonURL(d.JWKSURI): "jwks", canonURL(d.IntrospectionEndpoint): "introspect",
	})
	client := &http.Client{Transport: pt}
	reg := prometheus.NewRegistry()
	sm := strategy.NewMetrics(reg)
	keys, err := jwks.New(jwks.Config{Name: "bench", Issuer: o.Issuer, Algorithms: []string{pool.alg}},
		jwks.WithHTTPClient(client), jwks.WithMetrics(jwks.NewMetrics(reg)), jwks.WithLogger(quiet))
	if err != nil {
		return nil, err
	}
	defer keys.Close()
	ic := strategy.IssuerConfig{Name: "bench", Issuer: o.Issuer, Audiences: o.Audiences, AuthorizedParties: []string{o.ClientID},
		Profile: strategy.Profile(o.TokenProfile), Algorithms: []string{pool.alg}, Keys: keys}
	if spec.kind != StrategyLocal {
		ir, err := introspection.New(introspection.Config{Name: "bench", Endpoint: d.IntrospectionEndpoint, ClientID: o.ClientID, ClientSecret: o.ClientSecret},
			introspection.WithHTTPClient(client), introspection.WithMetrics(introspection.NewMetrics(reg)), introspection.WithLogger(quiet))
		if err != nil {
			return nil, err
		}
		defer ir.Close()
		ic.Introspector = tallyIntrospector{next: ir}
	}
	v, err := strategy.NewVerifier([]strategy.IssuerConfig{ic}, strategy.WithMetrics(sm))
	if err != nil {
		return nil, err
	}
	defer v.Close()
	var s strategy.Strategy
	switch spec.kind {
	case StrategyLocal:
		s = strategy.NewLocal(spec.name, v)
	case StrategyIntrospection:
		s = strategy.NewIntrospect(spec.name, v, strategy.IntrospectConfig{
			StandardMaxAge: o.Introspection.StandardMaxAge, SensitiveMaxAge: o.Introspection.SensitiveMaxAge})
	case StrategyTiered:
		t := spec.tiered
		lr := &lockedRand{r: rand.New(rand.NewPCG(o.Seed, 0x5851f42d4c957f2d))}
		s = strategy.NewTiered(spec.name, v, strategy.TieredConfig{
			MaxLocalAge: t.MaxLocalAge, SensitiveMaxAge: t.SensitiveMaxAge, StandardMaxAge: t.StandardMaxAge,
			SampleRate: t.SampleRate, OnUnavailable: strategy.OnUnavailable(t.OnUnavailable), Rand: lr.Float64,
		})
	}
	st := &stack{s: strategy.Instrument(spec.name, s, sm)}

	// The ground truth, in offsets from start on the real clock.
	start := time.Now()
	wl := &Workload{Scenario: sc, Tokens: make([]Token, len(pool.tokens))}
	for i := range wl.Tokens {
		wl.Tokens[i] = Token{IssuedAt: 0, ExpiresAt: NotRevoked, RevokedAt: NotRevoked}
		if !pool.exp[i].IsZero() {
			wl.Tokens[i].ExpiresAt = pool.exp[i].Sub(start)
		}
	}
	r := newRecorder(wl, spec, Options{})
	rng := rand.New(rand.NewPCG(o.Seed, uint64(len(spec.name))))
	revokeAt := o.Requests / 2
	var waitedBusy time.Duration
	runtime.GC()
	for i := range o.Requests {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			tick(i)
		}
		if i == revokeAt && o.Revoke > 0 {
			r.pause()
			if err := revokeSome(ctx, hc, d.RevocationEndpoint, o, pool, wl, rng, start); err != nil {
				return nil, err
			}
		}
		q := Request{Token: rng.IntN(len(pool.tokens)), Sensitive: rng.Float64() < o.SensitiveShare}
		r.resume()
		w0 := pt.wait()
		t0 := time.Now()
		dcs := st.validateLibrary(ctx, pool.tokens[q.Token], q.Sensitive)
		lat := time.Since(t0)
		waited := pt.wait() - w0
		waitedBusy += waited
		r.record(q, time.Since(start), dcs, max(lat-waited, 0))
	}
	r.pause()
	tick(o.Requests)
	res := r.result()
	// The limiter's waits are the harness's politeness, not the
	// validator's work.
	if busy := time.Duration(res.BusySeconds*float64(time.Second)) - waitedBusy; busy > 0 {
		res.BusySeconds = busy.Seconds()
		res.Throughput = float64(res.Validations) / res.BusySeconds
	}
	res.IdP.Introspections = pt.count("introspect")
	res.IdP.JWKSFetches = pt.count("jwks")
	res.IdP.DiscoveryFetches = pt.count("discovery")
	res.IdP.PeakIntrospectionsInFlight = min(res.IdP.Introspections, 1) // one validation at a time
	return res, nil
}

// revokeSome revokes o.Revoke tokens of the pool not revoked yet (RFC 7009
// §2.1, token_type_hint access_token) and records when.
func revokeSome(ctx context.Context, hc *http.Client, endpoint string, o *IssuerOptions, pool *tokenPool, wl *Workload, rng *rand.Rand, start time.Time) error {
	for _, i := range rng.Perm(len(pool.tokens))[:o.Revoke] {
		status, body, err := postForm(ctx, hc, endpoint, o, url.Values{"token": {pool.tokens[i]}, "token_type_hint": {"access_token"}})
		if err != nil {
			return fmt.Errorf("revoke: %w", err)
		}
		if status != http.StatusOK {
			return fmt.Errorf("revoke: revocation endpoint answered %d %s", status, oauthError(body))
		}
		wl.Tokens[i].RevokedAt = time.Since(start)
	}
	return nil
}

// writeIssuerRun writes the run bullets of a real-issuer report.md.
func (r *Report) writeIssuerRun(w io.Writer) {
	is := r.Issuer
	fmt.Fprintf(w, "- mode: real issuer %s, %s grant, tokens %s; validations one at a time through strategy.Strategy.Validate, the IdP in another process\n",
		is.URL, is.Grant, is.Alg)
	fmt.Fprintf(w, "- per strategy: a fresh pool of %d tokens and a freshly built tokenwarden, %d validations (%.0f%% sensitive)\n",
		is.Tokens, is.Requests, 100*r.Scenario.SensitiveShare)
	fmt.Fprintf(w, "- every request to the IdP waited for a shared limit of %g/s: %d token requests, %d revocations, %d discovery by the harness; %d by the strategies' clients\n",
		is.RateCap, is.MintCalls, is.RevokeCalls, is.DiscoveryCalls, is.ValidatorCalls)
	if is.RevocationMeasured {
		fmt.Fprintf(w, "- revocation: %d pool tokens revoked (RFC 7009) halfway through each strategy's validations\n", is.RevokedPerStrategy)
	} else {
		fmt.Fprintf(w, "- revocation: %s\n", is.RevocationNote)
	}
	fmt.Fprintf(w, "- introspection: %s\n", r.Scenario.Introspection)
	for _, t := range r.Scenario.Tiered {
		fmt.Fprintf(w, "- %s: %s\n", t.Name, t.Config)
	}
	for _, n := range is.Notes {
		fmt.Fprintf(w, "- **note**: %s\n", n)
	}
}
