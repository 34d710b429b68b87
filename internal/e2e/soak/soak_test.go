package soak

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
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

// knobs are the soak's settings, from the environment:
//
//	TW_SOAK_DURATION  total run time (required; the test skips without it)
//	TW_SOAK_INTERVAL  sampling interval (default duration/60, within 1s..30s)
//	TW_SOAK_RATE      target validations per second (default 2000)
//	TW_SOAK_EVENTS    revocation events per second (default 100)
//	TW_SOAK_OUT       directory for soak.csv and soak.svg (default $TMPDIR/tokenwarden-soak)
type knobs struct {
	duration, interval time.Duration
	rate, events       int
	out                string
}

func readKnobs(t *testing.T) knobs {
	t.Helper()
	raw := os.Getenv("TW_SOAK_DURATION")
	if raw == "" {
		t.Skip("soak: set TW_SOAK_DURATION (e.g. 5m) or run scripts/soak.sh")
	}
	k := knobs{rate: 2000, events: 100, out: filepath.Join(os.TempDir(), "tokenwarden-soak")}
	var err error
	if k.duration, err = time.ParseDuration(raw); err != nil || k.duration < 30*time.Second {
		t.Fatalf("TW_SOAK_DURATION=%q: want a duration of at least 30s", raw)
	}
	k.interval = min(max(k.duration/60, time.Second), 30*time.Second)
	if s := os.Getenv("TW_SOAK_INTERVAL"); s != "" {
		if k.interval, err = time.ParseDuration(s); err != nil || k.interval <= 0 {
			t.Fatalf("TW_SOAK_INTERVAL=%q", s)
		}
	}
	for name, dst := range map[string]*int{"TW_SOAK_RATE": &k.rate, "TW_SOAK_EVENTS": &k.events} {
		if s := os.Getenv(name); s != "" {
			if *dst, err = strconv.Atoi(s); err != nil || *dst <= 0 {
				t.Fatalf("%s=%q", name, s)
			}
		}
	}
	if s := os.Getenv("TW_SOAK_OUT"); s != "" {
		k.out = s
	}
	return k
}

// sample is one row of the CSV.
type sample struct {
	at          time.Duration
	rssKB       int64
	goroutines  int
	heapInuse   uint64 // after a forced GC: the live heap, not garbage
	entries     int    // revocation store
	validations int64
	introCalls  int64
	refusedOK   int64 // valid tokens refused (not as unavailable): should stay 0
}

// TestSoak runs the load for TW_SOAK_DURATION and checks that memory,
// goroutines and revocation entries plateau: after warm-up (the first
// third), the mean of the last third may exceed the mean of the middle third
// only by a tolerance. Token lifetime and the revocation window are a sixth
// of the run, so every TTL-bounded structure turns over twice before the
// middle third starts.
func TestSoak(t *testing.T) {
	k := readKnobs(t)
	lifetime := min(max(k.duration/6, 10*time.Second), 5*time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	cfg := idpsim.DefaultConfig()
	cfg.Realms[0].SigningAlg = "ES256" // RSA signing would dominate the CPU profile of minting
	idp, err := idpsim.Start(cfg, "127.0.0.1:0", idpsim.WithClock(clock.Real))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = idp.Close() }()
	// One info line per revocation event would be most of the work.
	quiet := slog.New(slog.DiscardHandler)
	keys, err := jwks.New(jwks.Config{Name: "dev", Issuer: idp.Issuer("dev"), Algorithms: []string{"ES256"}}, jwks.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	keys.Start(ctx)
	client, err := introspection.New(introspection.Config{
		Name: "dev", Endpoint: idp.Issuer("dev") + "/protocol/openid-connect/token/introspect",
		ClientID: "demo", ClientSecret: []byte("demo-secret"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	store, err := revocation.NewMemory(revocation.Config{Window: lifetime}, revocation.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	v, err := strategy.NewVerifier([]strategy.IssuerConfig{{
		Name: "dev", Issuer: idp.Issuer("dev"), AuthorizedParties: []string{"demo"},
		Algorithms: []string{"ES256"}, Keys: keys, Introspector: client,
	}}, strategy.WithRevocation(store))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	local := strategy.NewLocal("local", v)
	tiered := strategy.NewTiered("tiered", v, strategy.TieredConfig{SensitiveScopes: []string{"payments:write"}, StandardMaxAge: 30 * time.Second})
	intro := strategy.NewIntrospect("introspection", v, strategy.IntrospectConfig{StandardMaxAge: 30 * time.Second})
	if err := keys.Refresh(ctx); err != nil {
		t.Fatal(err)
	}

	// Tokens are signed directly (idpsim.Sign records nothing and creates no
	// session, so the simulator's own memory stays flat) for the demo
	// service account, which introspection knows by its sub.
	sa, err := idp.ClientCredentials("dev", "demo")
	if err != nil {
		t.Fatal(err)
	}
	sub := subOf(t, sa.AccessToken)
	var seq atomic.Int64
	mint := func(sensitive bool) string {
		now := time.Now()
		scope := "openid profile"
		if sensitive {
			scope += " payments:write"
		}
		tok, err := idp.Sign("dev", map[string]any{"typ": "JWT"}, map[string]any{
			"iss": idp.Issuer("dev"), "sub": sub, "azp": "demo", "typ": "Bearer", "scope": scope,
			"jti": fmt.Sprintf("soak-%d", seq.Add(1)), "iat": now.Unix(), "exp": now.Add(lifetime).Unix(),
		})
		if err != nil {
			// Counted as a refusal of a valid token: the run fails.
			return ""
		}
		return tok
	}

	var validations, refusedOK, unavailable atomic.Int64
	var firstRefusal atomic.Pointer[string]
	const workers = 4
	var wg sync.WaitGroup
	// Each worker keeps a ring of its recent tokens: half the decisions
	// reuse one (verified-claims and introspection cache hits), half mint a
	// new one (misses, inserts, evictions).
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			ring := make([]string, 256)
			for i := range ring {
				ring[i] = mint(false)
			}
			tick := time.NewTicker(time.Second / time.Duration(max(1, k.rate/workers/10)))
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				for range 10 {
					var tok string
					sensitive := rng.IntN(20) == 0
					if rng.IntN(2) == 0 || sensitive {
						tok = mint(sensitive)
						ring[rng.IntN(len(ring))] = tok
					} else {
						tok = ring[rng.IntN(len(ring))]
					}
					var st strategy.Strategy
					req := strategy.Request{Token: tok}
					switch n := rng.IntN(10); {
					case sensitive:
						st, req.Scopes = tiered, []string{"payments:write"}
					case n < 6:
						st = local
					case n < 9:
						st = tiered
					default:
						st = intro
					}
					vctx, vcancel := context.WithTimeout(ctx, 5*time.Second)
					_, err := st.Validate(vctx, req)
					vcancel()
					validations.Add(1)
					switch {
					case err == nil:
					case errors.Is(err, strategy.ErrUnavailable):
						unavailable.Add(1)
					case ctx.Err() != nil:
					default:
						if refusedOK.Add(1) == 1 {
							s := err.Error()
							firstRefusal.Store(&s)
						}
					}
				}
			}
		}()
	}
	// Revocation events: logouts (deny sid), subject watches, jti denies,
	// for sessions and tokens that are not the load's (the load must not
	// be refused; the store must still hold and expire them).
	wg.Add(1)
	go func() {
		defer wg.Done()
		kinds := []revocation.KeyKind{revocation.KindSession, revocation.KindSubject, revocation.KindToken}
		actions := []revocation.Action{revocation.ActionDeny, revocation.ActionWatch, revocation.ActionDeny}
		sources := []string{revocation.SourceBackchannelLogout, revocation.SourceAdmin, revocation.SourceLearned}
		tick := time.NewTicker(time.Second / time.Duration(k.events))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			j := i % 3
			_ = store.Add(ctx, revocation.Event{Issuer: idp.Issuer("dev"), Kind: kinds[j], Value: fmt.Sprintf("ev-%d", i),
				Action: actions[j], At: time.Now(), Source: sources[j]})
		}
	}()

	// Sampling.
	if err := os.MkdirAll(k.out, 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var samples []sample
	take := func() sample {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return sample{at: time.Since(start), rssKB: rssKB(t), goroutines: runtime.NumGoroutine(), heapInuse: ms.HeapInuse,
			entries: store.Len(), validations: validations.Load(), introCalls: idp.Calls(idpsim.EndpointIntrospect),
			refusedOK: refusedOK.Load()}
	}
	samples = append(samples, take())
	tick := time.NewTicker(k.interval)
	end := time.NewTimer(k.duration)
	for done := false; !done; {
		select {
		case <-tick.C:
			s := take()
			samples = append(samples, s)
			t.Logf("t=%-6s rss=%6.1fMB heap=%6.1fMB goroutines=%4d entries=%6d validations=%9d intro_calls=%7d",
				s.at.Truncate(time.Second), float64(s.rssKB)/1024, float64(s.heapInuse)/(1<<20), s.goroutines, s.entries, s.validations, s.introCalls)
		case <-end.C:
			done = true
		}
	}
	tick.Stop()
	cancel()
	wg.Wait()

	csvPath, svgPath := filepath.Join(k.out, "soak.csv"), filepath.Join(k.out, "soak.svg")
	if err := writeCSV(csvPath, samples); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(svgPath, chart(samples), 0o644); err != nil {
		t.Fatal(err)
	}
	first, last := samples[0], samples[len(samples)-1]
	t.Logf("soak %v: %d validations (%.0f/s), %d unavailable, %d valid refused; rss %.1f -> %.1f MB, heap %.1f -> %.1f MB, goroutines %d -> %d, revocation entries %d -> %d; %s, %s",
		k.duration, last.validations, float64(last.validations)/last.at.Seconds(), unavailable.Load(), last.refusedOK,
		float64(first.rssKB)/1024, float64(last.rssKB)/1024, float64(first.heapInuse)/(1<<20), float64(last.heapInuse)/(1<<20),
		first.goroutines, last.goroutines, first.entries, last.entries, csvPath, svgPath)

	if n := refusedOK.Load(); n > 0 {
		t.Errorf("%d valid tokens refused (first: %s)", n, *firstRefusal.Load())
	}
	// Warm-up: at least a third of the run, and long enough for every
	// TTL-bound structure to turn over (token lifetime, plus ~70s: otter, the
	// caches' library, frees expired entries from timer-wheel buckets about
	// 68s wide, so memory settles about a minute after the TTL).
	warm := max(k.duration/3, lifetime+75*time.Second)
	var post []sample
	for _, s := range samples {
		if s.at >= warm {
			post = append(post, s)
		}
	}
	if len(post) < 4 {
		t.Logf("only %d samples after the %v warm-up: growth not judged (run longer or lower TW_SOAK_INTERVAL)", len(post), warm)
		return
	}
	half := len(post) / 2
	mid, tail := post[:half], post[half:]
	t.Logf("growth judged on %d samples after a %v warm-up: first half vs second half", len(post), warm)
	checkPlateau(t, "rss (KB)", mid, tail, func(s sample) float64 { return float64(s.rssKB) }, 0.20, 16<<10)
	checkPlateau(t, "heap in use (bytes)", mid, tail, func(s sample) float64 { return float64(s.heapInuse) }, 0.20, 4<<20)
	checkPlateau(t, "goroutines", mid, tail, func(s sample) float64 { return float64(s.goroutines) }, 0.10, 5)
	checkPlateau(t, "revocation entries", mid, tail, func(s sample) float64 { return float64(s.entries) }, 0.15, 50)
}

// checkPlateau fails when the mean of tail exceeds the mean of mid by more
// than rel (relative) plus abs (absolute slack for small values).
func checkPlateau(t *testing.T, name string, mid, tail []sample, f func(sample) float64, rel, abs float64) {
	t.Helper()
	mean := func(ss []sample) float64 {
		var sum float64
		for _, s := range ss {
			sum += f(s)
		}
		return sum / float64(len(ss))
	}
	m, l := mean(mid), mean(tail)
	if l > m*(1+rel)+abs {
		t.Errorf("%s keeps growing: mean %.0f in the first half, %.0f in the second (tolerance %.0f%% + %.0f)", name, m, l, rel*100, abs)
	} else {
		t.Logf("%s plateaus: mean %.0f in the first half, %.0f in the second", name, m, l)
	}
}

// rssKB reads VmRSS from /proc/self/status (Linux); 0 elsewhere.
func rssKB(t *testing.T) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", rest, err)
			}
			return n
		}
	}
	return 0
}

func subOf(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatal("not a JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(b, &c); err != nil || c.Sub == "" {
		t.Fatalf("no sub in the service account token: %v", err)
	}
	return c.Sub
}

func writeCSV(path string, samples []sample) error {
	var b strings.Builder
	b.WriteString("t_seconds,rss_kb,goroutines,heap_inuse_bytes,revocation_entries,validations,introspect_calls,valid_refused\n")
	for _, s := range samples {
		fmt.Fprintf(&b, "%.1f,%d,%d,%d,%d,%d,%d,%d\n", s.at.Seconds(), s.rssKB, s.goroutines, s.heapInuse, s.entries, s.validations, s.introCalls, s.refusedOK)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// chart draws one small panel per series (a polyline scaled to the panel,
// labelled with its min and max): no plotting dependency.
func chart(samples []sample) []byte {
	series := []struct {
		name string
		f    func(sample) float64
	}{
		{"RSS (MB)", func(s sample) float64 { return float64(s.rssKB) / 1024 }},
		{"heap in use (MB)", func(s sample) float64 { return float64(s.heapInuse) / (1 << 20) }},
		{"goroutines", func(s sample) float64 { return float64(s.goroutines) }},
		{"revocation entries", func(s sample) float64 { return float64(s.entries) }},
	}
	const w, ph, pad = 720, 140, 40
	tmax := samples[len(samples)-1].at.Seconds()
	if tmax <= 0 {
		tmax = 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, len(series)*(ph+pad)+pad)
	for i, s := range series {
		top := pad + i*(ph+pad)
		lo, hi := s.f(samples[0]), s.f(samples[0])
		for _, x := range samples {
			lo, hi = min(lo, s.f(x)), max(hi, s.f(x))
		}
		lo = min(lo, 0)
		span := hi - lo
		if span == 0 {
			span = 1
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s: max %.1f, last %.1f</text>`+"\n", pad, top-8, s.name, hi, s.f(samples[len(samples)-1]))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`+"\n", pad, top, w-2*pad, ph)
		b.WriteString(`<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="`)
		for _, x := range samples {
			px := float64(pad) + x.at.Seconds()/tmax*float64(w-2*pad)
			py := float64(top+ph) - (s.f(x)-lo)/span*float64(ph)
			fmt.Fprintf(&b, "%.1f,%.1f ", px, py)
		}
		b.WriteString(`"/>` + "\n")
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d">time (s), 0 .. %.0f</text>`+"\n", pad, len(series)*(ph+pad)+pad-10, tmax)
	b.WriteString("</svg>\n")
	return []byte(b.String())
}
