package revocation_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/revocation"
)

var fuzzNow = time.Unix(1_700_000_000, 0)

// validReasons are every reason a validator may return.
var validReasons = map[revocation.Reason]bool{
	revocation.ReasonMalformed: true, revocation.ReasonTooLarge: true, revocation.ReasonAlg: true,
	revocation.ReasonSignature: true, revocation.ReasonIssuer: true, revocation.ReasonAudience: true,
	revocation.ReasonIssuedAt: true, revocation.ReasonExp: true, revocation.ReasonType: true,
	revocation.ReasonEvents: true, revocation.ReasonSubject: true, revocation.ReasonNonce: true,
	revocation.ReasonJTI: true, revocation.ReasonReplay: true, revocation.ReasonKeysUnavailable: true,
	revocation.ReasonAction: true, revocation.ReasonExpired: true, revocation.ReasonResource: true,
}

func checkFuzzErr(t *testing.T, err error, kind error) {
	t.Helper()
	var e *revocation.Error
	if !errors.As(err, &e) || !errors.Is(err, kind) || !validReasons[e.Reason] {
		t.Fatalf("untyped or unbounded error: %v", err)
	}
}

// FuzzLogoutToken: no input panics, and only the one genuinely signed seed
// (byte for byte) is ever accepted, so garbage never becomes an event.
func FuzzLogoutToken(f *testing.F) {
	testKeys(f)
	header := map[string]any{"alg": "RS256", "kid": "a", "typ": "logout+jwt"}
	claims := map[string]any{
		"iss": staticIssuer, "aud": "demo", "iat": fuzzNow.Unix(), "exp": fuzzNow.Unix() + 120, "jti": "j1",
		"sub": "u1", "sid": "s1", "events": map[string]any{revocation.BackchannelLogoutEvent: map[string]any{}},
	}
	valid := signRS256(f, rsaA, header, claims)
	f.Add(valid)
	f.Add(signRS256(f, rsaB, header, claims))
	f.Add(unsigned(map[string]any{"alg": "none"}, claims))
	f.Add(valid + ".x.y")
	f.Add(strings.Replace(valid, ".", "..", 1))
	f.Add("")
	f.Add("a.b.c")
	f.Add("e30.e30.e30")
	ks := staticKeySource(f)
	f.Fuzz(func(t *testing.T, tok string) {
		v, err := revocation.NewLogoutValidator(revocation.LogoutConfig{
			Issuers:   map[string]revocation.KeySource{staticIssuer: ks},
			Audiences: []string{"demo"},
		}, revocation.WithClock(fixedClock(fuzzNow)))
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.Validate(context.Background(), tok)
		if err != nil {
			checkFuzzErr(t, err, revocation.ErrLogoutToken)
			if c != nil || v.Events(c) != nil {
				t.Fatal("claims returned with an error")
			}
			return
		}
		if tok != valid {
			t.Fatalf("forged input accepted: %q", tok)
		}
		if len(v.Events(c)) != 2 {
			t.Fatalf("Events = %+v", v.Events(c))
		}
	})
}

// FuzzNotBefore: no input panics, and only the signed seed (modulo
// surrounding whitespace) is accepted.
func FuzzNotBefore(f *testing.F) {
	testKeys(f)
	header := map[string]any{"alg": "RS256", "kid": "a", "typ": "JWT"}
	action := map[string]any{"id": "x", "expiration": fuzzNow.Unix() + 30, "resource": "demo", "action": "PUSH_NOT_BEFORE", "notBefore": fuzzNow.Unix()}
	valid := signRS256(f, rsaA, header, action)
	f.Add([]byte(valid))
	f.Add([]byte(signRS256(f, rsaB, header, action)))
	f.Add([]byte(unsigned(map[string]any{"alg": "none", "kid": "a"}, action)))
	f.Add([]byte(" " + valid + "\n"))
	f.Add([]byte{})
	f.Add([]byte("a.b.c"))
	v, err := revocation.NewNotBeforeValidator(revocation.NotBeforeConfig{
		Issuers:  map[string]revocation.KeySource{staticIssuer: staticKeySource(f)},
		Resource: "demo",
	}, revocation.WithClock(fixedClock(fuzzNow)))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := v.Validate(context.Background(), body)
		if err != nil {
			checkFuzzErr(t, err, revocation.ErrNotBeforeAction)
			if n != nil {
				t.Fatal("result returned with an error")
			}
			return
		}
		if strings.TrimSpace(string(body)) != valid {
			t.Fatalf("forged input accepted: %q", body)
		}
		if evs := v.Events(n); len(evs) != 1 || evs[0].Value != "demo" {
			t.Fatalf("Events = %+v", evs)
		}
	})
}
