package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokenwarden/tokenwarden/introspection"
	"github.com/tokenwarden/tokenwarden/jwks"
	"github.com/tokenwarden/tokenwarden/revocation"
	"github.com/tokenwarden/tokenwarden/strategy"
	"github.com/tokenwarden/tokenwarden/validator"
)

// The strategies every scenario can run; tiered variants add more.
const (
	StrategyLocal         = "local"         // local verification + pushed revocation (store)
	StrategyLocalPure     = "local-pure"    // plain JWT verification, no revocation store
	StrategyIntrospection = "introspection" // RFC 7662 for every token (+ store)
	StrategyTiered        = "tiered"        // local first, the IdP when a rule fires (+ store)
)

var baseStrategies = []string{StrategyLocal, StrategyLocalPure, StrategyIntrospection, StrategyTiered}

// strategySpec is one strategy to run.
type strategySpec struct {
	name   string
	kind   string // one of the base names
	tiered TieredSpec
	grid   bool // one of the scenario's grid configurations
}

// StrategyNames lists the strategies a scenario runs by default: the four
// base strategies, its tiered variants and its grid configurations.
func StrategyNames(s *Scenario) []string {
	out := append([]string{}, baseStrategies...)
	for _, v := range s.Variants {
		out = append(out, v.Name)
	}
	for _, g := range s.GridSpecs() {
		out = append(out, g.Name)
	}
	return out
}

func resolveStrategies(s *Scenario, names []string, noGrid bool) ([]strategySpec, error) {
	if len(names) == 0 {
		names = StrategyNames(s)
		if noGrid {
			names = names[:len(names)-len(s.GridSpecs())]
		}
	}
	grid := s.GridSpecs()
	var out []strategySpec
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		switch n {
		case StrategyLocal, StrategyLocalPure, StrategyIntrospection:
			out = append(out, strategySpec{name: n, kind: n})
		case StrategyTiered:
			out = append(out, strategySpec{name: n, kind: n, tiered: s.Tiered})
		default:
			found := false
			for _, v := range s.Variants {
				if v.Name == n {
					out = append(out, strategySpec{name: n, kind: StrategyTiered, tiered: v})
					found = true
				}
			}
			for _, g := range grid {
				if g.Name == n {
					out = append(out, strategySpec{name: n, kind: StrategyTiered, tiered: g, grid: true})
					found = true
				}
			}
			if !found {
				return nil, fmt.Errorf("bench: unknown strategy %q (scenario %s has %s)", n, s.Name, strings.Join(StrategyNames(s), ", "))
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("bench: no strategy to run")
	}
	return out, nil
}

// decision is what one validation returned, as the harness sees it.
type decision struct {
	outcome  string // strategy.Outcome values
	reason   string
	degraded bool
	triggers []strategy.Trigger
	// idpCalls is the number of introspection calls the validation sent to
	// the IdP; -1 when unknown.
	idpCalls int
}

// callTally counts the IdP calls of one validation; the validation's ctx
// carries it to tallyIntrospector.
type callTally struct{ n atomic.Int32 }

type tallyKey struct{}

// tallyIntrospector counts, per validation, the introspections that
// reached the IdP: answers neither cached nor joined to another caller's
// call. Failed calls count unless nothing was sent (breaker open, budget
// exhausted). The validation's own goroutine calls Introspect, so the
// validation's ctx is at hand even when the IdP call itself runs on the
// client's lifetime context.
type tallyIntrospector struct{ next strategy.Introspector }

func (t tallyIntrospector) Introspect(ctx context.Context, token string, maxAge time.Duration) (*introspection.Answer, error) {
	a, err := t.next.Introspect(ctx, token, maxAge)
	tally, _ := ctx.Value(tallyKey{}).(*callTally)
	switch {
	case tally == nil:
	case err == nil:
		if a != nil && !a.Cached && !a.Shared {
			tally.n.Add(1)
		}
	case !errors.Is(err, introspection.ErrBreakerOpen) && !errors.Is(err, introspection.ErrBudget):
		tally.n.Add(1)
	}
	return a, err
}

// validateFunc performs one validation through the real code path.
type validateFunc func(ctx context.Context, token string, sensitive bool) decision

// stack is one strategy's freshly built tokenwarden, wired like
// cmd/tokenwarden: one key resolver, one introspection client (cache,
// coalescing, breaker) and one revocation store for the issuer, one
// Verifier, the instrumented strategy, and in --http mode the validator
// service on loopback.
type stack struct {
	keys   *jwks.Resolver
	client *introspection.Client
	store  *revocation.Memory
	v      *strategy.Verifier
	s      strategy.Strategy

	validate validateFunc

	// --http mode
	cancel context.CancelFunc
	served chan error
	hc     *http.Client
	tr     *http.Transport
}

// quiet discards the components' logs: a benchmark run logs every learned
// revocation otherwise.
var quiet = slog.New(slog.DiscardHandler)

// lockedRand is a seeded source safe for concurrent use, so that tiered
// sampling is reproducible.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func (l *lockedRand) Float64() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64()
}

func buildStack(w *world, spec strategySpec, o Options) (*stack, error) {
	sc := w.wl.Scenario
	reg := prometheus.NewRegistry()
	sm := strategy.NewMetrics(reg)
	st := &stack{}
	ok := false
	defer func() {
		if !ok {
			st.close()
		}
	}()
	var err error
	st.keys, err = jwks.New(jwks.Config{Name: realmName, Issuer: w.issuer(), Algorithms: []string{sc.SigningAlg}},
		jwks.WithClock(w.clk), jwks.WithMetrics(jwks.NewMetrics(reg)), jwks.WithLogger(quiet))
	if err != nil {
		return nil, err
	}
	ic := strategy.IssuerConfig{Name: realmName, Issuer: w.issuer(), AuthorizedParties: []string{ClientApp, ClientLegacy},
		Algorithms: []string{sc.SigningAlg}, Keys: st.keys}
	if spec.kind == StrategyIntrospection || spec.kind == StrategyTiered {
		st.client, err = introspection.New(introspection.Config{
			Name: realmName, Endpoint: w.issuer() + "/protocol/openid-connect/token/introspect",
			ClientID: introspectionClient, ClientSecret: []byte(introspectionSecret),
		}, introspection.WithClock(w.clk), introspection.WithMetrics(introspection.NewMetrics(reg)))
		if err != nil {
			return nil, err
		}
		ic.Introspector = tallyIntrospector{next: st.client}
	}
	vopts := []strategy.VerifierOption{strategy.WithClock(w.clk), strategy.WithMetrics(sm)}
	if spec.kind != StrategyLocalPure {
		// The restart window is off: the store starts with the run, and
		// tokens from before it would all be watched, which is not the
		// steady state the run measures.
		st.store, err = revocation.NewMemory(revocation.Config{Window: max(time.Hour, 2*sc.TokenLifetime)},
			revocation.WithClock(w.clk), revocation.WithMetrics(revocation.NewMetrics(reg)), revocation.WithLogger(quiet))
		if err != nil {
			return nil, err
		}
		vopts = append(vopts, strategy.WithRevocation(st.store))
	}
	st.v, err = strategy.NewVerifier([]strategy.IssuerConfig{ic}, vopts...)
	if err != nil {
		return nil, err
	}
	var s strategy.Strategy
	switch spec.kind {
	case StrategyLocal, StrategyLocalPure:
		s = strategy.NewLocal(spec.name, st.v)
	case StrategyIntrospection:
		s = strategy.NewIntrospect(spec.name, st.v, strategy.IntrospectConfig{
			StandardMaxAge: sc.Introspection.StandardMaxAge, SensitiveMaxAge: sc.Introspection.SensitiveMaxAge})
	case StrategyTiered:
		t := spec.tiered
		lr := &lockedRand{r: rand.New(rand.NewPCG(sc.Seed, 0x5851f42d4c957f2d))}
		s = strategy.NewTiered(spec.name, st.v, strategy.TieredConfig{
			MaxLocalAge: t.MaxLocalAge, SensitiveMaxAge: t.SensitiveMaxAge, StandardMaxAge: t.StandardMaxAge,
			SampleRate: t.SampleRate, OnUnavailable: strategy.OnUnavailable(t.OnUnavailable), Rand: lr.Float64,
		})
	}
	st.s = strategy.Instrument(spec.name, s, sm)

	var lv *revocation.LogoutValidator
	var nv *revocation.NotBeforeValidator
	if st.store != nil {
		keys := map[string]revocation.KeySource{w.issuer(): st.keys}
		algs := []string{sc.SigningAlg}
		lv, err = revocation.NewLogoutValidator(revocation.LogoutConfig{Issuers: keys, Algorithms: algs, Audiences: []string{ClientApp}},
			revocation.WithClock(w.clk), revocation.WithLogger(quiet))
		if err != nil {
			return nil, err
		}
		nv, err = revocation.NewNotBeforeValidator(revocation.NotBeforeConfig{Issuers: keys, Algorithms: algs, Resource: ClientApp},
			revocation.WithClock(w.clk), revocation.WithLogger(quiet))
		if err != nil {
			return nil, err
		}
	}
	if o.HTTP {
		if err := st.serve(w, spec.name, lv, nv, o.Concurrency); err != nil {
			return nil, err
		}
	} else {
		st.validate = st.validateLibrary
		if st.store != nil {
			w.setReceiver(&receiver{store: st.store, logout: lv, notBefore: nv})
		} else {
			w.setReceiver(nil)
		}
	}
	ok = true
	return st, nil
}

func (st *stack) validateLibrary(ctx context.Context, token string, sensitive bool) decision {
	tally := &callTally{}
	res, err := st.s.Validate(context.WithValue(ctx, tallyKey{}, tally), strategy.Request{Token: token, Sensitive: sensitive})
	d := decision{outcome: strategy.Outcome(err), reason: string(strategy.ReasonOf(err)), idpCalls: int(tally.n.Load())}
	if res != nil {
		d.degraded, d.triggers = res.Degraded, res.Triggers
	} else if e := (*strategy.Error)(nil); errors.As(err, &e) {
		d.triggers = e.Triggers
	}
	return d
}

// serve runs the validator service for this strategy on loopback (like
// cmd/tokenwarden's wiring) and routes the IdP's pushes to its admin
// handler's revocation endpoints.
func (st *stack) serve(w *world, name string, lv *revocation.LogoutValidator, nv *revocation.NotBeforeValidator, conc int) error {
	svc, err := validator.New(validator.Config{Strategies: map[string]strategy.Strategy{name: st.s}, DefaultStrategy: name},
		validator.WithClock(w.clk), validator.WithLogger(quiet))
	if err != nil {
		return err
	}
	if st.store != nil {
		if err := svc.MountRevocation(validator.RevocationConfig{Store: st.store, Logout: lv, NotBefore: nv, Clock: w.clk, Logger: quiet}); err != nil {
			return err
		}
		w.setReceiver(svc.AdminHandler())
	} else {
		w.setReceiver(nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st.cancel = cancel
	st.served = make(chan error, 1)
	addr := make(chan string, 1)
	go func() {
		st.served <- validator.Serve(ctx, validator.ServerConfig{Addr: "127.0.0.1:0", MaxInFlight: -1}, svc.Handler(), nil, nil,
			func(main, _ net.Addr) { addr <- main.String() })
	}()
	var base string
	select {
	case base = <-addr:
	case err := <-st.served:
		st.served = nil
		return fmt.Errorf("bench: validator service: %w", err)
	}
	st.tr = http.DefaultTransport.(*http.Transport).Clone()
	st.tr.MaxIdleConnsPerHost = max(conc, 1) + 1
	st.hc = &http.Client{Transport: st.tr}
	url := "http://" + base + "/v1/validate"
	st.validate = func(ctx context.Context, token string, sensitive bool) decision {
		return st.validateHTTP(ctx, url, token, sensitive)
	}
	return nil
}

// inactiveReasons are the 401 reasons of ErrInactive (the others of a 401
// are ErrInvalid or ErrNotApplicable).
var inactiveReasons = map[string]bool{
	string(strategy.ReasonExpired): true, string(strategy.ReasonNotBefore): true,
	string(strategy.ReasonRevoked): true, string(strategy.ReasonInactive): true,
}

var sensitiveBody = []byte(`{"sensitive":true}`)

// validateHTTP is one POST /v1/validate, the token in the Authorization
// header as a resource server's gateway would send it.
func (st *stack) validateHTTP(ctx context.Context, url, token string, sensitive bool) decision {
	var body io.Reader = http.NoBody
	if sensitive {
		body = bytes.NewReader(sensitiveBody)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return decision{outcome: "unavailable", reason: "transport"}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if sensitive {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := st.hc.Do(req)
	if err != nil {
		return decision{outcome: "unavailable", reason: "transport"}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var b struct {
		Reason   string             `json:"reason"`
		Degraded bool               `json:"degraded"`
		Triggers []strategy.Trigger `json:"triggers"`
	}
	_ = json.Unmarshal(raw, &b)
	// The service's handler runs on the server's context: the runner
	// counts this validation's IdP calls itself (see replay).
	d := decision{reason: b.Reason, degraded: b.Degraded, triggers: b.Triggers, idpCalls: -1}
	switch resp.StatusCode {
	case http.StatusOK:
		d.outcome = "accepted"
	case http.StatusForbidden:
		d.outcome = "forbidden"
	case http.StatusServiceUnavailable:
		d.outcome = "unavailable"
	case http.StatusUnauthorized:
		d.outcome = "invalid"
		if inactiveReasons[b.Reason] {
			d.outcome = "inactive"
		}
	default:
		d.outcome, d.reason = "invalid", fmt.Sprintf("http_%d", resp.StatusCode)
	}
	return d
}

func (st *stack) close() {
	if st.cancel != nil {
		st.cancel()
		if st.served != nil {
			<-st.served
		}
	}
	if st.tr != nil {
		st.tr.CloseIdleConnections()
	}
	if st.client != nil {
		st.client.Close()
	}
	if st.v != nil {
		st.v.Close()
	}
	if st.keys != nil {
		st.keys.Close()
	}
}

// receiver is the library-mode resource server's revocation endpoint: it
// validates what the IdP pushes exactly as the service does (OIDC
// Back-Channel Logout §2.6, Keycloak's PUSH_NOT_BEFORE) and records the
// events in the current run's store.
type receiver struct {
	store     revocation.Store
	logout    *revocation.LogoutValidator
	notBefore *revocation.NotBeforeValidator
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	var events []revocation.Event
	switch r.URL.Path {
	case backchannelPath:
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := r.ParseForm(); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		c, err := rc.logout.Validate(r.Context(), r.PostForm.Get("logout_token"))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		events = rc.logout.Events(c)
	case "/k_push_not_before":
		n, err := rc.notBefore.Validate(r.Context(), body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		events = rc.notBefore.Events(n)
	default:
		w.WriteHeader(http.StatusNotFound)
		return
	}
	for _, e := range events {
		if err := rc.store.Add(r.Context(), e); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}
