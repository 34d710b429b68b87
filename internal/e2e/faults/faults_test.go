package faults

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tokenwarden/tokenwarden/idpsim"
	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/introspection"
	"github.com/tokenwarden/tokenwarden/jwks"
	"github.com/tokenwarden/tokenwarden/revocation"
	"github.com/tokenwarden/tokenwarden/strategy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The world's time constants (manual clock).
const (
	maxStale        = 10 * time.Minute
	unknownKIDEvery = time.Second
	breakerOpenFor  = 10 * time.Second
	standardMaxAge  = 30 * time.Second
	maxLocalAge     = 20 * time.Second
	// introTimeout is real time: it bounds a hanging IdP call.
	introTimeout = 500 * time.Millisecond
	// perProbe is how many decisions every valid probe must make in a window.
	perProbe = 12
	workers  = 4
)

// transport counts outgoing introspection requests and, while refused is
// set, sends them to a port nobody listens on (connection refused: the IdP
// process is down, not answering errors).
type transport struct {
	base       *http.Transport
	dead       string
	refused    atomic.Bool
	introCalls atomic.Int64
}

func (tr *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/token/introspect") {
		tr.introCalls.Add(1)
		if tr.refused.Load() {
			r = r.Clone(r.Context())
			r.URL.Host, r.Host = tr.dead, tr.dead
		}
	}
	return tr.base.RoundTrip(r)
}

// world is every strategy over one idpsim realm, as tokenwarden wires them:
// one key resolver, one introspection client (cache, breaker) and one
// revocation store shared by all strategies, on one manual clock.
type world struct {
	idp    *idpsim.Server
	clk    *clock.Manual
	tr     *transport
	keys   *jwks.Resolver
	client *introspection.Client
	v      *strategy.Verifier

	local, intro, tiered, agedLocal, agedClosed strategy.Strategy
}

func newWorld(t *testing.T) *world {
	t.Helper()
	clk := clock.NewManual(time.Now().Truncate(time.Second))
	cfg := idpsim.DefaultConfig()
	// Tokens and sessions outlive every clock step of the test, so that no
	// valid token becomes inactive at the IdP for its own reasons.
	cfg.Realms[0].AccessTokenLifespan = 2 * time.Hour
	cfg.Realms[0].SSOSessionIdle = 24 * time.Hour
	cfg.Realms[0].SSOSessionMax = 48 * time.Hour
	// An audience mapper on demo: its tokens carry aud my-api.
	cfg.Realms[0].Clients[0].Audiences = []string{"my-api"}
	idp, err := idpsim.Start(cfg, "127.0.0.1:0", idpsim.WithClock(clk), idpsim.WithSeed(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp.Close() })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	_ = ln.Close()
	tr := &transport{base: http.DefaultTransport.(*http.Transport).Clone(), dead: dead}
	t.Cleanup(tr.base.CloseIdleConnections)
	hc := &http.Client{Transport: tr}

	w := &world{idp: idp, clk: clk, tr: tr}
	w.keys, err = jwks.New(jwks.Config{Name: "dev", Issuer: idp.Issuer("dev"), Algorithms: []string{"RS256"},
		UnknownKIDMinInterval: unknownKIDEvery, MaxStale: maxStale}, jwks.WithClock(clk), jwks.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.keys.Close)
	w.client, err = introspection.New(introspection.Config{
		Name: "dev", Endpoint: idp.Issuer("dev") + "/protocol/openid-connect/token/introspect",
		ClientID: "demo", ClientSecret: []byte("demo-secret"), Timeout: introTimeout,
		BreakerOpenTimeout: breakerOpenFor,
	}, introspection.WithClock(clk), introspection.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.client.Close)
	store, err := revocation.NewMemory(revocation.Config{Window: 3 * time.Hour}, revocation.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	w.v, err = strategy.NewVerifier([]strategy.IssuerConfig{{
		Name: "dev", Issuer: idp.Issuer("dev"), Audiences: []string{"my-api"}, AuthorizedParties: []string{"demo"},
		Keys: w.keys, Introspector: w.client,
	}}, strategy.WithClock(clk), strategy.WithRevocation(store))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.v.Close)
	w.local = strategy.NewLocal("local", w.v)
	w.intro = strategy.NewIntrospect("introspection", w.v, strategy.IntrospectConfig{StandardMaxAge: standardMaxAge})
	sens := []string{"payments:write"}
	w.tiered = strategy.NewTiered("tiered", w.v, strategy.TieredConfig{SensitiveScopes: sens, StandardMaxAge: standardMaxAge})
	w.agedLocal = strategy.NewTiered("aged-local", w.v, strategy.TieredConfig{SensitiveScopes: sens,
		StandardMaxAge: standardMaxAge, MaxLocalAge: maxLocalAge, OnUnavailable: strategy.FailLocal})
	w.agedClosed = strategy.NewTiered("aged-closed", w.v, strategy.TieredConfig{SensitiveScopes: sens,
		StandardMaxAge: standardMaxAge, MaxLocalAge: maxLocalAge, OnUnavailable: strategy.FailClosed})
	return w
}

// item is one decision the load makes over and over.
type item struct {
	probe string
	st    strategy.Strategy
	req   strategy.Request
	valid bool
}

// mint returns a fresh client_credentials access token of demo.
func (w *world) mint(t *testing.T, scopes ...string) string {
	t.Helper()
	tr, err := w.idp.ClientCredentials("dev", "demo", scopes...)
	if err != nil {
		t.Fatal(err)
	}
	return tr.AccessToken
}

// sign signs claims with the realm's active key (a token the IdP never issued).
func (w *world) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	tok, err := w.idp.Sign("dev", map[string]any{"typ": "JWT"}, claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// invalidTokens are refused by every strategy whatever the IdP's state: a
// bad signature, an expired token, a token for another audience and party.
// Each has its own jti, so nothing learned about them touches a valid token.
func (w *world) invalidTokens(t *testing.T) map[string]string {
	now := w.clk.Now()
	base := func(jti string) map[string]any {
		return map[string]any{"iss": w.idp.Issuer("dev"), "typ": "Bearer", "azp": "demo", "aud": "my-api", "sub": "svc",
			"jti": jti, "iat": now.Unix(), "exp": now.Add(2 * time.Hour).Unix(), "scope": "openid"}
	}
	a := strings.Split(w.sign(t, base("bad-sig-a")), ".")
	b := strings.Split(w.sign(t, base("bad-sig-b")), ".")
	expired := base("expired")
	expired["iat"], expired["exp"] = now.Add(-3*time.Hour).Unix(), now.Add(-2*time.Hour).Unix()
	aud := base("wrong-aud")
	aud["aud"] = "other-api"
	return map[string]string{
		"bad-signature": a[0] + "." + a[1] + "." + b[2],
		"expired":       w.sign(t, expired),
		"wrong-aud":     w.sign(t, aud),
	}
}

// items builds the load: every valid probe for the token generation gen
// (std: no sensitive scope; sens: payments:write), plus every invalid token
// against every strategy.
func (w *world) items(gen string, std, sens string, invalid map[string]string) []item {
	strategies := []struct {
		name string
		st   strategy.Strategy
	}{{"local", w.local}, {"introspection", w.intro}, {"tiered", w.tiered}, {"aged-local", w.agedLocal}, {"aged-closed", w.agedClosed}}
	var out []item
	for _, s := range strategies {
		out = append(out, item{probe: s.name + "/" + gen, st: s.st, req: strategy.Request{Token: std}, valid: true})
	}
	out = append(out, item{probe: "tiered-sensitive/" + gen, st: w.tiered,
		req: strategy.Request{Token: sens, Scopes: []string{"payments:write"}}, valid: true})
	for name, tok := range invalid {
		for _, s := range strategies {
			out = append(out, item{probe: s.name + "/invalid:" + name, st: s.st, req: strategy.Request{Token: tok}})
		}
	}
	return out
}

// counts are the outcomes of one probe in one phase.
type counts struct {
	ok, degraded, unavailable, refused int
}

func (c counts) total() int { return c.ok + c.unavailable + c.refused }

// load runs the workers and records every decision per phase and probe.
// Mutations of the world (faults, clock steps, token swaps) happen under
// gate's write lock, so every decision sees one consistent world and is
// attributed to the phase it ran in.
type load struct {
	t     *testing.T
	gate  sync.RWMutex
	phase string
	items []item

	mu         sync.Mutex
	stats      map[string]map[string]*counts
	order      []string
	violations atomic.Int64
}

func (l *load) record(phase string, it item, res *strategy.Result, err error) {
	if err == nil && res == nil {
		err = errors.New("nil result and nil error")
	}
	switch {
	case err == nil && !it.valid:
		l.violation("phase %s: %s: invalid token ACCEPTED (decided by %s)", phase, it.probe, res.DecidedBy)
	case err != nil && it.valid && !errors.Is(err, strategy.ErrUnavailable):
		l.violation("phase %s: %s: valid token refused as %v (reason %s): %v",
			phase, it.probe, strategy.KindOf(err), strategy.ReasonOf(err), err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.stats[phase]
	if m == nil {
		m = map[string]*counts{}
		l.stats[phase] = m
		l.order = append(l.order, phase)
	}
	c := m[it.probe]
	if c == nil {
		c = &counts{}
		m[it.probe] = c
	}
	switch {
	case err == nil:
		c.ok++
		if res.Degraded {
			c.degraded++
		}
	case errors.Is(err, strategy.ErrUnavailable):
		c.unavailable++
	default:
		c.refused++
	}
}

func (l *load) violation(format string, args ...any) {
	if l.violations.Add(1) <= 20 {
		l.t.Errorf(format, args...)
	}
}

func (l *load) run(ctx context.Context, wg *sync.WaitGroup, worker int) {
	defer wg.Done()
	for i := worker * 5; ctx.Err() == nil; i++ {
		l.gate.RLock()
		phase, items := l.phase, l.items
		it := items[i%len(items)]
		// Real time bounds a decision; introTimeout bounds a hanging IdP.
		vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		res, err := it.st.Validate(vctx, it.req)
		cancel()
		if ctx.Err() == nil || err == nil {
			l.record(phase, it, res, err)
		}
		l.gate.RUnlock()
	}
}

// mutate changes the world with the load paused, then starts phase.
func (l *load) mutate(phase string, f func()) {
	l.gate.Lock()
	defer l.gate.Unlock()
	if f != nil {
		f()
	}
	l.phase = phase
}

// window waits until every valid probe of the current items made perProbe
// decisions in phase, and returns the phase's counts. It fails the test
// rather than wait forever (the load is stuck, not slow).
func (l *load) window(phase string) map[string]counts {
	l.t.Helper()
	l.gate.RLock()
	var valid []string
	for _, it := range l.items {
		if it.valid {
			valid = append(valid, it.probe)
		}
	}
	l.gate.RUnlock()
	deadline := time.Now().Add(60 * time.Second)
	for {
		l.mu.Lock()
		done := true
		for _, p := range valid {
			if c := l.stats[phase][p]; c == nil || c.total() < perProbe {
				done = false
				break
			}
		}
		l.mu.Unlock()
		if done {
			return l.snapshot(phase)
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("phase %s: the load made no progress", phase)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (l *load) snapshot(phase string) map[string]counts {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]counts{}
	for p, c := range l.stats[phase] {
		out[p] = *c
	}
	return out
}

// expect checks a phase's counts of the valid probes named by prefix.
type expect int

const (
	allOK          expect = iota // every decision accepted, none degraded
	allDegraded                  // every decision accepted on local evidence (on_unavailable: local)
	allUnavailable               // every decision 503
	okOrUnavail                  // transition: either (the invariants still hold)
)

func (l *load) check(phase string, got map[string]counts, want map[string]expect) {
	l.t.Helper()
	for prefix, e := range want {
		for p, c := range got {
			// Invalid tokens are judged by record; "cached" probes are
			// observed, not asserted (see jwks-past-max-stale).
			if !strings.HasPrefix(p, prefix+"/") || strings.Contains(p, "/invalid:") || strings.HasSuffix(p, "/cached") {
				continue
			}
			bad := false
			switch e {
			case allOK:
				bad = c.ok != c.total() || c.degraded != 0
			case allDegraded:
				bad = c.ok != c.total() || c.degraded != c.ok
			case allUnavailable:
				bad = c.unavailable != c.total()
			}
			if bad {
				l.t.Errorf("phase %s: %s: %+v, want %s", phase, p, c, [...]string{"all accepted", "all degraded", "all unavailable", "any"}[e])
			}
		}
	}
}

// TestFaultsUnderLoad is the fault matrix. Each phase changes the world with
// the load paused, then lets every valid probe make perProbe decisions.
func TestFaultsUnderLoad(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	baseGoroutines := runtime.NumGoroutine()

	invalid := w.invalidTokens(t)
	std, sens := w.mint(t), w.mint(t, "payments:write")
	l := &load{t: t, stats: map[string]map[string]*counts{}}
	l.items = w.items("t0", std, sens, invalid)
	l.phase = "baseline"

	lctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go l.run(lctx, &wg, i)
	}
	stopped := false
	stopLoad := func() {
		if !stopped {
			stopped = true
			stop()
			wg.Wait()
		}
	}
	defer stopLoad()

	keyAge := func() time.Duration { return w.clk.Now().Sub(w.keys.LastSuccess()) }
	all := map[string]expect{"local": allOK, "introspection": allOK, "tiered": allOK, "tiered-sensitive": allOK, "aged-local": allOK, "aged-closed": allOK}
	type row struct{ phase, note string }
	var notes []row
	note := func(phase, format string, args ...any) {
		notes = append(notes, row{phase, fmt.Sprintf(format, args...)})
	}

	// Baseline: everything healthy.
	l.check("baseline", l.window("baseline"), all)

	// JWKS down: the certs endpoint answers 503. Stale keys keep serving
	// while the key age grows; past max_stale, local verification is 503.
	certs0 := w.idp.Calls(idpsim.EndpointCerts)
	l.mutate("jwks-down-6m", func() {
		w.idp.SetFault(idpsim.EndpointCerts, idpsim.Fault{ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable})
		w.clk.Advance(6 * time.Minute) // past the refresh interval (5m): a background refresh fails
	})
	l.check("jwks-down-6m", l.window("jwks-down-6m"), all)
	age6 := keyAge()
	l.mutate("jwks-down-8m", func() { w.clk.Advance(2 * time.Minute) })
	l.check("jwks-down-8m", l.window("jwks-down-8m"), all)
	age8 := keyAge()
	if age6 < 6*time.Minute || age8 < age6+2*time.Minute {
		t.Errorf("key age does not grow while the JWKS is down: %v then %v", age6, age8)
	}
	certsDown := w.idp.Calls(idpsim.EndpointCerts) - certs0
	note("jwks-down-6m..8m", "key age %v -> %v; certs calls while down %d (rate-limited refresh)", age6, age8, certsDown)
	if certsDown < 1 || certsDown > 4 {
		t.Errorf("certs calls while down = %d, want a few rate-limited refresh attempts", certsDown)
	}

	// Past max_stale: fresh tokens (not in the verified-claims cache) need
	// keys, and there are none young enough: 503, never 401. Tokens verified
	// within the cache TTL are still judged from the cache (recorded, not
	// asserted: either outcome keeps the invariants).
	certs1 := w.idp.Calls(idpsim.EndpointCerts)
	l.mutate("jwks-past-max-stale", func() {
		w.clk.Advance(3 * time.Minute) // 11m > max_stale 10m
		l.items = append(w.items("fresh", w.mint(t), w.mint(t, "payments:write"), invalid), w.items("cached", std, sens, nil)...)
	})
	got := l.window("jwks-past-max-stale")
	l.check("jwks-past-max-stale", got, map[string]expect{
		"local": allUnavailable, "tiered": allUnavailable, "tiered-sensitive": allUnavailable,
		"aged-local": allUnavailable, "aged-closed": allUnavailable, "introspection": allOK,
	})
	note("jwks-past-max-stale", "key age %v; cached local/cached %+v; certs calls %d", keyAge(), got["local/cached"], w.idp.Calls(idpsim.EndpointCerts)-certs1)
	if n := w.idp.Calls(idpsim.EndpointCerts) - certs1; n > 2 {
		t.Errorf("certs calls past max_stale with a frozen clock = %d: on-demand loads are not rate-limited", n)
	}

	// JWKS back: the next load (one per unknown_kid_min_interval) succeeds.
	std, sens = w.mint(t), w.mint(t, "payments:write")
	l.mutate("jwks-recovered", func() {
		w.idp.ClearFaults()
		w.clk.Advance(2 * unknownKIDEvery)
		l.items = w.items("t1", std, sens, invalid)
	})
	l.check("jwks-recovered", l.window("jwks-recovered"), all)
	if a := keyAge(); a > 2*unknownKIDEvery {
		t.Errorf("key age after recovery = %v", a)
	}

	// Key rotation: tokens of the new key verify after exactly one refresh
	// (coalesced), tokens of the old (now passive) key keep verifying.
	kid0 := w.idp.ActiveKID("dev")
	certs2 := w.idp.Calls(idpsim.EndpointCerts)
	l.mutate("key-rotated", func() {
		if _, err := w.idp.RotateKey("dev"); err != nil {
			t.Fatal(err)
		}
		w.clk.Advance(2 * unknownKIDEvery)
		l.items = append(w.items("new-key", w.mint(t), w.mint(t, "payments:write"), invalid), w.items("old-key", std, sens, nil)...)
	})
	l.check("key-rotated", l.window("key-rotated"), all)
	if kid1 := w.idp.ActiveKID("dev"); kid1 == kid0 {
		t.Fatal("key did not rotate")
	}
	if n := w.idp.Calls(idpsim.EndpointCerts) - certs2; n != 1 {
		t.Errorf("certs calls after rotation = %d, want exactly 1 (one coalesced refresh)", n)
	}
	note("key-rotated", "certs calls %d", w.idp.Calls(idpsim.EndpointCerts)-certs2)

	// Introspection faults. Each starts 31s later (cached answers too old
	// for standard_max_age, tokens older than max_local_age): sensitive
	// requests are 503, introspection is 503, aged tokens follow the fail
	// mode (local: accepted, degraded; fail_closed: 503), local decisions
	// are untouched, and the breaker opens so the IdP stops being called.
	// Recovery: the fault is cleared, the clock passes the breaker's open
	// timeout, one probe closes it and every decision is good again.
	down := map[string]expect{
		"local": allOK, "tiered": allOK, "tiered-sensitive": allUnavailable,
		"introspection": allUnavailable, "aged-local": allDegraded, "aged-closed": allUnavailable,
	}
	type fault struct {
		name  string
		set   func()
		fails bool
	}
	faults := []fault{
		{"intro-slow", func() { w.idp.SetFault(idpsim.EndpointIntrospect, idpsim.Fault{Latency: 50 * time.Millisecond}) }, false},
		{"intro-down-503", func() {
			w.idp.SetFault(idpsim.EndpointIntrospect, idpsim.Fault{ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable})
		}, true},
		{"intro-5xx-500", func() { w.idp.SetFault(idpsim.EndpointIntrospect, idpsim.Fault{ErrorRate: 1}) }, true},
		{"intro-garbage", func() { w.idp.SetFault(idpsim.EndpointIntrospect, idpsim.Fault{Garbage: true}) }, true},
		{"intro-hang", func() { w.idp.SetFault(idpsim.EndpointIntrospect, idpsim.Fault{Hang: true}) }, true},
		{"intro-refused", func() { w.tr.refused.Store(true) }, true},
	}
	for _, f := range faults {
		c0 := w.tr.introCalls.Load()
		l.mutate(f.name, func() {
			f.set()
			w.clk.Advance(standardMaxAge + time.Second)
		})
		got := l.window(f.name)
		if !f.fails {
			l.check(f.name, got, map[string]expect{"local": allOK, "introspection": allOK, "tiered": allOK, "tiered-sensitive": allOK, "aged-local": allOK, "aged-closed": allOK})
			if w.client.BreakerOpen() {
				t.Errorf("%s: breaker opened on a slow but healthy IdP", f.name)
			}
			note(f.name, "intro calls %d, peak in flight at the IdP %d, breaker closed", w.tr.introCalls.Load()-c0, w.idp.PeakInFlight(idpsim.EndpointIntrospect))
			l.mutate(f.name+"/cleared", func() { w.idp.ClearFaults() })
			continue
		}
		l.check(f.name, got, down)
		if !w.client.BreakerOpen() {
			t.Errorf("%s: breaker not open after %d failing calls", f.name, w.tr.introCalls.Load()-c0)
		}
		// A second window with the breaker open and the clock frozen:
		// no call reaches the transport.
		c1 := w.tr.introCalls.Load()
		open := f.name + "/breaker-open"
		l.mutate(open, nil)
		l.check(open, l.window(open), down)
		if c2 := w.tr.introCalls.Load(); c2 != c1 {
			t.Errorf("%s: %d introspection calls while the breaker was open", f.name, c2-c1)
		}
		note(f.name, "intro calls until open %d, while open %d; breaker open %v", c1-c0, w.tr.introCalls.Load()-c1, w.client.BreakerOpen())

		rec := f.name + "/recovered"
		r0 := w.tr.introCalls.Load()
		l.mutate(rec, func() {
			w.idp.ClearFaults()
			w.tr.refused.Store(false)
			w.clk.Advance(breakerOpenFor + time.Second)
		})
		l.window(rec) // the half-open probe, then the breaker closes
		if w.client.BreakerOpen() {
			t.Errorf("%s: breaker still open after recovery", f.name)
		}
		if w.tr.introCalls.Load() == r0 {
			t.Errorf("%s: no introspection call after recovery", f.name)
		}
		steady := f.name + "/steady"
		l.mutate(steady, nil)
		l.check(steady, l.window(steady), all)
	}

	stopLoad()

	// Report the matrix: every valid probe, and the invalid tokens summed
	// per phase (none may ever be accepted).
	var b strings.Builder
	fmt.Fprintf(&b, "%-28s %-28s %6s %8s %6s %6s\n", "phase", "probe", "ok", "degraded", "503", "401")
	for _, phase := range l.order {
		probes := make([]string, 0, len(l.stats[phase]))
		var inv counts
		for p, c := range l.stats[phase] {
			if strings.Contains(p, "/invalid:") {
				inv.ok += c.ok
				inv.unavailable += c.unavailable
				inv.refused += c.refused
				continue
			}
			probes = append(probes, p)
		}
		slices.Sort(probes)
		for _, p := range probes {
			c := l.stats[phase][p]
			fmt.Fprintf(&b, "%-28s %-28s %6d %8d %6d %6d\n", phase, p, c.ok, c.degraded, c.unavailable, c.refused)
		}
		fmt.Fprintf(&b, "%-28s %-28s %6d %8s %6d %6d\n", phase, "(invalid tokens)", inv.ok, "", inv.unavailable, inv.refused)
	}
	for _, n := range notes {
		fmt.Fprintf(&b, "note %-25s %s\n", n.phase, n.note)
	}
	t.Logf("fault matrix:\n%s", b.String())
	if n := l.violations.Load(); n > 0 {
		t.Errorf("%d invariant violations", n)
	}

	// Goroutines return to the baseline once the load stops and idle
	// connections are closed (goleak checks the rest after every test).
	w.tr.base.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > baseGoroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > baseGoroutines {
		t.Errorf("goroutines: %d after the load, %d before", n, baseGoroutines)
	}
}
