package jwks

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/clock"
)

const (
	warnLevel  = slog.LevelWarn
	debugLevel = slog.LevelDebug
)

// Resolver resolves keys for one issuer. Create it with New; it is safe for
// concurrent use. Start runs background refreshes; without Start, keys are
// loaded lazily by the first Key call and refreshed opportunistically. Close
// stops every goroutine it started.
type Resolver struct {
	cfg    Config
	client *http.Client
	// ownClient: built by New, so Close may drop its idle connections.
	ownClient bool
	clk       clock.Clock
	log       *slog.Logger
	m         *Metrics

	// keys is the current snapshot; nil until the first success. Readers
	// never lock.
	keys    atomic.Pointer[keySet]
	started atomic.Bool // the background loop is running

	life   context.Context // owns every fetch; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	mu          sync.Mutex
	closed      bool
	cur         *flight              // JWKS fetch in progress, if any
	lastAttempt time.Time            // start of the last JWKS fetch of any cause
	lastForced  time.Time            // start of the last unknown-kid fetch
	lastErr     error                // outcome of the last JWKS fetch
	negative    map[string]time.Time // kid -> expiry
	meta        *Metadata            // last good discovery document
	metaCur     *metaFlight          // discovery fetch in progress
	metaAttempt time.Time            // start of the last discovery fetch
	metaErr     error                // outcome of the last discovery fetch
}

// flight is one shared fetch. Waiters select on done and their own ctx.
type flight struct {
	done  chan struct{}
	cause string
	kid   string // the unknown kid that forced it, if cause is unknown_kid
	err   error  // set before done is closed
}

type metaFlight struct {
	done chan struct{}
	md   Metadata
	err  error
}

// New validates cfg and builds a Resolver. It does no network I/O; it reads
// cfg.CAFile if set and no WithHTTPClient is given.
func New(cfg Config, opts ...Option) (*Resolver, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	own := o.client == nil
	if own {
		if o.client, err = newHTTPClient(cfg); err != nil {
			return nil, err
		}
	}
	if o.metrics == nil {
		o.metrics = NewMetrics(o.reg)
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	o.metrics.init(cfg.Name)
	r := &Resolver{
		cfg:       cfg,
		client:    o.client,
		ownClient: own,
		clk:       clock.OrReal(o.clock),
		log:       o.log,
		m:         o.metrics,
		negative:  make(map[string]time.Time),
	}
	r.life, r.cancel = context.WithCancel(context.Background())
	return r, nil
}

// Issuer returns the configured issuer.
func (r *Resolver) Issuer() string { return r.cfg.Issuer }

// Name returns the issuer's label.
func (r *Resolver) Name() string { return r.cfg.Name }

// Ready reports whether keys were loaded at least once.
func (r *Resolver) Ready() bool { return r.keys.Load() != nil }

// Stale reports whether the keys last loaded are older than MaxStale: they
// may no longer be used, so verifications made with them should not be
// reused either. False when nothing was loaded yet. Cheap; safe for
// concurrent use.
func (r *Resolver) Stale() bool {
	s := r.keys.Load()
	return s != nil && r.clk.Now().Sub(s.loadedAt) > r.cfg.MaxStale
}

// LastSuccess is the clock time of the last successful JWKS fetch (zero if none).
func (r *Resolver) LastSuccess() time.Time {
	if s := r.keys.Load(); s != nil {
		return s.loadedAt
	}
	return time.Time{}
}

// Start runs the background refresh loop until ctx is done or Close is
// called: a fetch at once, then every RefreshInterval (sooner, with
// doubling backoff from UnknownKIDMinInterval, after a failure). Calling it
// again while the loop runs does nothing.
func (r *Resolver) Start(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || !r.started.CompareAndSwap(false, true) {
		return
	}
	r.wg.Add(1)
	go r.loop(ctx)
}

func (r *Resolver) loop(ctx context.Context) {
	defer r.wg.Done()
	defer r.started.Store(false)
	timer := time.NewTimer(0)
	defer timer.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.life.Done():
			return
		case <-timer.C:
		}
		cause := causeScheduled
		if r.keys.Load() == nil {
			cause = causeInitial
		}
		f, err := r.join(cause)
		if err == nil {
			// Close aborts the fetch (lifetime ctx), so this wait ends too.
			err = wait(ctx, f)
		}
		next := r.cfg.RefreshInterval
		if err != nil {
			failures = min(failures+1, maxBackoffShifts)
			next = min(next, r.cfg.UnknownKIDMinInterval<<(failures-1))
		} else {
			failures = 0
		}
		timer.Reset(next)
	}
}

// Close stops the background loop, aborts fetches in flight and waits for
// every goroutine. Keys already loaded keep being served; nothing is fetched
// any more. Idempotent.
func (r *Resolver) Close() {
	r.once.Do(func() {
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		r.cancel()
		r.wg.Wait()
		if r.ownClient {
			r.client.CloseIdleConnections()
		}
	})
}

// Refresh forces a JWKS fetch, joining one already in flight, and waits for
// it as long as ctx allows. Not rate-limited: for tests and admin use.
func (r *Resolver) Refresh(ctx context.Context) error {
	f, err := r.join(causeManual)
	if err != nil {
		return err
	}
	return wait(ctx, f)
}

// Key returns the key for kid bound to alg. Errors: ErrAlgMismatch and
// ErrUnknownKID mean the token is invalid; ErrRefreshSuppressed and
// ErrKeysUnavailable mean "retry later". kid and alg come from an untrusted
// token header; both are bounded before use.
func (r *Resolver) Key(ctx context.Context, kid, alg string) (Key, error) {
	// The allowlist comes first, so that "none", HS256 and garbage algs can
	// never cause a fetch (RFC 8725 §3.1).
	if !r.allowed(alg) {
		return Key{}, fmt.Errorf("%w: alg %q not allowed", ErrAlgMismatch, clip(alg))
	}
	if len(kid) > maxKIDLen {
		return Key{}, fmt.Errorf("%w: kid longer than %d bytes", ErrUnknownKID, maxKIDLen)
	}
	set, err := r.usableSet(ctx)
	if err != nil {
		return Key{}, err
	}
	if k, found, err := set.lookup(kid, alg); found {
		return k, err
	}
	return r.unknownKID(ctx, kid, alg)
}

func (r *Resolver) allowed(alg string) bool {
	for _, a := range r.cfg.Algorithms {
		if a == alg {
			return true
		}
	}
	return false
}

// usableSet returns keys no older than MaxStale, loading them (or joining a
// load) when there are none or they are too stale. Such on-demand loads are
// limited to one per UnknownKIDMinInterval so that an unreachable IdP is not
// hammered at the request rate.
func (r *Resolver) usableSet(ctx context.Context) (*keySet, error) {
	set := r.keys.Load()
	now := r.clk.Now()
	if set != nil && now.Sub(set.loadedAt) <= r.cfg.MaxStale {
		if !r.started.Load() && now.Sub(set.loadedAt) >= r.cfg.RefreshInterval {
			r.kick(now) // lazy mode: nobody else refreshes
		}
		return set, nil
	}
	cause := causeScheduled
	if set == nil {
		cause = causeInitial
	}
	r.mu.Lock()
	f := r.cur
	if f == nil {
		if r.closed {
			r.mu.Unlock()
			return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, errClosed)
		}
		if !r.lastAttempt.IsZero() && now.Sub(r.lastAttempt) < r.cfg.UnknownKIDMinInterval {
			err := r.lastErr
			r.mu.Unlock()
			if err == nil {
				err = fmt.Errorf("%w: keys older than max_stale", ErrKeysUnavailable)
			}
			return nil, err
		}
		f = r.startLocked(cause, "", now)
	}
	r.mu.Unlock()
	if err := wait(ctx, f); err != nil {
		return nil, err
	}
	set = r.keys.Load()
	if set == nil || r.clk.Now().Sub(set.loadedAt) > r.cfg.MaxStale {
		return nil, fmt.Errorf("%w: keys older than max_stale", ErrKeysUnavailable)
	}
	return set, nil
}

// kick starts a background refresh without waiting, if none runs and the
// on-demand rate limit allows.
func (r *Resolver) kick(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.cur != nil || (!r.lastAttempt.IsZero() && now.Sub(r.lastAttempt) < r.cfg.UnknownKIDMinInterval) {
		return
	}
	r.startLocked(causeScheduled, "", now)
}

// unknownKID handles a kid absent from the current set: negative cache,
// then one rate-limited forced refresh shared by all concurrent callers.
func (r *Resolver) unknownKID(ctx context.Context, kid, alg string) (Key, error) {
	// Two rounds at most: a caller that joined somebody else's fetch (which
	// may have been sent before this kid was published) gets one chance to
	// force its own.
	for range 2 {
		r.mu.Lock()
		// A fetch may have finished since the caller looked.
		if set := r.keys.Load(); set != nil {
			if k, found, err := set.lookup(kid, alg); found {
				r.mu.Unlock()
				return k, err
			}
		}
		now := r.clk.Now()
		if exp, ok := r.negative[kid]; ok {
			if now.Before(exp) {
				r.mu.Unlock()
				return Key{}, fmt.Errorf("%w: %q (negative-cached)", ErrUnknownKID, clip(kid))
			}
			delete(r.negative, kid)
		}
		f := r.cur
		switch {
		case f != nil:
		case r.closed:
			r.mu.Unlock()
			return Key{}, fmt.Errorf("%w: %w", ErrKeysUnavailable, errClosed)
		case r.lastForced.IsZero() || now.Sub(r.lastForced) >= r.cfg.UnknownKIDMinInterval:
			r.lastForced = now
			f = r.startLocked(causeUnknownKID, kid, now)
		default:
			r.mu.Unlock()
			return Key{}, fmt.Errorf("%w: next forced fetch in %s", ErrRefreshSuppressed,
				r.cfg.UnknownKIDMinInterval-now.Sub(r.lastForced))
		}
		r.mu.Unlock()
		if err := wait(ctx, f); err != nil {
			return Key{}, err
		}
		set := r.keys.Load()
		if set == nil {
			return Key{}, fmt.Errorf("%w: no keys loaded", ErrKeysUnavailable)
		}
		if k, found, err := set.lookup(kid, alg); found {
			return k, err
		}
		// Only a fetch forced by this very kid proves it unknown: the token
		// existed before that fetch was sent, so its key was published too.
		if f.cause == causeUnknownKID && f.kid == kid {
			r.addNegative(kid)
			return Key{}, fmt.Errorf("%w: %q", ErrUnknownKID, clip(kid))
		}
	}
	return Key{}, fmt.Errorf("%w: kid %q not found in a shared refresh", ErrRefreshSuppressed, clip(kid))
}

func (r *Resolver) addNegative(kid string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clk.Now()
	if len(r.negative) >= maxNegative {
		for k, exp := range r.negative {
			if !now.Before(exp) {
				delete(r.negative, k)
			}
		}
	}
	if len(r.negative) >= maxNegative {
		for k := range r.negative { // evict an arbitrary entry
			delete(r.negative, k)
			break
		}
	}
	r.negative[kid] = now.Add(r.cfg.NegativeTTL)
}

// join returns the JWKS fetch in flight, or starts one (not rate-limited).
func (r *Resolver) join(cause string) (*flight, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur != nil {
		return r.cur, nil
	}
	if r.closed {
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, errClosed)
	}
	return r.startLocked(cause, "", r.clk.Now()), nil
}

// startLocked starts a JWKS fetch on the lifetime context. r.mu is held and
// r.closed is false, so the WaitGroup cannot be waited on concurrently
// with this Add at count zero.
func (r *Resolver) startLocked(cause, kid string, now time.Time) *flight {
	f := &flight{done: make(chan struct{}), cause: cause, kid: kid}
	r.cur = f
	r.lastAttempt = now
	r.wg.Add(1)
	go r.run(f)
	return f
}

func (r *Resolver) run(f *flight) {
	defer r.wg.Done()
	set, err := r.fetchKeys(r.life)
	r.mu.Lock()
	if err == nil {
		r.keys.Store(set) // before done closes: waiters see the new keys
	}
	r.lastErr = err
	r.cur = nil
	r.mu.Unlock()

	outcome := "success"
	if err != nil {
		outcome = "error"
		r.log.Warn("jwks: fetch failed", "issuer", r.cfg.Name, "cause", f.cause, "err", err)
	} else {
		r.m.lastSuccess.WithLabelValues(r.cfg.Name).Set(float64(set.loadedAt.UnixNano()) / 1e9)
		r.log.Debug("jwks: keys loaded", "issuer", r.cfg.Name, "cause", f.cause, "keys", len(set.byKID))
	}
	r.m.fetches.WithLabelValues(r.cfg.Name, outcome, f.cause).Inc()
	f.err = err
	close(f.done)
}

// wait waits for f or ctx, whichever is first. The fetch itself goes on.
func wait(ctx context.Context, f *flight) error {
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrKeysUnavailable, ctx.Err())
	}
}

// Metadata returns the issuer's discovery document, fetched once (shared
// by concurrent callers) and cached. Failed attempts are retried at most
// once per UnknownKIDMinInterval; in between the last error is returned.
// The document is fetched again after a JWKS fetch fails, since jwks_uri may
// have moved.
func (r *Resolver) Metadata(ctx context.Context) (Metadata, error) {
	return r.awaitMetadata(ctx, false)
}

// awaitMetadata returns the cached document or joins/starts a discovery
// fetch; force skips the rate limit (the JWKS fetch is limited itself).
func (r *Resolver) awaitMetadata(ctx context.Context, force bool) (Metadata, error) {
	r.mu.Lock()
	if r.meta != nil {
		md := *r.meta
		r.mu.Unlock()
		return md, nil
	}
	f := r.metaCur
	if f == nil {
		now := r.clk.Now()
		switch {
		case r.closed:
			r.mu.Unlock()
			return Metadata{}, fmt.Errorf("%w: %w", ErrKeysUnavailable, errClosed)
		case !force && r.metaErr != nil && now.Sub(r.metaAttempt) < r.cfg.UnknownKIDMinInterval:
			err := r.metaErr
			r.mu.Unlock()
			return Metadata{}, err
		}
		f = &metaFlight{done: make(chan struct{})}
		r.metaCur, r.metaAttempt = f, now
		r.wg.Add(1)
		go r.runMeta(f)
	}
	r.mu.Unlock()
	select {
	case <-f.done:
		return f.md, f.err
	case <-ctx.Done():
		return Metadata{}, fmt.Errorf("%w: %w", ErrKeysUnavailable, ctx.Err())
	}
}

func (r *Resolver) runMeta(f *metaFlight) {
	defer r.wg.Done()
	md, err := r.fetchDiscovery(r.life)
	r.mu.Lock()
	if err == nil {
		r.meta = &md
	}
	r.metaErr = err
	r.metaCur = nil
	r.mu.Unlock()
	if err != nil {
		r.log.Warn("jwks: discovery failed", "issuer", r.cfg.Name, "err", err)
	}
	f.md, f.err = md, err
	close(f.done)
}
