package bench

import (
	"math"
	"testing"
	"time"
)

// TestExposure replays tiny scripts with known answers through every
// strategy: which strategies accept a token the IdP has already revoked.
func TestExposure(t *testing.T) {
	tests := []struct {
		name   string
		client string
		event  Event
		req    Request
		// want accepted-after-revocation per strategy
		want map[string]int
		// wantToRefusal: virtual seconds from revocation to first refusal
		// (never refused: until exp, 299 s).
		wantToRefusal map[string]float64
		wantPushes    int64
	}{
		{
			name:   "revoked at the IdP, not pushed, sensitive request",
			client: ClientApp,
			event:  Event{At: time.Second, Kind: EventRevoke, Token: 0, Session: -1},
			req:    Request{At: 2 * time.Second, Sensitive: true},
			want:   map[string]int{StrategyLocalPure: 1, StrategyLocal: 1, StrategyIntrospection: 0, StrategyTiered: 0},
			wantToRefusal: map[string]float64{StrategyLocalPure: 299, StrategyLocal: 299,
				StrategyIntrospection: 1, StrategyTiered: 1},
		},
		{
			name:          "session logged out, back-channel push",
			client:        ClientApp,
			event:         Event{At: time.Second, Kind: EventLogout, Token: 0, Session: 0, Push: true},
			req:           Request{At: 2 * time.Second},
			want:          map[string]int{StrategyLocalPure: 1, StrategyLocal: 0, StrategyIntrospection: 0, StrategyTiered: 0},
			wantToRefusal: map[string]float64{StrategyLocalPure: 299, StrategyLocal: 1, StrategyIntrospection: 1, StrategyTiered: 1},
			wantPushes:    1,
		},
		{
			name:          "session logged out, no back-channel logout registered",
			client:        ClientLegacy,
			event:         Event{At: time.Second, Kind: EventLogout, Token: 0, Session: 0},
			req:           Request{At: 2 * time.Second},
			want:          map[string]int{StrategyLocalPure: 1, StrategyLocal: 1, StrategyIntrospection: 0, StrategyTiered: 1},
			wantToRefusal: map[string]float64{StrategyLocalPure: 299, StrategyLocal: 299, StrategyIntrospection: 1, StrategyTiered: 299},
		},
		{
			name:          "not-before pushed",
			client:        ClientApp,
			event:         Event{At: time.Second, Kind: EventNotBefore, Token: -1, Session: -1, Push: true, Client: ClientApp},
			req:           Request{At: 2 * time.Second},
			want:          map[string]int{StrategyLocalPure: 1, StrategyLocal: 0, StrategyIntrospection: 0, StrategyTiered: 0},
			wantToRefusal: map[string]float64{StrategyLocalPure: 299, StrategyLocal: 1, StrategyIntrospection: 1, StrategyTiered: 1},
			wantPushes:    1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wl := scripted(t, tt.client, []Event{tt.event}, tt.event.At, tt.req)
			rep := run(t, wl, Options{})
			got := byName(t, rep)
			for name, want := range tt.want {
				r, ok := got[name]
				if !ok {
					t.Fatalf("%s did not run", name)
				}
				ex := r.Exposure
				if ex.PostRevocation != 1 || r.Validations != 1 {
					t.Errorf("%s: %d validations, %d post-revocation, want 1 and 1", name, r.Validations, ex.PostRevocation)
				}
				if ex.Accepted != want {
					t.Errorf("%s: %d accepted after revocation, want %d (outcomes %v, reasons %v)", name, ex.Accepted, want, r.Outcomes, r.Reasons)
				}
				if tt.req.Sensitive && ex.AcceptedSensitive != want {
					t.Errorf("%s: %d sensitive accepted, want %d", name, ex.AcceptedSensitive, want)
				}
				if d := tt.wantToRefusal[name]; math.Abs(ex.MaxToRefusalS-d) > 1e-9 || math.Abs(ex.MeanToRefusalS-d) > 1e-9 {
					t.Errorf("%s: revocation to refusal max %.3fs mean %.3fs, want %.0fs", name, ex.MaxToRefusalS, ex.MeanToRefusalS, d)
				}
				if r.FalseRefusals != 0 {
					t.Errorf("%s: %d false refusals", name, r.FalseRefusals)
				}
				if name != StrategyLocalPure && r.Pushes.Accepted != tt.wantPushes || r.Pushes.Refused != 0 {
					t.Errorf("%s: pushes %+v, want %d accepted", name, r.Pushes, tt.wantPushes)
				}
			}
			if n := got[StrategyLocal].IdP.Introspections + got[StrategyLocalPure].IdP.Introspections; n != 0 {
				t.Errorf("local strategies made %d introspection calls", n)
			}
		})
	}
}

// TestFalseRefusals: a valid token is never refused, by any strategy.
func TestFalseRefusals(t *testing.T) {
	t.Parallel()
	wl := scripted(t, ClientApp, nil, NotRevoked,
		Request{At: time.Second}, Request{At: 10 * time.Second, Sensitive: true}, Request{At: 50 * time.Second})
	for _, r := range run(t, wl, Options{Strategies: []string{StrategyLocal, StrategyTiered}}).Results {
		if r.FalseRefusals != 0 || r.Outcomes["accepted"] != 3 || r.Exposure.PostRevocation != 0 {
			t.Errorf("%s: %+v, %d false refusals", r.Strategy, r.Outcomes, r.FalseRefusals)
		}
	}
}
