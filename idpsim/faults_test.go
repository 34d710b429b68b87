package idpsim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func (e *env) ccRequest(t *testing.T, ctx context.Context) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url("dev", oidcPath+"/token"),
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("demo", "demo-secret")
	return req
}

func TestFaults(t *testing.T) {
	e := newEnv(t, testConfig("ES256"), WithSeed(42))

	t.Run("latency is served", func(t *testing.T) {
		e.s.SetFault(EndpointToken, Fault{Latency: time.Millisecond, LatencyJitter: time.Millisecond,
			LatencyFunc: func() time.Duration { return time.Millisecond }})
		defer e.s.ClearFaults()
		if r := do(t, e.ts.Client(), e.ccRequest(t, t.Context())); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})

	t.Run("latency honours the request context", func(t *testing.T) {
		e.s.SetFault(EndpointToken, Fault{Latency: time.Hour})
		defer e.s.ClearFaults()
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err := e.ts.Client().Do(e.ccRequest(t, ctx))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v", err)
		}
		waitFor(t, "handler to give up", func() bool { return e.s.InFlight(EndpointToken) == 0 })
	})

	for _, tc := range []struct {
		name   string
		f      Fault
		status int
	}{
		{"500", Fault{ErrorRate: 1}, 500},
		{"503", Fault{ErrorRate: 1, ErrorStatus: 503}, 503},
	} {
		t.Run("error "+tc.name, func(t *testing.T) {
			e.s.SetFault(EndpointToken, tc.f)
			defer e.s.ClearFaults()
			if r := do(t, e.ts.Client(), e.ccRequest(t, t.Context())); r.status != tc.status {
				t.Fatalf("%d, want %d", r.status, tc.status)
			}
		})
	}

	t.Run("error rate is a fraction", func(t *testing.T) {
		e.s.SetFault(EndpointDiscovery, Fault{ErrorRate: 0.5, ErrorStatus: 503})
		defer e.s.ClearFaults()
		failed := 0
		for range 100 {
			if r := e.get(t, "dev", "/.well-known/openid-configuration"); r.status == 503 {
				failed++
			}
		}
		if failed < 20 || failed > 80 {
			t.Errorf("%d of 100 failed at rate 0.5", failed)
		}
	})

	t.Run("garbage", func(t *testing.T) {
		e.s.SetFault(EndpointCerts, Fault{Garbage: true})
		defer e.s.ClearFaults()
		r := e.get(t, "dev", oidcPath+"/certs")
		var v any
		if r.status != 200 || json.Unmarshal([]byte(r.body), &v) == nil {
			t.Fatalf("%d %q", r.status, r.body)
		}
	})

	t.Run("hang released by client timeout", func(t *testing.T) {
		e.s.SetFault(EndpointIntrospect, Fault{Hang: true})
		defer e.s.ClearFaults()
		c := &http.Client{Timeout: 50 * time.Millisecond}
		req, _ := http.NewRequest(http.MethodPost, e.url("dev", introspectPath), strings.NewReader("token=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if _, err := c.Do(req); err == nil {
			t.Fatal("hang answered")
		}
		waitFor(t, "handler to give up", func() bool { return e.s.InFlight(EndpointIntrospect) == 0 })
	})

	t.Run("faults do not touch the Go API", func(t *testing.T) {
		e.s.SetFault(EndpointToken, Fault{ErrorRate: 1})
		defer e.s.ClearFaults()
		mustTok(t)(e.s.ClientCredentials("dev", "demo"))
	})

	if r := do(t, e.ts.Client(), e.ccRequest(t, t.Context())); r.status != 200 {
		t.Fatalf("after ClearFaults: %d", r.status)
	}
}

func TestHangReleasedByClose(t *testing.T) {
	s, err := Start(testConfig("ES256"), "")
	if err != nil {
		t.Fatal(err)
	}
	s.SetFault(EndpointCerts, Fault{Hang: true})
	done := make(chan int, 1)
	go func() {
		res, err := http.Get(s.BaseURL() + "/realms/dev" + oidcPath + "/certs")
		if err != nil {
			done <- -1
			return
		}
		res.Body.Close()
		done <- res.StatusCode
	}()
	waitFor(t, "request to hang", func() bool { return s.InFlight(EndpointCerts) == 1 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != 503 {
		t.Errorf("released hang answered %d, want 503", code)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCountersAndMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, testConfig("ES256"), WithRegisterer(reg))
	e.get(t, "dev", "/.well-known/openid-configuration")
	e.get(t, "nope", "/.well-known/openid-configuration")
	e.get(t, "dev", oidcPath+"/certs")
	r := do(t, e.ts.Client(), e.ccRequest(t, t.Context()))
	tok := jsonBody(t, r)["access_token"].(string)
	e.introspect(t, tok)
	e.post(t, revokePath, url.Values{"token": {tok}}, basic("demo", "demo-secret"))
	e.post(t, oidcPath+"/logout", url.Values{}, basic("demo", "demo-secret"))
	mustTok(t)(e.s.ClientCredentials("dev", "demo")) // Go API: not an endpoint call

	for ep, want := range map[Endpoint]int64{EndpointDiscovery: 2, EndpointCerts: 1, EndpointToken: 1,
		EndpointIntrospect: 1, EndpointRevoke: 1, EndpointLogout: 1} {
		if got := e.s.Calls(ep); got != want {
			t.Errorf("Calls(%s) = %d, want %d", ep, got, want)
		}
	}
	if got := must(t, reg, "token", "200"); got != 1 {
		t.Errorf("requests_total{token,200} = %v", got)
	}
	if got := must(t, reg, "discovery", "404"); got != 1 {
		t.Errorf("requests_total{discovery,404} = %v", got)
	}

	// Peak in flight: hold three introspections open.
	e.s.SetFault(EndpointIntrospect, Fault{Hang: true})
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.url("dev", introspectPath), strings.NewReader("token=x"))
			if res, err := e.ts.Client().Do(req); err == nil {
				res.Body.Close()
			}
		})
	}
	waitFor(t, "3 in flight", func() bool { return e.s.InFlight(EndpointIntrospect) == 3 })
	if p := e.s.PeakInFlight(EndpointIntrospect); p != 3 {
		t.Errorf("peak %d", p)
	}
	cancel()
	wg.Wait()
	waitFor(t, "0 in flight", func() bool { return e.s.InFlight(EndpointIntrospect) == 0 })
	if p := e.s.PeakInFlight(EndpointIntrospect); p != 3 {
		t.Errorf("peak after drain %d", p)
	}
	e.s.ResetCounters()
	if e.s.Calls(EndpointIntrospect) != 0 || e.s.PeakInFlight(EndpointIntrospect) != 0 || e.s.Calls(EndpointToken) != 0 {
		t.Error("ResetCounters")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{MetricRequestsTotal, MetricInFlight, MetricTokensIssuedTotal} {
		if !names[n] {
			t.Errorf("metric %s not registered", n)
		}
	}
}

func must(t *testing.T, reg *prometheus.Registry, ep, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != MetricRequestsTotal {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["endpoint"] == ep && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
