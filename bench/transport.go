package bench

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// politeTransport is the real-issuer mode's RoundTripper: every request the
// harness sends the IdP (discovery, keys, tokens, introspection,
// revocation) first waits for the shared rate limiter, so the whole run
// stays under the cap, and is counted by endpoint. Waiting time is summed
// so that measured latency can exclude it: the cap is the harness's
// politeness, not the validator's cost. Safe for concurrent use.
type politeTransport struct {
	next    http.RoundTripper
	limiter *rate.Limiter
	// kinds maps an endpoint URL (scheme, host and path) to its counter name.
	kinds map[string]string

	waited atomic.Int64 // nanoseconds spent waiting for the limiter
	mu     sync.Mutex
	counts map[string]int64
}

func newPoliteTransport(next http.RoundTripper, limiter *rate.Limiter, kinds map[string]string) *politeTransport {
	return &politeTransport{next: next, limiter: limiter, kinds: kinds, counts: map[string]int64{}}
}

// RoundTrip implements http.RoundTripper.
func (t *politeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	err := t.limiter.Wait(req.Context())
	t.waited.Add(int64(time.Since(start)))
	if err != nil {
		if req.Body != nil {
			req.Body.Close() // RoundTrip must close the body, even on error
		}
		return nil, err
	}
	u := *req.URL
	u.RawQuery, u.Fragment, u.User = "", "", nil
	kind := t.kinds[u.String()]
	if kind == "" {
		kind = "other"
	}
	t.mu.Lock()
	t.counts[kind]++
	t.mu.Unlock()
	return t.next.RoundTrip(req)
}

// count returns the requests sent to endpoints of kind.
func (t *politeTransport) count(kind string) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.counts[kind]
}

// wait returns the time spent waiting for the limiter so far.
func (t *politeTransport) wait() time.Duration { return time.Duration(t.waited.Load()) }
