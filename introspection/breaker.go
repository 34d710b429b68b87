package introspection

import (
	"sync"
	"time"
)

// verdict is what one IdP call says about the IdP's health.
type verdict uint8

const (
	// healthy: the IdP answered (active, inactive, or a 4xx that is our
	// request's problem rather than the IdP's).
	healthy verdict = iota
	// failed: transport error, timeout, 5xx, 429, 401/403, garbage.
	failed
	// neutral: the call ended for a local reason (shutdown, no slot) and
	// says nothing about the IdP.
	neutral
)

type breakerState uint8

const (
	stateClosed breakerState = iota
	stateOpen
	stateHalfOpen
)

// breaker is a consecutive-failure circuit breaker that reads the injected
// clock (gobreaker/v2 reads time.Now, so tests could not step it). Closed:
// calls pass, threshold consecutive failures open it. Open: calls fail fast
// until openFor has passed. Half-open: exactly one probe passes; its success
// closes the breaker, its failure re-opens it. Safe for concurrent use.
type breaker struct {
	threshold int // <= 0: disabled
	openFor   time.Duration
	onChange  func(open bool)

	mu       sync.Mutex
	state    breakerState
	failures int
	openedAt time.Time
	probing  bool
}

// allow decides whether a new IdP call may start at now. probe reports that
// the call is the half-open probe; its result must be passed to record with
// probe=true (or release must be called if it never runs).
func (b *breaker) allow(now time.Time) (probe bool, err error) {
	if b.threshold <= 0 {
		return false, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case stateOpen:
		if now.Sub(b.openedAt) < b.openFor {
			return false, ErrBreakerOpen
		}
		b.state = stateHalfOpen
		fallthrough
	case stateHalfOpen:
		if b.probing {
			return false, ErrBreakerOpen
		}
		b.probing = true
		return true, nil
	}
	return false, nil
}

// release gives back a probe slot whose call never started.
func (b *breaker) release(probe bool) {
	if !probe {
		return
	}
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}

// record feeds one call's verdict into the breaker.
func (b *breaker) record(probe bool, v verdict, now time.Time) {
	if b.threshold <= 0 {
		return
	}
	var changed, open bool
	b.mu.Lock()
	switch {
	case probe:
		b.probing = false
		switch v {
		case healthy:
			b.state, b.failures = stateClosed, 0
			changed, open = true, false
		case failed:
			b.state, b.openedAt = stateOpen, now
		}
	case b.state != stateClosed:
		// Calls that started before the breaker opened say nothing the probe
		// will not say better.
	case v == healthy:
		b.failures = 0
	case v == failed:
		b.failures++
		if b.failures >= b.threshold {
			b.state, b.openedAt = stateOpen, now
			changed, open = true, true
		}
	}
	// Under the lock, so that the gauge and the log see transitions in order.
	if changed && b.onChange != nil {
		b.onChange(open)
	}
	b.mu.Unlock()
}

// failingFast reports whether a new call at now would get ErrBreakerOpen.
func (b *breaker) failingFast(now time.Time) bool {
	if b.threshold <= 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case stateOpen:
		return now.Sub(b.openedAt) < b.openFor
	case stateHalfOpen:
		return b.probing
	}
	return false
}
