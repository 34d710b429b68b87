package strategy_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/idpsim"
	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/jwks"
	"github.com/tokenwarden/tokenwarden/strategy"
)

// kcFixture is Local against idpsim (Keycloak's behaviour) over loopback,
// with one manual clock driving the IdP, the key resolver and the verifier.
type kcFixture struct {
	idp   *idpsim.Server
	clock *clock.Manual
	keys  *jwks.Resolver
	v     *strategy.Verifier
	local *strategy.Local
}

func newKC(t *testing.T, jc jwks.Config) *kcFixture {
	t.Helper()
	clk := clock.NewManual(time.Now().Truncate(time.Second))
	idp, err := idpsim.Start(idpsim.DefaultConfig(), "127.0.0.1:0", idpsim.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp.Close() })
	jc.Name, jc.Issuer = "dev", idp.Issuer("dev")
	jc.Algorithms = []string{"RS256"}
	res, err := jwks.New(jc, jwks.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(res.Close)
	v, err := strategy.NewVerifier([]strategy.IssuerConfig{{
		Name: "dev", Issuer: idp.Issuer("dev"), AuthorizedParties: []string{"demo"}, Keys: res,
	}}, strategy.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return &kcFixture{idp: idp, clock: clk, keys: res, v: v, local: strategy.NewLocal("local", v)}
}

func (f *kcFixture) token(t *testing.T) string {
	t.Helper()
	tr, err := f.idp.ClientCredentials("dev", "demo")
	if err != nil {
		t.Fatal(err)
	}
	return tr.AccessToken
}

func (f *kcFixture) validate(tok string) error {
	_, err := f.local.Validate(context.Background(), strategy.Request{Token: tok})
	return err
}

// TestRotation: old tokens verify while the old key is listed; the first
// token with the new kid makes exactly one JWKS fetch under 100 concurrent
// requests; once the old key is removed, its tokens are invalid.
func TestRotation(t *testing.T) {
	f := newKC(t, jwks.Config{UnknownKIDMinInterval: 10 * time.Second})
	old := f.token(t)
	if err := f.validate(old); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(11 * time.Second) // outside the unknown-kid interval
	if _, err := f.idp.RotateKey("dev"); err != nil {
		t.Fatal(err)
	}
	fresh := f.token(t)
	before := f.idp.Calls(idpsim.EndpointCerts)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- f.validate(fresh)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("new-key token refused: %v", err)
		}
	}
	if n := f.idp.Calls(idpsim.EndpointCerts) - before; n != 1 {
		t.Fatalf("JWKS fetches for a new kid under 100 concurrent requests: %d, want 1", n)
	}
	f.v.Purge() // re-verify the old token against the refreshed set
	if err := f.validate(old); err != nil {
		t.Fatalf("old token while its key is still listed (passive): %v", err)
	}

	oldKID := kidOf(t, old)
	if err := f.idp.RemoveKey("dev", oldKID); err != nil {
		t.Fatal(err)
	}
	if err := f.keys.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.v.Purge()
	f.clock.Advance(11 * time.Second)
	if err := f.validate(old); !errors.Is(err, strategy.ErrInvalid) || strategy.ReasonOf(err) != strategy.ReasonKID {
		t.Fatalf("token of a removed key: %v, want invalid kid", err)
	}
}

// TestUnknownKIDFlood: a flood of unknown kids cannot make more than one
// JWKS fetch per interval, and a legitimate token signed by a freshly
// rotated key gets unavailable (503, retry) while the refresh is
// suppressed — never invalid (401) — and is accepted once it is allowed.
func TestUnknownKIDFlood(t *testing.T) {
	f := newKC(t, jwks.Config{UnknownKIDMinInterval: 10 * time.Second})
	if err := f.validate(f.token(t)); err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{
		"iss": f.idp.Issuer("dev"), "azp": "demo", "typ": "Bearer", "sub": "x",
		"iat": f.clock.Now().Unix(), "exp": f.clock.Now().Add(5 * time.Minute).Unix(),
	}
	before := f.idp.Calls(idpsim.EndpointCerts)
	const intervals = 3
	for iv := 0; iv < intervals; iv++ {
		for i := 0; i < 200; i++ {
			forged, err := f.idp.Sign("dev", map[string]any{"kid": fmt.Sprintf("flood-%d-%d", iv, i)}, claims)
			if err != nil {
				t.Fatal(err)
			}
			err = f.validate(forged)
			if err == nil {
				t.Fatal("unknown kid accepted")
			}
			if !errors.Is(err, strategy.ErrInvalid) && !errors.Is(err, strategy.ErrUnavailable) {
				t.Fatalf("unknown kid: %v", err)
			}
		}
		if iv < intervals-1 {
			f.clock.Advance(10*time.Second + time.Millisecond)
		}
	}
	if n := f.idp.Calls(idpsim.EndpointCerts) - before; n > intervals {
		t.Fatalf("%d JWKS fetches over %d intervals of flood, want <= %d", n, intervals, intervals)
	}

	// Budget spent in this interval: the real new key must wait, retryable.
	if _, err := f.idp.RotateKey("dev"); err != nil {
		t.Fatal(err)
	}
	legit := f.token(t)
	err := f.validate(legit)
	if !errors.Is(err, strategy.ErrUnavailable) || strategy.ReasonOf(err) != strategy.ReasonKeysUnavailable {
		t.Fatalf("legitimate new-key token while refresh suppressed: %v, want unavailable (503)", err)
	}
	var se *strategy.Error
	if !errors.As(err, &se) || se.RetryAfter <= 0 {
		t.Fatalf("no Retry-After advice: %v", err)
	}
	f.clock.Advance(10*time.Second + time.Millisecond)
	if err := f.validate(legit); err != nil {
		t.Fatalf("legitimate new-key token after the interval: %v", err)
	}
}

// TestJWKSDown: with the JWKS endpoint failing, cached keys keep verifying
// (new tokens too) until max_stale; past it, keys are unavailable (503).
func TestJWKSDown(t *testing.T) {
	f := newKC(t, jwks.Config{RefreshInterval: time.Minute, MaxStale: 10 * time.Minute, UnknownKIDMinInterval: time.Second})
	if err := f.validate(f.token(t)); err != nil {
		t.Fatal(err)
	}
	loaded := f.keys.LastSuccess()
	f.idp.SetFault(idpsim.EndpointCerts, idpsim.Fault{ErrorRate: 1, ErrorStatus: 503})
	f.idp.SetFault(idpsim.EndpointDiscovery, idpsim.Fault{ErrorRate: 1, ErrorStatus: 503})
	f.clock.Advance(5 * time.Minute)
	if err := f.keys.Refresh(context.Background()); err == nil {
		t.Fatal("refresh should fail while the JWKS is down")
	}
	if !f.keys.LastSuccess().Equal(loaded) {
		t.Fatal("a failed refresh moved the last-success time")
	}
	if err := f.validate(f.token(t)); err != nil {
		t.Fatalf("new token within max_stale: %v", err)
	}
	f.clock.Advance(time.Minute)
	cached := f.token(t) // expires 11 min after the last good fetch
	if err := f.validate(cached); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(4*time.Minute + time.Second) // 10 min 1 s since the last good fetch
	// A verification cached before max_stale is not reused past it, though
	// the token itself is still within its lifetime.
	if err := f.validate(cached); !errors.Is(err, strategy.ErrUnavailable) {
		t.Fatalf("cached verification past max_stale: %v, want unavailable", err)
	}
	tok := f.token(t)
	err := f.validate(tok)
	if !errors.Is(err, strategy.ErrUnavailable) || strategy.ReasonOf(err) != strategy.ReasonKeysUnavailable {
		t.Fatalf("past max_stale: %v, want unavailable keys_unavailable", err)
	}
	f.idp.ClearFaults()
	f.clock.Advance(2 * time.Second)
	if err := f.validate(tok); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	var h struct {
		KID string `json:"kid"`
	}
	b, err := enc.DecodeString(tok[:indexDot(tok)])
	if err != nil {
		t.Fatal(err)
	}
	if err := jsonUnmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h.KID
}
