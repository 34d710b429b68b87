package jwks_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tokenwarden/tokenwarden/internal/metricnames"
	"github.com/tokenwarden/tokenwarden/jwks"
)

var allAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// keycloakLikeSet mirrors a Keycloak realm (an RS256 signing key and an
// RSA-OAEP encryption key) plus keys of every other supported kind and some
// that must be refused.
func keycloakLikeSet(t testing.TB) []byte {
	testKeys(t)
	return jwkSet(t,
		spec{pub: rsaA, kid: "rsa-sig", alg: "RS256", use: "sig"},
		spec{pub: rsaB, kid: "rsa-enc", alg: "RSA-OAEP", use: "enc"},
		spec{pub: rsaC, kid: "ps", alg: "PS256"},
		spec{pub: ecP256, kid: "ec256"},
		spec{pub: ecP384, kid: "ec384", alg: "ES384", ops: []string{"verify"}},
		spec{pub: edKey, kid: "ed"},
		spec{pub: rsaWeak, kid: "weak", alg: "RS256"},
		spec{pub: rsaB, kid: "sign-only", ops: []string{"sign"}},
		spec{pub: rsaB, kid: "mislabelled", alg: "ES256"},
	)
}

func TestKey(t *testing.T) {
	testKeys(t)
	set := keycloakLikeSet(t)
	p := newIDP(t, set)
	tests := []struct {
		name      string
		algs      []string
		kid, alg  string
		wantAlg   string
		wantPub   any
		wantErr   error
		wantFetch int64 // JWKS requests the call causes in total
	}{
		{name: "known RSA kid", kid: "rsa-sig", alg: "RS256", wantAlg: "RS256", wantPub: &rsaA.PublicKey, wantFetch: 1},
		{name: "PS256 key", kid: "ps", alg: "PS256", wantAlg: "PS256", wantPub: &rsaC.PublicKey, wantFetch: 1},
		{name: "EC P-256 implied ES256", kid: "ec256", alg: "ES256", wantAlg: "ES256", wantPub: &ecP256.PublicKey, wantFetch: 1},
		{name: "EC P-384 with key_ops verify", kid: "ec384", alg: "ES384", wantAlg: "ES384", wantPub: &ecP384.PublicKey, wantFetch: 1},
		{name: "Ed25519 implied EdDSA", kid: "ed", alg: "EdDSA", wantAlg: "EdDSA", wantPub: edKey.Public(), wantFetch: 1},
		{name: "PS256 asked of RS256-bound key", kid: "rsa-sig", alg: "PS256", wantErr: jwks.ErrAlgMismatch, wantFetch: 1},
		{name: "RS256 asked of EC key", kid: "ec256", alg: "RS256", wantErr: jwks.ErrAlgMismatch, wantFetch: 1},
		{name: "ES384 asked of P-256 key", kid: "ec256", alg: "ES384", wantErr: jwks.ErrAlgMismatch, wantFetch: 1},
		{name: "alg allowed at IdP but not configured", algs: []string{"RS256"}, kid: "ec256", alg: "ES256", wantErr: jwks.ErrAlgMismatch, wantFetch: 0},
		{name: "none never", kid: "rsa-sig", alg: "none", wantErr: jwks.ErrAlgMismatch, wantFetch: 0},
		{name: "HS256 never", kid: "rsa-sig", alg: "HS256", wantErr: jwks.ErrAlgMismatch, wantFetch: 0},
		{name: "enc key never returned", kid: "rsa-enc", alg: "RS256", wantErr: jwks.ErrUnknownKID, wantFetch: 2},
		{name: "enc key by its own alg", kid: "rsa-enc", alg: "RSA-OAEP", wantErr: jwks.ErrAlgMismatch, wantFetch: 0},
		{name: "RSA 1024 skipped", kid: "weak", alg: "RS256", wantErr: jwks.ErrUnknownKID, wantFetch: 2},
		{name: "key_ops without verify skipped", kid: "sign-only", alg: "RS256", wantErr: jwks.ErrUnknownKID, wantFetch: 2},
		{name: "alg member contradicting kty skipped", kid: "mislabelled", alg: "ES256", wantErr: jwks.ErrUnknownKID, wantFetch: 2},
		{name: "no kid, one key for alg", kid: "", alg: "EdDSA", wantAlg: "EdDSA", wantPub: edKey.Public(), wantFetch: 1},
		{name: "no kid, no key for alg", kid: "", alg: "ES512", wantErr: jwks.ErrUnknownKID, wantFetch: 1},
		{name: "kid too long, no fetch", kid: strings.Repeat("k", 257), alg: "RS256", wantErr: jwks.ErrUnknownKID, wantFetch: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			algs := tt.algs
			if algs == nil {
				algs = allAlgs
			}
			before := p.jwksHits.Load()
			r, _ := newResolver(t, p, jwks.Config{Algorithms: algs})
			k, err := r.Key(context.Background(), tt.kid, tt.alg)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Key(%q, %q) error = %v, want %v", tt.kid, tt.alg, err, tt.wantErr)
			}
			if got := p.jwksHits.Load() - before; got != tt.wantFetch {
				t.Errorf("JWKS fetches = %d, want %d", got, tt.wantFetch)
			}
			if tt.wantErr != nil {
				return
			}
			if k.Alg != tt.wantAlg || (tt.kid != "" && k.KID != tt.kid) {
				t.Errorf("got kid %q alg %q, want %q %q", k.KID, k.Alg, tt.kid, tt.wantAlg)
			}
			if !samePublic(k.Public, tt.wantPub) {
				t.Errorf("public key differs: %T", k.Public)
			}
		})
	}
}

func samePublic(a, b any) bool {
	switch a := a.(type) {
	case *rsa.PublicKey:
		return a.Equal(b)
	case *ecdsa.PublicKey:
		return a.Equal(b)
	case ed25519.PublicKey:
		return a.Equal(b)
	}
	return false
}

func TestEmptyKIDAmbiguous(t *testing.T) {
	testKeys(t)
	p := newIDP(t, jwkSet(t, spec{pub: rsaA, kid: "a"}, spec{pub: rsaB, kid: "b"}))
	r, _ := newResolver(t, p, jwks.Config{})
	if _, err := r.Key(context.Background(), "", "RS256"); !errors.Is(err, jwks.ErrUnknownKID) {
		t.Fatalf("err = %v, want ErrUnknownKID", err)
	}
}

func TestDuplicateKIDDropped(t *testing.T) {
	testKeys(t)
	p := newIDP(t, jwkSet(t,
		spec{pub: rsaA, kid: "dup"}, spec{pub: rsaB, kid: "dup"}, // ambiguous: both dropped
		spec{pub: rsaC, kid: "multi"}, spec{pub: ecP256, kid: "multi"}, // different algs: both kept
	))
	r, clk := newResolver(t, p, jwks.Config{Algorithms: allAlgs})
	ctx := context.Background()
	if _, err := r.Key(ctx, "dup", "RS256"); !errors.Is(err, jwks.ErrUnknownKID) {
		t.Errorf("dup: err = %v, want ErrUnknownKID", err)
	}
	clk.Advance(time.Minute)
	for alg, want := range map[string]any{"RS256": &rsaC.PublicKey, "ES256": &ecP256.PublicKey} {
		k, err := r.Key(ctx, "multi", alg)
		if err != nil || !samePublic(k.Public, want) {
			t.Errorf("multi/%s: %v %T", alg, err, k.Public)
		}
	}
}

func TestUnknownKIDNegativeCache(t *testing.T) {
	testKeys(t)
	p := newIDP(t, jwkSet(t, spec{pub: rsaA, kid: "a"}))
	r, clk := newResolver(t, p, jwks.Config{UnknownKIDMinInterval: 10 * time.Second, NegativeTTL: 30 * time.Second})
	ctx := context.Background()
	if _, err := r.Key(ctx, "a", "RS256"); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		advance   time.Duration
		wantTotal int64 // JWKS fetches so far
	}{
		{0, 2},                // one forced fetch, then negative-cached until t+30s
		{0, 2},                // negative-cached
		{15 * time.Second, 2}, // a forced fetch would be allowed, but the kid is still cached
		{20 * time.Second, 3}, // t+35s: cache expired, one more fetch, cached until t+65s
		{0, 3},
		{31 * time.Second, 4}, // t+66s
		{0, 4},
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		_, err := r.Key(ctx, "ghost", "RS256")
		if !errors.Is(err, jwks.ErrUnknownKID) {
			t.Fatalf("step %d: err = %v, want ErrUnknownKID", i, err)
		}
		if got := p.jwksHits.Load(); got != s.wantTotal {
			t.Fatalf("step %d: fetches = %d, want %d", i, got, s.wantTotal)
		}
	}
}

func TestRotationConcurrent(t *testing.T) {
	testKeys(t)
	p := newIDP(t, jwkSet(t, spec{pub: rsaA, kid: "old"}))
	r, _ := newResolver(t, p, jwks.Config{})
	ctx := context.Background()
	if _, err := r.Key(ctx, "old", "RS256"); err != nil {
		t.Fatal(err)
	}
	// Keycloak rotation: the new active key appears next to the old one.
	p.setKeys(jwkSet(t, spec{pub: rsaA, kid: "old"}, spec{pub: rsaB, kid: "new"}))

	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			k, err := r.Key(ctx, "new", "RS256")
			if err == nil && !samePublic(k.Public, &rsaB.PublicKey) {
				err = errors.New("wrong key")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Key(new): %v", err)
		}
	}
	if got := p.jwksHits.Load(); got != 2 {
		t.Fatalf("JWKS fetches = %d, want 2 (initial + one forced)", got)
	}
}

func TestRotationRemovesKeys(t *testing.T) {
	testKeys(t)
	p := newIDP(t, jwkSet(t, spec{pub: rsaA, kid: "old"}))
	r, clk := newResolver(t, p, jwks.Config{})
	ctx := context.Background()
	if _, err := r.Key(ctx, "old", "RS256"); err != nil {
		t.Fatal(err)
	}
	p.setKeys(jwkSet(t, spec{pub: rsaB, kid: "new"}))
	if err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if _, err := r.Key(ctx, "old", "RS256"); !errors.Is(err, jwks.ErrUnknownKID) {
		t.Fatalf("removed key: err = %v, want ErrUnknownKID", err)
	}
	if _, err := r.Key(ctx, "new", "RS256"); err != nil {
		t.Fatalf("new key: %v", err)
	}
}

func TestUnknownKIDFlood(t *testing.T) {
	testKeys(t)
	p := newIDP(t, jwkSet(t, spec{pub: rsaA, kid: "a"}))
	const interval = 10 * time.Second
	r, clk := newResolver(t, p, jwks.Config{UnknownKIDMinInterval: interval})
	ctx := context.Background()
	if _, err := r.Key(ctx, "a", "RS256"); err != nil {
		t.Fatal(err)
	}
	const rounds, perRound = 3, 334 // 1002 distinct random kids
	for round := 1; round <= rounds; round++ {
		var wg sync.WaitGroup
		for range perRound {
			wg.Go(func() {
				_, err := r.Key(ctx, randomKID(), "RS256")
				if !errors.Is(err, jwks.ErrUnknownKID) && !errors.Is(err, jwks.ErrRefreshSuppressed) {
					t.Errorf("random kid: err = %v", err)
				}
			})
		}
		wg.Wait()
		if got, limit := p.jwksHits.Load()-1, int64(round); got > limit {
			t.Fatalf("round %d: forced fetches = %d, want <= %d", round, got, limit)
		}
		if round < rounds {
			clk.Advance(interval)
		}
	}
	forced := p.jwksHits.Load()

	// A legitimately rotated key during the flood: 503 now (retryable) ...
	p.setKeys(jwkSet(t, spec{pub: rsaA, kid: "a"}, spec{pub: rsaB, kid: "rotated"}))
	if _, err := r.Key(ctx, "rotated", "RS256"); !errors.Is(err, jwks.ErrRefreshSuppressed) {
		t.Fatalf("rotated kid while suppressed: err = %v, want ErrRefreshSuppressed", err)
	}
	if got := p.jwksHits.Load(); got != forced {
		t.Fatalf("suppressed lookup fetched: %d -> %d", forced, got)
	}
	// ... and found once the interval allows a fetch: not negative-cached.
	clk.Advance(interval + time.Second)
	k, err := r.Key(ctx, "rotated", "RS256")
	if err != nil || !samePublic(k.Public, &rsaB.PublicKey) {
		t.Fatalf("rotated kid after interval: %v", err)
	}
}

func TestStaleIfError(t *testing.T) {
	testKeys(t)
	p := newIDP(t, jwkSet(t, spec{pub: rsaA, kid: "a"}))
	r, clk := newResolver(t, p, jwks.Config{
		RefreshInterval:       2 * time.Hour, // no lazy refreshes in this test
		MaxStale:              time.Hour,
		UnknownKIDMinInterval: 10 * time.Second,
	})
	ctx := context.Background()
	if _, err := r.Key(ctx, "a", "RS256"); err != nil {
		t.Fatal(err)
	}
	loaded := r.LastSuccess()
	if !loaded.Equal(t0) || !r.Ready() {
		t.Fatalf("LastSuccess = %v, Ready = %v", loaded, r.Ready())
	}

	p.setStatus(http.StatusServiceUnavailable)
	clk.Advance(30 * time.Minute)
	if err := r.Refresh(ctx); !errors.Is(err, jwks.ErrKeysUnavailable) {
		t.Fatalf("Refresh with IdP down: err = %v, want ErrKeysUnavailable", err)
	}
	if _, err := r.Key(ctx, "a", "RS256"); err != nil {
		t.Fatalf("within max_stale: %v", err)
	}
	if !r.LastSuccess().Equal(loaded) {
		t.Fatalf("failed refresh moved LastSuccess")
	}

	clk.Advance(31 * time.Minute) // 61m since the last success
	if _, err := r.Key(ctx, "a", "RS256"); !errors.Is(err, jwks.ErrKeysUnavailable) {
		t.Fatalf("past max_stale: err = %v, want ErrKeysUnavailable", err)
	}
	hits := p.jwksHits.Load()
	if _, err := r.Key(ctx, "a", "RS256"); !errors.Is(err, jwks.ErrKeysUnavailable) {
		t.Fatalf("past max_stale again: err = %v", err)
	}
	if p.jwksHits.Load() != hits {
		t.Fatalf("on-demand reloads not rate-limited")
	}

	p.setStatus(0) // IdP back
	clk.Advance(11 * time.Second)
	if _, err := r.Key(ctx, "a", "RS256"); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if !r.LastSuccess().Equal(clk.Now()) {
		t.Fatalf("LastSuccess = %v, want %v", r.LastSuccess(), clk.Now())
	}
}

func TestInitialFetchFailure(t *testing.T) {
	testKeys(t)
	p := newIDP(t, jwkSet(t, spec{pub: rsaA, kid: "a"}))
	p.setStatus(http.StatusInternalServerError)
	r, clk := newResolver(t, p, jwks.Config{})
	ctx := context.Background()
	if _, err := r.Key(ctx, "a", "RS256"); !errors.Is(err, jwks.ErrKeysUnavailable) {
		t.Fatalf("err = %v, want ErrKeysUnavailable", err)
	}
	if r.Ready() {
		t.Fatal("Ready after failed fetch")
	}
	p.setStatus(0)
	clk.Advance(time.Minute)
	if _, err := r.Key(ctx, "a", "RS256"); err != nil {
		t.Fatal(err)
	}
}

func TestLazyRefresh(t *testing.T) {
	testKeys(t)
	p := newIDP(t, jwkSet(t, spec{pub: rsaA, kid: "a"}))
	hits := make(chan struct{}, 4)
	p.hits = hits
	r, clk := newResolver(t, p, jwks.Config{RefreshInterval: 5 * time.Minute})
	ctx := context.Background()
	if _, err := r.Key(ctx, "a", "RS256"); err != nil {
		t.Fatal(err)
	}
	<-hits
	p.setKeys(jwkSet(t, spec{pub: rsaA, kid: "a"}, spec{pub: rsaB, kid: "b"}))
	clk.Advance(6 * time.Minute)
	// Served from cache at once; a background refresh starts since no
	// loop runs.
	if _, err := r.Key(ctx, "a", "RS256"); err != nil {
		t.Fatal(err)
	}
	<-hits
	// The refresh's keys become visible once it completes.
	for !r.LastSuccess().Equal(clk.Now()) {
		time.Sleep(time.Millisecond)
	}
	if _, err := r.Key(ctx, "b", "RS256"); err != nil {
		t.Fatal(err)
	}
	if got := p.jwksHits.Load(); got != 2 {
		t.Fatalf("JWKS fetches = %d, want 2 (initial + lazy refresh)", got)
	}
}

func TestCallerCancelWhileFetchHangs(t *testing.T) {
	testKeys(t)
	p := newIDP(t, jwkSet(t, spec{pub: rsaA, kid: "a"}))
	release := make(chan struct{})
	hits := make(chan struct{}, 1)
	p.hang, p.hits = release, hits
	r, _ := newResolver(t, p, jwks.Config{})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := r.Key(ctx, "a", "RS256")
		done <- err
	}()
	<-hits // the shared fetch is at the server
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || !errors.Is(err, jwks.ErrKeysUnavailable) {
		t.Fatalf("err = %v, want ErrKeysUnavailable wrapping context.Canceled", err)
	}
	// The shared fetch went on; a new caller joins it and gets the key.
	close(release)
	if _, err := r.Key(context.Background(), "a", "RS256"); err != nil {
		t.Fatal(err)
	}
	if got := p.jwksHits.Load(); got != 1 {
		t.Fatalf("JWKS fetches = %d, want 1", got)
	}
}

func TestCloseAbortsFetch(t *testing.T) {
	testKeys(t)
	p := newIDP(t, jwkSet(t, spec{pub: rsaA, kid: "a"}))
	hits := make(chan struct{}, 1)
	p.hang, p.hits = make(chan struct{}), hits
	r, _ := newResolver(t, p, jwks.Config{})
	r.Start(context.Background())
	<-hits
	r.Close() // must not wait for the hanging server
	r.Close()
	if _, err := r.Key(context.Background(), "a", "RS256"); !errors.Is(err, jwks.ErrKeysUnavailable) {
		t.Fatalf("after Close: err = %v", err)
	}
	r.Start(context.Background()) // no-op after Close
}

func TestStartLoop(t *testing.T) {
	testKeys(t)
	p := newIDP(t, jwkSet(t, spec{pub: rsaA, kid: "a"}))
	hits := make(chan struct{})
	p.hits = hits
	reg := prometheus.NewRegistry()
	r, _ := newResolver(t, p, jwks.Config{RefreshInterval: time.Millisecond}, jwks.WithRegisterer(reg))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.Start(ctx)
	r.Start(ctx) // second Start: no second loop
	// The loop is serial: once the 4th request arrives, the initial fetch and
	// two scheduled ones have completed and been counted.
	for range 4 {
		<-hits
	}
	cancel()
	r.Close() // aborts a refresh the loop may still have in flight
	if !r.Ready() {
		t.Fatal("not ready after background fetches")
	}
	if n := fetches(t, reg, "test", "success", "initial"); n != 1 {
		t.Errorf("initial fetches = %v, want 1", n)
	}
	if n := fetches(t, reg, "test", "success", "scheduled"); n < 2 {
		t.Errorf("scheduled fetches = %v, want >= 2", n)
	}
}

// fetches reads tokenwarden_jwks_fetches_total{issuer,outcome,cause} from reg.
func fetches(t *testing.T, reg *prometheus.Registry, issuer, outcome, cause string) float64 {
	t.Helper()
	return metricValue(t, reg, metricnames.JWKSFetchesTotal, map[string]string{"issuer": issuer, "outcome": outcome, "cause": cause})
}

func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}

func TestMetrics(t *testing.T) {
	testKeys(t)
	p := newIDP(t, jwkSet(t, spec{pub: rsaA, kid: "a"}))
	reg := prometheus.NewRegistry()
	r, clk := newResolver(t, p, jwks.Config{Name: "kc"}, jwks.WithRegisterer(reg))
	// A second issuer on the same registry reuses the families.
	r2, _ := newResolver(t, p, jwks.Config{Name: "other"}, jwks.WithRegisterer(reg))
	ctx := context.Background()
	if _, err := r.Key(ctx, "a", "RS256"); err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Key(ctx, "a", "RS256"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Key(ctx, "ghost", "RS256"); !errors.Is(err, jwks.ErrUnknownKID) {
		t.Fatal(err)
	}
	p.setStatus(http.StatusBadGateway)
	clk.Advance(time.Minute)
	if err := r.Refresh(ctx); !errors.Is(err, jwks.ErrKeysUnavailable) {
		t.Fatal(err)
	}
	for _, c := range []struct {
		issuer, outcome, cause string
		want                   float64
	}{
		{"kc", "success", "initial", 1},
		{"kc", "success", "unknown_kid", 1},
		{"kc", "error", "manual", 1},
		{"kc", "success", "scheduled", 0},
		{"other", "success", "initial", 1},
		{"other", "error", "manual", 0},
	} {
		if got := fetches(t, reg, c.issuer, c.outcome, c.cause); got != c.want {
			t.Errorf("fetches{%s,%s,%s} = %v, want %v", c.issuer, c.outcome, c.cause, got, c.want)
		}
	}
	if got := metricValue(t, reg, metricnames.JWKSLastSuccess, map[string]string{"issuer": "kc"}); got != float64(t0.Unix()) {
		t.Errorf("last success = %v, want %v", got, t0.Unix())
	}
	if n, err := testutil.GatherAndCount(reg, metricnames.JWKSFetchesTotal); err != nil || n != 16 {
		t.Errorf("fetch series = %d (%v), want 16 (pre-created for both issuers)", n, err)
	}
	// Shared Metrics: same families.
	m := jwks.NewMetrics(reg)
	if _, err := jwks.New(jwks.Config{Issuer: "https://x"}, jwks.WithMetrics(m)); err != nil {
		t.Fatal(err)
	}
}

func TestDiscovery(t *testing.T) {
	testKeys(t)
	set := jwkSet(t, spec{pub: rsaA, kid: "a"})
	tests := []struct {
		name    string
		setup   func(p *idp, cfg *jwks.Config)
		wantErr []error
	}{
		{
			name: "issuer with trailing slash is a mismatch",
			setup: func(p *idp, cfg *jwks.Config) {
				cfg.Issuer = p.srv.URL + "/"
				cfg.DiscoveryURL = p.srv.URL + "/.well-known/openid-configuration"
			},
			wantErr: []error{jwks.ErrIssuerMismatch, jwks.ErrDiscovery, jwks.ErrKeysUnavailable},
		},
		{
			name:    "document names another issuer",
			setup:   func(p *idp, _ *jwks.Config) { p.issuer = "https://evil.example" },
			wantErr: []error{jwks.ErrIssuerMismatch, jwks.ErrKeysUnavailable},
		},
		{
			name:    "no jwks_uri",
			setup:   func(p *idp, _ *jwks.Config) { p.discovery = []byte(`{"issuer":"` + p.srv.URL + `"}`) },
			wantErr: []error{jwks.ErrDiscovery, jwks.ErrKeysUnavailable},
		},
		{
			name:    "not JSON",
			setup:   func(p *idp, _ *jwks.Config) { p.discovery = []byte(`<html>`) },
			wantErr: []error{jwks.ErrDiscovery, jwks.ErrKeysUnavailable},
		},
		{
			name:    "JWKS not JSON content type",
			setup:   func(p *idp, _ *jwks.Config) { p.contentType = "text/html" },
			wantErr: []error{jwks.ErrKeysUnavailable},
		},
		{
			name:    "JWKS body over MaxBodyBytes",
			setup:   func(_ *idp, cfg *jwks.Config) { cfg.MaxBodyBytes = int64(len(set) - 1) },
			wantErr: []error{jwks.ErrKeysUnavailable},
		},
		{
			name:    "JWKS without keys member",
			setup:   func(p *idp, _ *jwks.Config) { p.set = []byte(`{"kyes":[]}`) },
			wantErr: []error{jwks.ErrKeysUnavailable},
		},
		{
			name:    "JWKS with no usable key",
			setup:   func(p *idp, _ *jwks.Config) { p.set = jwkSet(t, spec{pub: rsaB, kid: "enc", use: "enc"}) },
			wantErr: []error{jwks.ErrKeysUnavailable},
		},
		{
			name:  "jwks_url override skips discovery",
			setup: func(p *idp, cfg *jwks.Config) { p.issuer = "https://evil.example"; cfg.JWKSURL = p.srv.URL + "/certs" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newIDP(t, set)
			var cfg jwks.Config
			tt.setup(p, &cfg)
			r, _ := newResolver(t, p, cfg)
			_, err := r.Key(context.Background(), "a", "RS256")
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want %v", err, want)
				}
			}
			if tt.wantErr == nil && err != nil {
				t.Fatalf("err = %v", err)
			}
			if cfg.JWKSURL != "" && p.discoveryHits.Load() != 0 {
				t.Errorf("discovery fetched despite jwks_url")
			}
		})
	}
}

func TestBodyLimitChunked(t *testing.T) {
	testKeys(t)
	p := newIDP(t, nil)
	// Unknown length (chunked): the limit must hold while reading.
	big := `{"keys":[],"pad":"` + strings.Repeat("x", 4096) + `"}`
	p.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for i := 0; i < len(big); i += 512 {
			_, _ = w.Write([]byte(big[i:min(i+512, len(big))]))
			w.(http.Flusher).Flush()
		}
	})
	r, _ := newResolver(t, p, jwks.Config{JWKSURL: p.srv.URL + "/certs", MaxBodyBytes: 1024})
	if _, err := r.Key(context.Background(), "a", "RS256"); !errors.Is(err, jwks.ErrKeysUnavailable) || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("err = %v, want body limit error", err)
	}
}

func TestMetadata(t *testing.T) {
	testKeys(t)
	p := newIDP(t, jwkSet(t, spec{pub: rsaA, kid: "a"}))
	r, _ := newResolver(t, p, jwks.Config{Name: "kc"})
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			md, err := r.Metadata(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			if md.Issuer != p.srv.URL || md.JWKSURI != p.srv.URL+"/certs" ||
				md.IntrospectionEndpoint != p.srv.URL+"/token/introspect" ||
				len(md.IntrospectionAuthMethods) != 2 || len(md.Raw) == 0 {
				t.Errorf("metadata = %+v", md)
			}
		})
	}
	wg.Wait()
	if _, err := r.Key(ctx, "a", "RS256"); err != nil {
		t.Fatal(err)
	}
	if got := p.discoveryHits.Load(); got != 1 {
		t.Fatalf("discovery fetches = %d, want 1", got)
	}
	if r.Issuer() != p.srv.URL || r.Name() != "kc" {
		t.Fatalf("Issuer/Name = %q/%q", r.Issuer(), r.Name())
	}
}

func TestMetadataFailureRateLimited(t *testing.T) {
	p := newIDP(t, nil)
	p.issuer = "https://elsewhere"
	r, clk := newResolver(t, p, jwks.Config{})
	ctx := context.Background()
	for range 5 {
		if _, err := r.Metadata(ctx); !errors.Is(err, jwks.ErrIssuerMismatch) {
			t.Fatalf("err = %v, want ErrIssuerMismatch", err)
		}
	}
	if got := p.discoveryHits.Load(); got != 1 {
		t.Fatalf("discovery fetches = %d, want 1", got)
	}
	clk.Advance(time.Minute)
	p.mu.Lock()
	p.issuer = p.srv.URL
	p.mu.Unlock()
	if _, err := r.Metadata(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestCAFile(t *testing.T) {
	testKeys(t)
	set := jwkSet(t, spec{pub: rsaA, kid: "a"})
	srv := httptestTLS(t, set)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := jwks.New(jwks.Config{Issuer: srv.URL, JWKSURL: srv.URL + "/certs", CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Key(context.Background(), "a", "RS256"); err != nil {
		t.Fatalf("with CAFile: %v", err)
	}
	// Without the CA the server is not trusted.
	r2, err := jwks.New(jwks.Config{Issuer: srv.URL, JWKSURL: srv.URL + "/certs"})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if _, err := r2.Key(context.Background(), "a", "RS256"); !errors.Is(err, jwks.ErrKeysUnavailable) {
		t.Fatalf("without CAFile: err = %v", err)
	}
}

func TestNewConfig(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "x.pem")
	if err := os.WriteFile(notPEM, []byte("nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     jwks.Config
		wantErr error
	}{
		{"minimal", jwks.Config{Issuer: "https://idp/realms/r"}, nil},
		{"no issuer", jwks.Config{}, jwks.ErrInvalidConfig},
		{"alg none", jwks.Config{Issuer: "https://idp", Algorithms: []string{"none"}}, jwks.ErrInvalidConfig},
		{"alg HS256", jwks.Config{Issuer: "https://idp", Algorithms: []string{"RS256", "HS256"}}, jwks.ErrInvalidConfig},
		{"relative jwks url", jwks.Config{Issuer: "https://idp", JWKSURL: "/certs"}, jwks.ErrInvalidConfig},
		{"negative duration", jwks.Config{Issuer: "https://idp", MaxStale: -time.Second}, jwks.ErrInvalidConfig},
		{"negative body", jwks.Config{Issuer: "https://idp", MaxBodyBytes: -1}, jwks.ErrInvalidConfig},
		{"missing CA file", jwks.Config{Issuer: "https://idp", CAFile: filepath.Join(dir, "none.pem")}, jwks.ErrInvalidConfig},
		{"CA file without PEM", jwks.Config{Issuer: "https://idp", CAFile: notPEM}, jwks.ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := jwks.New(tt.cfg)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if r != nil {
				r.Close()
			}
		})
	}
}

func BenchmarkKeyKnown(b *testing.B) {
	testKeys(b)
	p := newIDP(b, jwkSet(b, spec{pub: rsaA, kid: "a"}, spec{pub: ecP256, kid: "e"}))
	r, _ := newResolver(b, p, jwks.Config{Algorithms: allAlgs})
	ctx := context.Background()
	if _, err := r.Key(ctx, "a", "RS256"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Key(ctx, "e", "ES256"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
