package revocation_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/jwks"
	"github.com/tokenwarden/tokenwarden/revocation"
)

func (f *fixture) notBeforeValidator(t *testing.T, resource string, issuers map[string]revocation.KeySource) *revocation.NotBeforeValidator {
	t.Helper()
	if issuers == nil {
		issuers = map[string]revocation.KeySource{f.srv.Issuer("dev"): f.keys}
	}
	v, err := revocation.NewNotBeforeValidator(revocation.NotBeforeConfig{Issuers: issuers, Resource: resource}, revocation.WithClock(f.clk))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// push sets the not-before policy of demo and has idpsim push it.
func (f *fixture) push(t *testing.T, client string, nb time.Time) []byte {
	t.Helper()
	if !nb.IsZero() {
		f.srv.SetNotBefore("dev", client, nb)
	}
	if err := f.srv.PushNotBefore(context.Background(), "dev", "demo"); err != nil {
		t.Fatal(err)
	}
	return received(t, f.pushes)
}

// TestNotBeforeFromIdP: a real PUSH_NOT_BEFORE from idpsim validates and its
// event denies the client's older tokens only.
func TestNotBeforeFromIdP(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	v := f.notBeforeValidator(t, "demo", nil)
	store, err := revocation.NewMemory(revocation.Config{}, revocation.WithClock(f.clk), revocation.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	old := f.login(t, "demo")
	oldWeb := f.login(t, "web")
	f.clk.Advance(2 * time.Second)
	nb := f.clk.Now()
	body := f.push(t, "demo", nb)

	n, err := v.Validate(ctx, body)
	if err != nil {
		t.Fatalf("Validate(real push): %v", err)
	}
	if n.Issuer != f.srv.Issuer("dev") || n.Resource != "demo" || n.ID == "" || !n.NotBefore.Equal(nb.Truncate(time.Second)) ||
		!n.Expiration.Equal(f.clk.Now().Add(30*time.Second).Truncate(time.Second)) {
		t.Fatalf("NotBefore = %+v", n)
	}
	evs := v.Events(n)
	want := revocation.Event{Issuer: f.srv.Issuer("dev"), Kind: revocation.KindNotBefore, Value: "demo",
		Action: revocation.ActionDeny, At: nb.Truncate(time.Second), Source: revocation.SourceNotBeforePush}
	if len(evs) != 1 || !evs[0].At.Equal(want.At) {
		t.Fatalf("Events = %+v, want [%+v]", evs, want)
	}
	evs[0].At = want.At
	if evs[0] != want {
		t.Fatalf("Events = %+v, want [%+v]", evs, want)
	}
	if err := store.Add(ctx, evs[0]); err != nil {
		t.Fatal(err)
	}
	if got := store.Check(factsOf(t, old.AccessToken)); !got.Denied || got.Reason != "not_before" {
		t.Fatalf("Check(older demo token) = %+v, want denied by not_before", got)
	}
	if got := store.Check(factsOf(t, oldWeb.AccessToken)); got.Denied {
		t.Fatalf("Check(older web token) = %+v: a client-level not-before must not touch other clients", got)
	}
	// Keycloak's rule: iat == notBefore is not stale.
	same := f.login(t, "demo")
	if got := store.Check(factsOf(t, same.AccessToken)); got.Denied {
		t.Fatalf("Check(token issued in the notBefore second) = %+v", got)
	}
	// Keycloak signs with the realm key; whitespace around the body is harmless.
	if _, err := v.Validate(ctx, append(append([]byte("\n"), body...), "\r\n"...)); err != nil {
		t.Fatalf("body with surrounding whitespace: %v", err)
	}
}

func TestNotBeforeNone(t *testing.T) {
	f := newFixture(t)
	v := f.notBeforeValidator(t, "demo", nil)
	n, err := v.Validate(context.Background(), f.push(t, "demo", time.Time{}))
	if err != nil {
		t.Fatal(err)
	}
	if !n.NotBefore.IsZero() || v.Events(n) != nil {
		t.Fatalf("notBefore 0 must yield no event: %+v", n)
	}
}

func TestNotBeforeRealmWide(t *testing.T) {
	f := newFixture(t)
	v := f.notBeforeValidator(t, "demo", nil)
	f.clk.Advance(time.Minute)
	nb := f.clk.Now()
	// Realm policy set, client's not: Keycloak pushes max(realm, client).
	n, err := v.Validate(context.Background(), f.push(t, "", nb))
	if err != nil {
		t.Fatal(err)
	}
	if evs := v.Events(n); len(evs) != 1 || !evs[0].At.Equal(nb.Truncate(time.Second)) || evs[0].Value != "demo" {
		t.Fatalf("Events = %+v", evs)
	}
}

func TestNotBeforeForged(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	devKID := f.srv.ActiveKID("dev")
	action := func() map[string]any {
		now := f.clk.Now().Unix()
		return map[string]any{"id": "a1", "expiration": now + 30, "resource": "demo", "action": "PUSH_NOT_BEFORE", "notBefore": now}
	}
	sign := func(realm string, h map[string]any, mutate func(map[string]any)) func(*testing.T) []byte {
		return func(t *testing.T) []byte {
			a := action()
			if mutate != nil {
				mutate(a)
			}
			tok, err := f.srv.Sign(realm, h, a)
			if err != nil {
				t.Fatal(err)
			}
			return []byte(tok)
		}
	}
	jwt := map[string]any{"typ": "JWT"}
	real := f.push(t, "demo", f.clk.Now())
	tests := []struct {
		name     string
		body     func(*testing.T) []byte
		resource string
		advance  time.Duration
		kind     error
		reason   revocation.Reason
	}{
		{name: "control", body: sign("dev", jwt, nil)},
		{name: "bad signature (other realm's key under our kid)", body: sign("other", map[string]any{"typ": "JWT", "kid": devKID}, nil), kind: revocation.ErrNotBeforeAction, reason: revocation.ReasonSignature},
		{name: "unknown key", body: sign("other", jwt, nil), kind: revocation.ErrNotBeforeAction, reason: revocation.ReasonSignature},
		{name: "tampered payload", body: func(t *testing.T) []byte {
			parts := strings.Split(string(real), ".")
			other := strings.Split(string(sign("dev", jwt, func(a map[string]any) { a["resource"] = "web" })(t)), ".")
			return []byte(parts[0] + "." + other[1] + "." + parts[2])
		}, kind: revocation.ErrNotBeforeAction, reason: revocation.ReasonSignature},
		{name: "alg none", body: func(*testing.T) []byte {
			return []byte(unsigned(map[string]any{"alg": "none", "kid": devKID}, action()))
		}, kind: revocation.ErrNotBeforeAction, reason: revocation.ReasonAlg},
		{name: "expired", body: func(*testing.T) []byte { return real }, advance: 31 * time.Second, kind: revocation.ErrNotBeforeAction, reason: revocation.ReasonExpired},
		{name: "not yet expired at 30s", body: func(*testing.T) []byte { return real }, advance: 30 * time.Second},
		{name: "other resource", body: func(*testing.T) []byte { return real }, resource: "web", kind: revocation.ErrNotBeforeAction, reason: revocation.ReasonResource},
		{name: "other action", body: sign("dev", jwt, func(a map[string]any) { a["action"] = "LOGOUT" }), kind: revocation.ErrNotBeforeAction, reason: revocation.ReasonAction},
		{name: "no expiration", body: sign("dev", jwt, func(a map[string]any) { delete(a, "expiration") }), kind: revocation.ErrNotBeforeAction, reason: revocation.ReasonMalformed},
		{name: "notBefore a string", body: sign("dev", jwt, func(a map[string]any) { a["notBefore"] = "1" }), kind: revocation.ErrNotBeforeAction, reason: revocation.ReasonMalformed},
		{name: "negative notBefore", body: sign("dev", jwt, func(a map[string]any) { a["notBefore"] = -5 }), kind: revocation.ErrNotBeforeAction, reason: revocation.ReasonMalformed},
		{name: "too large", body: func(*testing.T) []byte { return make([]byte, 17<<10) }, kind: revocation.ErrNotBeforeAction, reason: revocation.ReasonTooLarge},
		{name: "garbage", body: func(*testing.T) []byte { return []byte("hello") }, kind: revocation.ErrNotBeforeAction, reason: revocation.ReasonMalformed},
		{name: "logout token posted", body: func(t *testing.T) []byte {
			tok, err := f.srv.Sign("dev", map[string]any{"typ": "logout+jwt"}, f.logoutClaims())
			if err != nil {
				t.Fatal(err)
			}
			return []byte(tok)
		}, kind: revocation.ErrNotBeforeAction, reason: revocation.ReasonAction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body(t)
			resource := tt.resource
			if resource == "" {
				resource = "demo"
			}
			v := f.notBeforeValidator(t, resource, nil)
			start := f.clk.Now()
			f.clk.Advance(tt.advance)
			defer f.clk.Set(start)
			n, err := v.Validate(ctx, body)
			if tt.kind == nil {
				if err != nil {
					t.Fatalf("control refused: %v", err)
				}
				return
			}
			if n != nil || v.Events(n) != nil {
				t.Fatalf("result %+v with error %v", n, err)
			}
			wantErr(t, err, tt.kind, tt.reason)
		})
	}
}

func TestNotBeforeKeys(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	body := f.push(t, "demo", f.clk.Now())
	down := revocation.KeySourceFunc(func(context.Context, string, string) (jwks.Key, error) {
		return jwks.Key{}, jwks.ErrKeysUnavailable
	})
	unknown := staticKeySource(t)
	tests := []struct {
		name    string
		issuers map[string]revocation.KeySource
		kind    error
		reason  revocation.Reason
		wantIss string
	}{
		{name: "found in one of two issuers", issuers: map[string]revocation.KeySource{"https://a.example": unknown, f.srv.Issuer("dev"): f.keys}, wantIss: f.srv.Issuer("dev")},
		{name: "found while another issuer is down", issuers: map[string]revocation.KeySource{"https://a.example": down, f.srv.Issuer("dev"): f.keys}, wantIss: f.srv.Issuer("dev")},
		{name: "key published by two issuers", issuers: map[string]revocation.KeySource{"https://a.example": f.keys, f.srv.Issuer("dev"): f.keys},
			kind: revocation.ErrNotBeforeAction, reason: revocation.ReasonSignature},
		{name: "not found, one issuer down", issuers: map[string]revocation.KeySource{"https://a.example": down, "https://b.example": unknown},
			kind: revocation.ErrKeysUnavailable, reason: revocation.ReasonKeysUnavailable},
		{name: "not found anywhere", issuers: map[string]revocation.KeySource{"https://b.example": unknown},
			kind: revocation.ErrNotBeforeAction, reason: revocation.ReasonSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := f.notBeforeValidator(t, "demo", tt.issuers)
			n, err := v.Validate(ctx, body)
			if tt.kind == nil {
				if err != nil || n.Issuer != tt.wantIss {
					t.Fatalf("Validate = %+v, %v; want issuer %s", n, err, tt.wantIss)
				}
				return
			}
			wantErr(t, err, tt.kind, tt.reason)
			if tt.kind == revocation.ErrKeysUnavailable && errors.Is(err, revocation.ErrNotBeforeAction) {
				t.Fatal("outage reported as a bad action")
			}
		})
	}
}

func TestNewNotBeforeValidatorConfig(t *testing.T) {
	ks := staticKeySource(t)
	for name, cfg := range map[string]revocation.NotBeforeConfig{
		"no issuers":      {Resource: "demo"},
		"no resource":     {Issuers: map[string]revocation.KeySource{staticIssuer: ks}},
		"alg HS256":       {Issuers: map[string]revocation.KeySource{staticIssuer: ks}, Resource: "demo", Algorithms: []string{"HS256"}},
		"negative bound":  {Issuers: map[string]revocation.KeySource{staticIssuer: ks}, Resource: "demo", MaxBodyBytes: -1},
		"nil key source":  {Issuers: map[string]revocation.KeySource{staticIssuer: nil}, Resource: "demo"},
		"empty issuer id": {Issuers: map[string]revocation.KeySource{"": ks}, Resource: "demo"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := revocation.NewNotBeforeValidator(cfg); !errors.Is(err, revocation.ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig", err)
			}
		})
	}
}
