// Package clock is the time seam shared by tokenwarden's packages and idpsim.
//
// Every time-dependent rule (exp, nbf, iat, cache TTLs, revocation windows,
// rate limits) reads the time through a Clock so that tests and the benchmark
// harness can drive a whole system from one settable clock.
package clock

import (
	"sync"
	"time"
)

// Clock tells the current time. Implementations must be safe for concurrent use.
type Clock interface {
	Now() time.Time
}

// Func adapts a function to Clock.
type Func func() time.Time

// Now returns f().
func (f Func) Now() time.Time { return f() }

// Real is the wall clock.
var Real Clock = Func(time.Now)

// Manual is a settable clock for tests and compressed-time benchmarks.
// The zero value is not usable; create one with NewManual. Safe for concurrent use.
type Manual struct {
	mu  sync.RWMutex
	now time.Time
}

// NewManual returns a Manual clock set to t.
func NewManual(t time.Time) *Manual { return &Manual{now: t} }

// Now returns the clock's current time.
func (m *Manual) Now() time.Time {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.now
}

// Set moves the clock to t (backwards too).
func (m *Manual) Set(t time.Time) {
	m.mu.Lock()
	m.now = t
	m.mu.Unlock()
}

// Advance moves the clock forward by d and returns the new time.
func (m *Manual) Advance(d time.Duration) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = m.now.Add(d)
	return m.now
}

// OrReal returns c, or Real when c is nil.
func OrReal(c Clock) Clock {
	if c == nil {
		return Real
	}
	return c
}
