package introspection

import (
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/maypok86/otter/v2"
	"golang.org/x/time/rate"

	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/internal/tokenhash"
)

// Answer is one introspection result as delivered to a caller.
type Answer struct {
	*Response
	// FetchedAt is the clock time at which the IdP answered.
	FetchedAt time.Time
	// Cached reports that the answer came from the cache.
	Cached bool
	// Shared reports that this caller joined another caller's in-flight
	// IdP call (coalesced) instead of starting one.
	Shared bool
}

// Client is an RFC 7662 introspection client for one issuer, with its cache,
// request coalescing, concurrency cap, rate budget and circuit breaker. Build
// it once per issuer and share it. Safe for concurrent use; Close stops it.
type Client struct {
	cfg          Config
	hc           *http.Client
	ownTransport *http.Transport // closed by Close; nil for WithHTTPClient
	clock        clock.Clock
	log          *slog.Logger
	m            clientMetrics
	endpointFunc func(ctx context.Context) (string, error)
	basicAuth    string // precomputed Authorization header for client_secret_basic
	alg          jwa.SignatureAlgorithm

	cache   *otter.Cache[tokenhash.Key, *entry] // nil: caching disabled
	sem     chan struct{}
	limiter *rate.Limiter // nil: no budget
	breaker *breaker

	life   context.Context // the lifetime context of shared calls
	cancel context.CancelFunc

	mu      sync.Mutex
	flights map[tokenhash.Key]*flight
	closed  bool
	wg      sync.WaitGroup

	closeOnce sync.Once
}

// entry is a cached answer and the clock time after which it must not be served.
type entry struct {
	ans     *Answer
	expires time.Time
	ttl     time.Duration
}

// flight is one IdP call shared by every caller that asks for the same token
// while it runs. ans and err are written before done is closed.
type flight struct {
	done chan struct{}
	ans  *Answer
	err  error
}

// New validates cfg, applies its defaults and builds a Client. It does no I/O.
func New(cfg Config, opts ...Option) (*Client, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Endpoint == "" && o.endpointFunc == nil {
		return nil, fmt.Errorf("%w: endpoint: required unless WithEndpointFunc resolves it", ErrConfig)
	}
	if o.metrics == nil {
		o.metrics = NewMetrics(nil)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		cfg:          cfg,
		clock:        clock.OrReal(o.clock),
		log:          o.log.With(slog.String("issuer", cfg.Name)),
		m:            o.metrics.forIssuer(cfg.Name),
		endpointFunc: o.endpointFunc,
		sem:          make(chan struct{}, cfg.MaxConcurrent),
		flights:      map[tokenhash.Key]*flight{},
	}
	if o.hc != nil {
		hc := *o.hc
		c.hc = &hc
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = cfg.MaxConcurrent
		c.ownTransport = tr
		c.hc = &http.Client{Transport: tr}
	}
	// A redirect would resend the form (client_secret_post, the assertion,
	// the token itself) to wherever the IdP or an attacker points; the
	// 3xx becomes an unavailable answer instead.
	c.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	switch cfg.AuthMethod {
	case AuthClientSecretBasic:
		// RFC 6749 §2.3.1: form-url-encode each half before base64, so a ':'
		// in the client id survives.
		c.basicAuth = "Basic " + base64.StdEncoding.EncodeToString(
			[]byte(url.QueryEscape(cfg.ClientID)+":"+url.QueryEscape(string(cfg.ClientSecret))))
	case AuthPrivateKeyJWT:
		c.alg = asymmetricAlgs[cfg.PrivateKeyAlg]
	}
	if cfg.CacheMaxEntries > 0 {
		c.cache = otter.Must(&otter.Options[tokenhash.Key, *entry]{
			MaximumSize: cfg.CacheMaxEntries,
			// Memory hygiene only, in real time: every read re-checks age
			// and expiry against the injected clock.
			ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[tokenhash.Key, *entry]) time.Duration {
				return e.Value.ttl
			}),
		})
	}
	if cfg.RatePerSecond > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(cfg.RatePerSecond), cfg.Burst)
	}
	c.breaker = &breaker{
		threshold: cfg.BreakerFailures,
		openFor:   cfg.BreakerOpenTimeout,
		onChange: func(open bool) {
			if open {
				c.m.breaker.Set(1)
				c.log.Warn("introspection circuit breaker opened", slog.Int("consecutive_failures", cfg.BreakerFailures), slog.Duration("open_for", cfg.BreakerOpenTimeout))
				return
			}
			c.m.breaker.Set(0)
			c.log.Info("introspection circuit breaker closed")
		},
	}
	c.life, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Introspect asks the IdP about token, or answers from the cache when an
// answer at most maxAge old (by the client's clock) is cached. maxAge <= 0
// always asks the IdP; concurrent calls for the same token share one IdP call
// whatever their maxAge, since the shared answer is fresher than any of them
// asked for. The returned Answer's Response is shared: do not modify it.
//
// The error is ErrNoToken, or matches ErrUnavailable (ErrBreakerOpen,
// ErrBudget, ErrMalformedResponse, ErrClosed, *StatusError, ctx errors). An
// inactive token is not an error: Answer.Active is false. If ctx ends first,
// Introspect returns at once while the shared call carries on (bounded by
// Config.Timeout) and its answer is cached for later calls.
//
// Only calls with maxAge > 0 consult the cache and count in
// tokenwarden_introspection_cache_requests_total. Each IdP call, and each
// call refused by the breaker or the budget, counts once in
// tokenwarden_introspection_requests_total; joiners count in
// tokenwarden_introspection_coalesced_total instead.
func (c *Client) Introspect(ctx context.Context, token string, maxAge time.Duration) (*Answer, error) {
	if token == "" {
		return nil, ErrNoToken
	}
	key := tokenhash.Of(token)
	if maxAge > 0 && c.cache != nil {
		if a := c.lookup(key, maxAge); a != nil {
			return a, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	f, leader, err := c.join(key, token)
	if err != nil {
		return nil, err
	}
	select {
	case <-f.done:
		if f.err != nil {
			return nil, f.err
		}
		a := *f.ans
		a.Shared = !leader
		return &a, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
}

// lookup returns a copy of the cached answer for key if it is still within
// its TTL and at most maxAge old, by the injected clock.
func (c *Client) lookup(key tokenhash.Key, maxAge time.Duration) *Answer {
	e, ok := c.cache.GetIfPresent(key)
	if !ok {
		c.m.miss.Inc()
		return nil
	}
	now := c.clock.Now()
	age := now.Sub(e.ans.FetchedAt)
	// A negative age means the clock was set back: the entry's age is
	// unknown, so it answers nothing.
	if !now.Before(e.expires) || age > maxAge || age < 0 {
		c.m.stale.Inc()
		return nil
	}
	c.m.hit.Inc()
	a := *e.ans
	a.Cached, a.Shared = true, false
	return &a
}

// join returns the in-flight call for key, or starts one if the breaker and
// the budget allow it. leader reports that this caller started it.
func (c *Client) join(key tokenhash.Key, token string) (f *flight, leader bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, false, ErrClosed
	}
	if f := c.flights[key]; f != nil {
		c.m.coalesced.Inc()
		return f, false, nil
	}
	now := c.clock.Now()
	probe, err := c.breaker.allow(now)
	if err != nil {
		c.m.breakerOpen.Inc()
		return nil, false, err
	}
	if c.limiter != nil && !c.limiter.AllowN(now, 1) {
		c.breaker.release(probe)
		c.m.budget.Inc()
		return nil, false, ErrBudget
	}
	f = &flight{done: make(chan struct{})}
	c.flights[key] = f
	c.wg.Add(1)
	go c.run(key, token, probe, f)
	return f, true, nil
}

// run performs a flight's IdP call on the client's lifetime context, so that
// no single caller's cancellation cuts short an answer the others wait for.
func (c *Client) run(key tokenhash.Key, token string, probe bool, f *flight) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(c.life, c.cfg.Timeout)
	defer cancel()
	ans, v, err := c.call(ctx, token)
	c.breaker.record(probe, v, c.clock.Now())
	switch {
	case err != nil:
		c.m.failed.Inc()
		c.log.Warn("introspection failed", slog.String("token", tokenhash.Fingerprint(token)), slog.Any("err", err))
	case ans.Active:
		c.m.active.Inc()
	default:
		c.m.inactive.Inc()
	}
	if err == nil {
		c.store(key, ans)
	}
	f.ans, f.err = ans, err
	c.mu.Lock()
	delete(c.flights, key)
	c.mu.Unlock()
	close(f.done)
}

// store caches a fresh answer, replacing any older one. RFC 7662 §4: never
// past exp; inactive answers (and active ones without exp, which no policy
// accepts) only briefly.
func (c *Client) store(key tokenhash.Key, a *Answer) {
	if c.cache == nil {
		return
	}
	ttl := c.cfg.NegativeTTL
	if a.Active && a.Exp != nil {
		ttl = min(c.cfg.CacheMaxTTL, a.Exp.Sub(a.FetchedAt))
	}
	if ttl <= 0 {
		c.cache.Invalidate(key)
		return
	}
	c.cache.Set(key, &entry{ans: a, expires: a.FetchedAt.Add(ttl), ttl: ttl})
}

// call makes one IdP call: a concurrency slot, the endpoint, the request
// with at most one retry after a transport error, the bounded answer.
func (c *Client) call(ctx context.Context, token string) (*Answer, verdict, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, neutral, fmt.Errorf("%w: waiting for a concurrency slot: %w", ErrUnavailable, ctx.Err())
	}
	defer func() { <-c.sem }()
	if err := ctx.Err(); err != nil { // a slot freed by a cancelled call
		return nil, neutral, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	endpoint := c.cfg.Endpoint
	if endpoint == "" {
		ep, err := c.endpointFunc(ctx)
		if err == nil {
			err = checkEndpoint(ep)
		}
		if err != nil {
			return nil, c.ctxVerdict(ctx, failed), fmt.Errorf("%w: resolving the introspection endpoint: %w", ErrUnavailable, err)
		}
		endpoint = ep
	}
	start := time.Now()
	defer func() { c.m.duration.Observe(time.Since(start).Seconds()) }()
	for attempt := 0; ; attempt++ {
		req, err := c.newRequest(ctx, endpoint, token)
		if err != nil {
			return nil, neutral, fmt.Errorf("%w: building the request: %w", ErrUnavailable, err)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			if attempt == 0 && !c.cfg.DisableRetry && retryable(ctx, err) {
				if sleep(ctx, time.Duration(20+rand.IntN(61))*time.Millisecond) {
					continue
				}
			}
			return nil, c.ctxVerdict(ctx, failed), fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return c.readAnswer(ctx, resp)
	}
}

// ctxVerdict turns a failure into neutral when it was our own shutdown.
func (c *Client) ctxVerdict(ctx context.Context, v verdict) verdict {
	if c.life.Err() != nil {
		return neutral
	}
	return v
}

// readAnswer turns the IdP's HTTP response into an Answer, bounding the body.
func (c *Client) readAnswer(ctx context.Context, resp *http.Response) (*Answer, verdict, error) {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		se := &StatusError{StatusCode: resp.StatusCode, OAuthError: oauthErrorCode(resp)}
		v := healthy // e.g. 400: our request's problem, the IdP is up
		switch {
		case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests,
			resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
			v = failed
		}
		return nil, v, fmt.Errorf("%w: %w", ErrUnavailable, se)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		drain(resp.Body)
		return nil, failed, fmt.Errorf("%w: content type %.60q is not JSON", ErrMalformedResponse, resp.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBodyBytes+1))
	if err != nil {
		return nil, c.ctxVerdict(ctx, failed), fmt.Errorf("%w: reading the answer: %w", ErrUnavailable, err)
	}
	if int64(len(body)) > c.cfg.MaxBodyBytes {
		return nil, failed, fmt.Errorf("%w: body larger than %d bytes", ErrMalformedResponse, c.cfg.MaxBodyBytes)
	}
	r, err := decodeResponse(body)
	if err != nil {
		return nil, failed, err
	}
	return &Answer{Response: r, FetchedAt: c.clock.Now()}, healthy, nil
}

// oauthErrorCode reads the "error" member of a small JSON error body, for
// diagnosis. The description is dropped: it is IdP-controlled free text.
func oauthErrorCode(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	drain(resp.Body)
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) != nil {
		return ""
	}
	if len(e.Error) > 40 {
		e.Error = e.Error[:40]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, e.Error)
}

// drain reads a bounded remainder so the connection can be reused.
func drain(r io.Reader) { _, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10)) }

// newRequest builds the RFC 7662 §2.1 request with the configured client
// authentication.
func (c *Client) newRequest(ctx context.Context, endpoint, token string) (*http.Request, error) {
	form := url.Values{"token": {token}}
	switch c.cfg.AuthMethod {
	case AuthClientSecretPost:
		form.Set("client_id", c.cfg.ClientID)
		form.Set("client_secret", string(c.cfg.ClientSecret))
	case AuthPrivateKeyJWT:
		aud := c.cfg.Audience
		if aud == "" {
			aud = endpoint
		}
		a, err := c.assertion(aud)
		if err != nil {
			return nil, err
		}
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", a)
		form.Set("client_id", c.cfg.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	for k, v := range c.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.basicAuth != "" {
		req.Header.Set("Authorization", c.basicAuth)
	}
	return req, nil
}

// assertion signs a fresh RFC 7523 §2.2 client assertion. A new jti per call
// lets the IdP refuse replays.
func (c *Client) assertion(aud string) (string, error) {
	var jti [16]byte
	if _, err := crand.Read(jti[:]); err != nil {
		return "", err
	}
	now := c.clock.Now()
	payload, err := json.Marshal(map[string]any{
		"iss": c.cfg.ClientID,
		"sub": c.cfg.ClientID,
		"aud": aud,
		"jti": hex.EncodeToString(jti[:]),
		"iat": now.Unix(),
		"exp": now.Add(AssertionLifetime).Unix(),
	})
	if err != nil {
		return "", err
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		return "", err
	}
	if c.cfg.PrivateKeyID != "" {
		if err := hdr.Set(jws.KeyIDKey, c.cfg.PrivateKeyID); err != nil {
			return "", err
		}
	}
	out, err := jws.Sign(payload, jws.WithKey(c.alg, c.cfg.PrivateKey, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("signing the client assertion: %w", err)
	}
	return string(out), nil
}

// retryable reports a transport error worth one more try: the connection was
// refused or dropped before an answer. Timeouts are never retried: the
// budget of the call is spent.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// sleep waits d in real time; false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// BreakerOpen reports whether a new IdP call would now fail fast with
// ErrBreakerOpen (open, or half-open with its one probe in flight).
func (c *Client) BreakerOpen() bool { return c.breaker.failingFast(c.clock.Now()) }

// Close cancels in-flight IdP calls, waits for them, stops the cache's
// goroutine and closes the idle connections of the client's own transport.
// Later Introspect calls fail with ErrClosed. Idempotent.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.cancel()
		c.wg.Wait()
		if c.cache != nil {
			c.cache.StopAllGoroutines()
		}
		if c.ownTransport != nil {
			c.ownTransport.CloseIdleConnections()
		}
	})
}
