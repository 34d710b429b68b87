package revocation_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tokenwarden/tokenwarden/internal/metricnames"
	"github.com/tokenwarden/tokenwarden/internal/tokenhash"
	"github.com/tokenwarden/tokenwarden/revocation"
)

const iss = "https://idp.example/realms/dev"

func ev(kind revocation.KeyKind, value string, a revocation.Action, at time.Time) revocation.Event {
	return revocation.Event{Issuer: iss, Kind: kind, Value: value, Action: a, At: at, Source: revocation.SourceAdmin}
}

func deny(kind revocation.KeyKind, value string, at time.Time) revocation.Event {
	return ev(kind, value, revocation.ActionDeny, at)
}

func watch(kind revocation.KeyKind, value string, at time.Time) revocation.Event {
	return ev(kind, value, revocation.ActionWatch, at)
}

// tok is a token of alice's session s1, client demo, issued at iat.
func tok(iat time.Time) revocation.TokenFacts {
	return revocation.TokenFacts{Issuer: iss, Subject: "alice", SessionID: "s1", TokenID: "j1", ClientID: "demo", IssuedAt: iat}
}

func TestCheck(t *testing.T) {
	at := t0.Add(10 * time.Second)
	denied := func(r string) revocation.Verdict {
		return revocation.Verdict{Denied: true, Reason: r, Source: revocation.SourceAdmin}
	}
	watched := func(r string) revocation.Verdict {
		return revocation.Verdict{Watch: true, Reason: r, Source: revocation.SourceAdmin}
	}
	tests := []struct {
		name    string
		events  []revocation.Event
		advance time.Duration
		facts   revocation.TokenFacts
		want    revocation.Verdict
	}{
		{name: "empty store", facts: tok(t0), want: revocation.Verdict{}},
		{name: "deny sid, issued before", events: []revocation.Event{deny(revocation.KindSession, "s1", at)}, facts: tok(at.Add(-time.Second)), want: denied("sid")},
		{name: "deny sid, iat == at is not affected", events: []revocation.Event{deny(revocation.KindSession, "s1", at)}, facts: tok(at), want: revocation.Verdict{}},
		{name: "deny sid, issued after", events: []revocation.Event{deny(revocation.KindSession, "s1", at)}, facts: tok(at.Add(time.Second)), want: revocation.Verdict{}},
		{name: "deny sid, same second but earlier", events: []revocation.Event{deny(revocation.KindSession, "s1", at.Add(500*time.Millisecond))}, facts: tok(at), want: denied("sid")},
		{name: "deny sid, other session", events: []revocation.Event{deny(revocation.KindSession, "s2", at)}, facts: tok(t0), want: revocation.Verdict{}},
		{name: "deny sid, other issuer", events: []revocation.Event{deny(revocation.KindSession, "s1", at)}, facts: func() revocation.TokenFacts { f := tok(t0); f.Issuer = "https://other"; return f }(), want: revocation.Verdict{}},
		{name: "deny sub", events: []revocation.Event{deny(revocation.KindSubject, "alice", at)}, facts: tok(t0), want: denied("sub")},
		{name: "deny jti applies whatever the iat", events: []revocation.Event{deny(revocation.KindToken, "j1", at)}, facts: tok(at.Add(time.Minute)), want: denied("jti")},
		{name: "deny client", events: []revocation.Event{deny(revocation.KindClient, "demo", at)}, facts: tok(t0), want: denied("client_id")},
		{name: "deny client, other client", events: []revocation.Event{deny(revocation.KindClient, "web", at)}, facts: tok(t0), want: revocation.Verdict{}},
		{name: "no token facts probed when empty", events: []revocation.Event{deny(revocation.KindSession, "s1", at)}, facts: revocation.TokenFacts{Issuer: iss, IssuedAt: t0}, want: revocation.Verdict{}},
		{name: "missing iat is affected", events: []revocation.Event{deny(revocation.KindSubject, "alice", at)}, facts: tok(time.Time{}), want: denied("sub")},
		{name: "watch sid", events: []revocation.Event{watch(revocation.KindSession, "s1", at)}, facts: tok(t0), want: watched("sid")},
		{name: "watch, issued after", events: []revocation.Event{watch(revocation.KindSubject, "alice", at)}, facts: tok(at), want: revocation.Verdict{}},
		{name: "deny beats watch of another key", events: []revocation.Event{watch(revocation.KindSession, "s1", at), deny(revocation.KindSubject, "alice", at)}, facts: tok(t0), want: denied("sub")},
		{name: "deny overrides watch of the same key", events: []revocation.Event{watch(revocation.KindSession, "s1", at), deny(revocation.KindSession, "s1", at)}, facts: tok(t0), want: denied("sid")},
		{name: "later watch after deny still watches the gap", events: []revocation.Event{deny(revocation.KindSession, "s1", at), watch(revocation.KindSession, "s1", at.Add(time.Minute))}, facts: tok(at.Add(time.Second)), want: watched("sid")},
		{name: "later watch after deny, before both", events: []revocation.Event{deny(revocation.KindSession, "s1", at), watch(revocation.KindSession, "s1", at.Add(time.Minute))}, facts: tok(t0), want: denied("sid")},
		{name: "later deny extends", events: []revocation.Event{deny(revocation.KindSession, "s1", at), deny(revocation.KindSession, "s1", at.Add(time.Minute))}, facts: tok(at.Add(time.Second)), want: denied("sid")},
		{name: "earlier deny does not shrink", events: []revocation.Event{deny(revocation.KindSession, "s1", at.Add(time.Minute)), deny(revocation.KindSession, "s1", at)}, facts: tok(at.Add(time.Second)), want: denied("sid")},
		{name: "not-before realm-wide", events: []revocation.Event{deny(revocation.KindNotBefore, "", at)}, facts: tok(t0), want: denied("not_before")},
		{name: "not-before realm-wide, iat == notBefore", events: []revocation.Event{deny(revocation.KindNotBefore, "", at)}, facts: tok(at), want: revocation.Verdict{}},
		{name: "not-before for the client", events: []revocation.Event{deny(revocation.KindNotBefore, "demo", at)}, facts: tok(t0), want: denied("not_before")},
		{name: "not-before for another client", events: []revocation.Event{deny(revocation.KindNotBefore, "web", at)}, facts: tok(t0), want: revocation.Verdict{}},
		{name: "not-before realm-wide applies without client", events: []revocation.Event{deny(revocation.KindNotBefore, "", at)}, facts: revocation.TokenFacts{Issuer: iss, Subject: "x", IssuedAt: t0}, want: denied("not_before")},
		{name: "expired after window", events: []revocation.Event{deny(revocation.KindSession, "s1", t0)}, advance: time.Hour + time.Nanosecond, facts: tok(t0.Add(-time.Minute)), want: revocation.Verdict{}},
		{name: "alive at exactly expiry", events: []revocation.Event{deny(revocation.KindSession, "s1", t0)}, advance: time.Hour, facts: tok(t0.Add(-time.Minute)), want: denied("sid")},
		{name: "expiry counts from add for old events", events: []revocation.Event{deny(revocation.KindToken, "j1", t0.Add(-2*time.Hour))}, advance: 30 * time.Minute, facts: tok(t0), want: denied("jti")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, clk := newStore(t, revocation.Config{})
			for _, e := range tt.events {
				if err := m.Add(context.Background(), e); err != nil {
					t.Fatalf("Add(%+v): %v", e, err)
				}
			}
			clk.Advance(tt.advance)
			got := m.Check(tt.facts)
			if (got.Denied || got.Watch) && got.At.IsZero() {
				t.Fatalf("Check = %+v: a deciding entry must report its event time", got)
			}
			got.At = time.Time{} // event times are checked in TestVerdictAt
			if got != tt.want {
				t.Fatalf("Check = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestExpiryRemovesEntries(t *testing.T) {
	m, clk := newStore(t, revocation.Config{Window: 10 * time.Minute})
	ctx := context.Background()
	if err := m.Add(ctx, deny(revocation.KindSession, "s1", t0)); err != nil {
		t.Fatal(err)
	}
	if err := m.Add(ctx, watch(revocation.KindSubject, "alice", t0.Add(5*time.Minute))); err != nil {
		t.Fatal(err)
	}
	if n := m.Len(); n != 2 {
		t.Fatalf("Len = %d, want 2", n)
	}
	clk.Advance(10*time.Minute + time.Second)
	if got := m.Check(tok(t0.Add(-time.Second))); !got.Watch || got.Reason != "sub" {
		t.Fatalf("Check = %+v, want watch by sub (deny expired)", got)
	}
	if n := m.Len(); n != 1 {
		t.Fatalf("Len = %d, want 1 after the deny expired", n)
	}
	clk.Advance(5 * time.Minute)
	if n, l := m.Len(), m.List(); n != 0 || len(l) != 0 {
		t.Fatalf("Len = %d, List = %v; want empty", n, l)
	}
}

func TestRestartWindow(t *testing.T) {
	restart := revocation.Verdict{Watch: true, Reason: revocation.ReasonRestart, RestartWindow: true}
	tests := []struct {
		name    string
		enabled bool
		events  []revocation.Event
		advance time.Duration
		iat     time.Time
		want    revocation.Verdict
	}{
		{name: "off", iat: t0.Add(-time.Minute), want: revocation.Verdict{}},
		{name: "on, issued before start", enabled: true, iat: t0.Add(-time.Minute), want: restart},
		{name: "on, issued at start", enabled: true, iat: t0, want: revocation.Verdict{}},
		{name: "on, near the end", enabled: true, advance: time.Hour - time.Nanosecond, iat: t0.Add(-time.Minute), want: restart},
		{name: "on, window over", enabled: true, advance: time.Hour, iat: t0.Add(-time.Minute), want: revocation.Verdict{}},
		{name: "deny beats restart", enabled: true, events: []revocation.Event{deny(revocation.KindSession, "s1", t0)}, iat: t0.Add(-time.Minute),
			want: revocation.Verdict{Denied: true, Reason: "sid", Source: revocation.SourceAdmin}},
		{name: "entry watch keeps its reason", enabled: true, events: []revocation.Event{watch(revocation.KindSubject, "alice", t0)}, iat: t0.Add(-time.Minute),
			want: revocation.Verdict{Watch: true, Reason: "sub", Source: revocation.SourceAdmin, RestartWindow: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, clk := newStore(t, revocation.Config{RestartWindow: tt.enabled})
			for _, e := range tt.events {
				if err := m.Add(context.Background(), e); err != nil {
					t.Fatal(err)
				}
			}
			clk.Advance(tt.advance)
			got := m.Check(tok(tt.iat))
			got.At = time.Time{} // event times are checked in TestVerdictAt
			if got != tt.want {
				t.Fatalf("Check = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestBound(t *testing.T) {
	ctx := context.Background()
	t.Run("full: oldest watch evicted first", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		m, clk := newStore(t, revocation.Config{MaxEntries: 3}, revocation.WithRegisterer(reg))
		for _, e := range []revocation.Event{
			watch(revocation.KindSession, "old", t0),
			deny(revocation.KindSession, "d1", t0),
		} {
			if err := m.Add(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		clk.Advance(time.Minute)
		if err := m.Add(ctx, watch(revocation.KindSession, "new", clk.Now())); err != nil {
			t.Fatal(err)
		}
		if err := m.Add(ctx, deny(revocation.KindSession, "d2", clk.Now())); err != nil {
			t.Fatalf("Add when full with a watch to evict: %v", err)
		}
		if m.Len() != 3 {
			t.Fatalf("Len = %d, want 3", m.Len())
		}
		got := map[string]bool{}
		for _, e := range m.List() {
			got[e.Value] = true
		}
		if got["old"] || !got["new"] || !got["d1"] || !got["d2"] {
			t.Fatalf("entries %v: want the oldest watch evicted", got)
		}
		if v := metricValue(t, reg, "tokenwarden_revocation_dropped_total", map[string]string{"action": "watch", "cause": "evicted"}); v != 1 {
			t.Fatalf("evicted = %v, want 1", v)
		}
	})
	t.Run("full of deny: ErrFull, store unchanged", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		m, _ := newStore(t, revocation.Config{MaxEntries: 2}, revocation.WithRegisterer(reg))
		for _, v := range []string{"d1", "d2"} {
			if err := m.Add(ctx, deny(revocation.KindSession, v, t0)); err != nil {
				t.Fatal(err)
			}
		}
		before := m.List()
		for _, e := range []revocation.Event{deny(revocation.KindSession, "d3", t0), watch(revocation.KindSession, "w", t0)} {
			if err := m.Add(ctx, e); !errors.Is(err, revocation.ErrFull) {
				t.Fatalf("Add(%s) = %v, want ErrFull", e.Value, err)
			}
		}
		if after := m.List(); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("store changed:\n%v\n%v", before, after)
		}
		if got := m.Check(revocation.TokenFacts{Issuer: iss, SessionID: "d3", IssuedAt: t0.Add(-time.Second)}); got.Denied {
			t.Fatal("a refused event must not apply")
		}
		if v := metricValue(t, reg, "tokenwarden_revocation_dropped_total", map[string]string{"action": "deny", "cause": "full"}); v != 1 {
			t.Fatalf("dropped deny = %v, want 1", v)
		}
		// Extending a held deny needs no room.
		if err := m.Add(ctx, deny(revocation.KindSession, "d1", t0.Add(time.Minute))); err != nil {
			t.Fatalf("extending a deny when full: %v", err)
		}
	})
	t.Run("full: deny replaces the watch it covers", func(t *testing.T) {
		m, _ := newStore(t, revocation.Config{MaxEntries: 2})
		for _, e := range []revocation.Event{deny(revocation.KindSession, "d1", t0), watch(revocation.KindSession, "s", t0)} {
			if err := m.Add(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.Add(ctx, deny(revocation.KindSession, "s", t0)); err != nil {
			t.Fatal(err)
		}
		l := m.List()
		if len(l) != 2 || l[0].Action != revocation.ActionDeny || l[1].Action != revocation.ActionDeny {
			t.Fatalf("List = %+v, want two denies", l)
		}
	})
}

func TestCheckDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		cfg     revocation.Config
		entries bool
	}{
		{name: "empty store"},
		{name: "empty store, restart window", cfg: revocation.Config{RestartWindow: true}},
		{name: "unrelated entries", entries: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newStore(t, tc.cfg)
			if tc.entries {
				for i := range 100 {
					if err := m.Add(ctx, deny(revocation.KindSession, fmt.Sprint("other-", i), t0)); err != nil {
						t.Fatal(err)
					}
				}
			}
			facts := tok(t0)
			if n := testing.AllocsPerRun(1000, func() { _ = m.Check(facts) }); n != 0 {
				t.Fatalf("Check allocates %v times per call", n)
			}
		})
	}
}

func TestAddInvalid(t *testing.T) {
	ok := deny(revocation.KindSession, "s1", t0)
	mod := func(f func(e *revocation.Event)) revocation.Event { e := ok; f(&e); return e }
	tests := []struct {
		name string
		e    revocation.Event
	}{
		{"no issuer", mod(func(e *revocation.Event) { e.Issuer = "" })},
		{"no value", mod(func(e *revocation.Event) { e.Value = "" })},
		{"value too long", mod(func(e *revocation.Event) { e.Value = strings.Repeat("x", revocation.MaxValueBytes+1) })},
		{"unknown kind", mod(func(e *revocation.Event) { e.Kind = "email" })},
		{"unknown action", mod(func(e *revocation.Event) { e.Action = "allow" })},
		{"unknown source", mod(func(e *revocation.Event) { e.Source = "twitter" })},
		{"no at", mod(func(e *revocation.Event) { e.At = time.Time{} })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newStore(t, revocation.Config{})
			if err := m.Add(context.Background(), tt.e); !errors.Is(err, revocation.ErrInvalidEvent) {
				t.Fatalf("Add = %v, want ErrInvalidEvent", err)
			}
			if m.Len() != 0 {
				t.Fatal("invalid event stored")
			}
		})
	}
	m, _ := newStore(t, revocation.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Add(ctx, ok); !errors.Is(err, context.Canceled) {
		t.Fatalf("Add with cancelled ctx = %v", err)
	}
}

func TestNewMemoryConfig(t *testing.T) {
	for _, cfg := range []revocation.Config{{Window: -1}, {MaxEntries: -1}} {
		if _, err := revocation.NewMemory(cfg); !errors.Is(err, revocation.ErrInvalidConfig) {
			t.Errorf("NewMemory(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
	}
}

func TestMetricsAndLog(t *testing.T) {
	reg := prometheus.NewRegistry()
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	m, _ := newStore(t, revocation.Config{}, revocation.WithRegisterer(reg), revocation.WithLogger(log))
	ctx := context.Background()
	sid := "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	for _, e := range []revocation.Event{
		{Issuer: iss, Kind: revocation.KindSession, Value: sid, Action: revocation.ActionDeny, At: t0, Source: revocation.SourceBackchannelLogout},
		{Issuer: iss, Kind: revocation.KindSubject, Value: "alice", Action: revocation.ActionWatch, At: t0, Source: revocation.SourceBackchannelLogout},
		revocation.LearnedInactive(iss, "j9", t0),
	} {
		if err := m.Add(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// A second store on the same registry shares the families.
	m2, _ := newStore(t, revocation.Config{}, revocation.WithRegisterer(reg), revocation.WithLogger(quiet))
	if err := m2.Add(ctx, deny(revocation.KindSession, "x", t0)); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`
# HELP %[1]s Revocation entries held (deny and watch).
# TYPE %[1]s gauge
%[1]s 4
# HELP %[2]s Revocation events recorded, by source and action.
# TYPE %[2]s counter
%[2]s{action="deny",source="admin"} 1
%[2]s{action="deny",source="backchannel_logout"} 1
%[2]s{action="deny",source="learned"} 1
%[2]s{action="watch",source="backchannel_logout"} 1
`, metricnames.RevocationEntries, metricnames.RevocationEventsTotal)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), metricnames.RevocationEntries, metricnames.RevocationEventsTotal); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, sid) || strings.Contains(out, `"alice"`) {
		t.Fatalf("log holds a raw key:\n%s", out)
	}
	if !strings.Contains(out, tokenhash.Fingerprint(sid)) {
		t.Fatalf("log lacks the key fingerprint:\n%s", out)
	}
	if strings.Count(out, "revocation: event") != 3 {
		t.Fatalf("want one log line per Add:\n%s", out)
	}
}

func TestList(t *testing.T) {
	m, _ := newStore(t, revocation.Config{Window: time.Minute})
	ctx := context.Background()
	for _, e := range []revocation.Event{
		watch(revocation.KindSubject, "alice", t0.Add(time.Second)),
		deny(revocation.KindSession, "s1", t0),
		deny(revocation.KindNotBefore, "", t0.Add(2*time.Second)),
	} {
		if err := m.Add(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	l := m.List()
	if len(l) != 3 || l[0].Value != "s1" || l[1].Value != "alice" || l[2].Kind != revocation.KindNotBefore {
		t.Fatalf("List = %+v, want oldest event first", l)
	}
	if l[0].Fingerprint != tokenhash.Fingerprint("s1") || !l[0].Expires.Equal(t0.Add(time.Minute)) {
		t.Fatalf("entry = %+v", l[0])
	}
}

func TestLearnWindowFromTokens(t *testing.T) {
	ctx := context.Background()
	for _, learn := range []bool{false, true} {
		t.Run(fmt.Sprint("learn=", learn), func(t *testing.T) {
			m, clk := newStore(t, revocation.Config{Window: 5 * time.Minute, RestartWindow: true, LearnWindowFromTokens: learn})
			m.ObserveLifetime(iss, 30*time.Minute)
			m.ObserveLifetime(iss, 10*time.Minute) // shorter: no change
			if err := m.Add(ctx, deny(revocation.KindSession, "s1", t0)); err != nil {
				t.Fatal(err)
			}
			clk.Advance(20 * time.Minute)
			got := m.Check(tok(t0.Add(-time.Second)))
			if got.Denied != learn {
				t.Fatalf("after 20m Denied = %v, want %v (learned window 30m)", got.Denied, learn)
			}
			if !learn && got.RestartWindow {
				t.Fatal("restart window must end after 5m without learning")
			}
		})
	}
}

func TestConcurrent(t *testing.T) {
	m, clk := newStore(t, revocation.Config{MaxEntries: 50, RestartWindow: true})
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				a := revocation.ActionWatch
				if i%3 == 0 {
					a = revocation.ActionDeny
				}
				err := m.Add(ctx, ev(revocation.KindSession, fmt.Sprint(g, "-", i%40), a, clk.Now()))
				if err != nil && !errors.Is(err, revocation.ErrFull) {
					t.Error(err)
					return
				}
			}
		})
		wg.Go(func() {
			for i := range 500 {
				_ = m.Check(revocation.TokenFacts{Issuer: iss, SessionID: fmt.Sprint(g, "-", i%40), IssuedAt: t0.Add(-time.Second)})
				if i%50 == 0 {
					_ = m.List()
					clk.Advance(time.Second)
				}
			}
		})
	}
	wg.Wait()
	if n := m.Len(); n > 50 {
		t.Fatalf("Len = %d over MaxEntries", n)
	}
}

func BenchmarkCheck(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{0, 100000} {
		b.Run(fmt.Sprint("entries=", n), func(b *testing.B) {
			m, _ := newStore(b, revocation.Config{})
			for i := range n {
				if err := m.Add(ctx, deny(revocation.KindSession, fmt.Sprint("s-", i), t0)); err != nil {
					b.Fatal(err)
				}
			}
			facts := tok(t0.Add(time.Second))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				_ = m.Check(facts)
			}
		})
	}
}

// metricValue reads one counter or gauge series from reg.
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
	return 0
}

// TestVerdictAt: a watch reports the latest applicable event, the restart
// window the store's start.
func TestVerdictAt(t *testing.T) {
	m, clk := newStore(t, revocation.Config{})
	t0 := clk.Now()
	ctx := context.Background()
	for _, e := range []revocation.Event{
		{Issuer: "iss", Kind: revocation.KindSubject, Value: "u", Action: revocation.ActionWatch, At: t0.Add(10 * time.Second), Source: revocation.SourceAdmin},
		{Issuer: "iss", Kind: revocation.KindSession, Value: "s", Action: revocation.ActionWatch, At: t0.Add(20 * time.Second), Source: revocation.SourceAdmin},
	} {
		if err := m.Add(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got := m.Check(revocation.TokenFacts{Issuer: "iss", Subject: "u", SessionID: "s", IssuedAt: t0})
	if !got.Watch || !got.At.Equal(t0.Add(20*time.Second)) {
		t.Fatalf("got %+v, want watch at the later event", got)
	}
}
