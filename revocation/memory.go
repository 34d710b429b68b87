package revocation

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/internal/tokenhash"
)

// Defaults and bounds of Config.
const (
	DefaultWindow     = time.Hour
	DefaultMaxEntries = 100000
	// MaxValueBytes bounds an event's issuer and value: no sid, sub, jti or
	// client id of a real IdP is longer, and the bound caps what one entry
	// can cost.
	MaxValueBytes = 1024
	// maxLearnedWindow caps a window learned from token lifetimes, so that
	// one odd token (offline tokens without a short exp) cannot make the
	// store remember everything for days.
	maxLearnedWindow = 24 * time.Hour
	// maxLearnedIssuers bounds the per-issuer learned windows.
	maxLearnedIssuers = 256
)

// Config configures a Memory store. The zero value of every field selects
// its default.
type Config struct {
	// Window is how long an entry lives after its event (after the later of
	// the event's At and the time it was added). It must be at least the
	// longest access-token lifetime of the issuers: after Window every token
	// the entry could affect has expired anyway. Default 1h.
	Window time.Duration `mapstructure:"window"`
	// MaxEntries bounds the entries held. When full, the watch entries
	// closest to expiry are evicted first; deny entries are never dropped:
	// Add returns ErrFull instead. Default 100000.
	MaxEntries int `mapstructure:"max_entries"`
	// RestartWindow makes tokens issued before the store was created Watch
	// (Verdict.RestartWindow) until start+Window: whatever the IdP said while
	// we were not running is lost with a memory store.
	RestartWindow bool `mapstructure:"restart_window"`
	// LearnWindowFromTokens extends Window per issuer to the longest token
	// lifetime (exp-iat) reported through ObserveLifetime, capped at 24h.
	LearnWindowFromTokens bool `mapstructure:"learn_window_from_tokens"`
}

func (c Config) withDefaults() (Config, error) {
	if c.Window < 0 {
		return c, fmt.Errorf("%w: window must not be negative", ErrInvalidConfig)
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.MaxEntries < 0 {
		return c, fmt.Errorf("%w: max_entries must not be negative", ErrInvalidConfig)
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = DefaultMaxEntries
	}
	return c, nil
}

// key identifies an entry. Strings only, so a lookup builds it without
// allocating.
type key struct {
	issuer string
	kind   KeyKind
	value  string
}

// slot is one stored entry: the deny or the watch of a key.
type slot struct {
	k      key
	action Action
	at     time.Time
	exp    time.Time
	source string
	idx    int // position in its heap
}

// record holds the (at most) two slots of a key. A key may hold a deny and a
// later watch at once: a deny at 10:00 and a watch at 10:05 must still watch
// tokens issued between them.
type record struct {
	deny, watch *slot
}

// slotHeap orders slots by expiry: the top is the next to expire, and for
// the watch heap also the first to evict.
type slotHeap []*slot

func (h slotHeap) Len() int { return len(h) }
func (h slotHeap) Less(i, j int) bool {
	if c := h[i].exp.Compare(h[j].exp); c != 0 {
		return c < 0
	}
	return h[i].at.Before(h[j].at)
}
func (h slotHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}
func (h *slotHeap) Push(x any) {
	s := x.(*slot)
	s.idx = len(*h)
	*h = append(*h, s)
}
func (h *slotHeap) Pop() any {
	old := *h
	n := len(old)
	s := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	s.idx = -1
	return s
}

// Memory is the in-process Store: a map from (issuer, kind, value) to at most
// one deny and one watch entry, bounded by MaxEntries. It runs no goroutine:
// expired entries are removed lazily by Add, List, Len and, opportunistically,
// Check. Safe for concurrent use.
//
// Security caveat: its content is lost on restart; Config.RestartWindow
// covers that gap by watching older tokens.
type Memory struct {
	cfg   Config
	clk   clock.Clock
	log   *slog.Logger
	m     *Metrics
	start time.Time

	// n is the number of slots, read without the lock so that Check on an
	// empty store costs one atomic load.
	n atomic.Int64
	// restartUntil is start+window as Unix nanoseconds (0: no restart window).
	restartUntil atomic.Int64

	mu    sync.RWMutex
	recs  map[key]*record
	deny  slotHeap
	watch slotHeap

	lmu     sync.RWMutex
	learned map[string]time.Duration // issuer -> learned window (> cfg.Window)
}

var _ Store = (*Memory)(nil)

// NewMemory validates cfg and returns an empty store whose start time (for
// the restart window) is the clock's now. It does no I/O and starts no
// goroutine.
func NewMemory(cfg Config, opts ...Option) (*Memory, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	if o.metrics == nil {
		o.metrics = NewMetrics(o.reg)
	}
	m := &Memory{
		cfg:     cfg,
		clk:     o.clock,
		log:     o.log,
		m:       o.metrics,
		start:   o.clock.Now(),
		recs:    make(map[key]*record),
		learned: make(map[string]time.Duration),
	}
	if cfg.RestartWindow {
		m.restartUntil.Store(m.start.Add(cfg.Window).UnixNano())
	}
	return m, nil
}

// Started returns the time the store was created (the restart window's anchor).
func (m *Memory) Started() time.Time { return m.start }

// Check implements Store. An entry applies when facts.IssuedAt < entry.At (a
// jti entry whatever the iat) and it has not expired; a deny beats a watch.
// Not-before entries apply realm-wide (value "") and for the token's client.
func (m *Memory) Check(t TokenFacts) Verdict {
	until := m.restartUntil.Load()
	if m.n.Load() == 0 && until == 0 {
		return Verdict{}
	}
	now := m.clk.Now()
	var v Verdict
	if m.n.Load() > 0 {
		v = m.lookup(&t, now)
	}
	if v.Denied {
		return v
	}
	if until != 0 && now.UnixNano() < until && t.IssuedAt.Before(m.start) {
		if !v.Watch {
			v = Verdict{Watch: true, Reason: ReasonRestart, At: m.start}
		}
		v.RestartWindow = true
	}
	return v
}

// scan accumulates the best verdict of a lookup. It lives on Check's stack.
type scan struct {
	v       Verdict
	expired bool
}

func (m *Memory) lookup(t *TokenFacts, now time.Time) Verdict {
	var s scan
	m.mu.RLock()
	if t.TokenID != "" {
		m.probe(&s, key{t.Issuer, KindToken, t.TokenID}, t.IssuedAt, now, true)
	}
	if t.SessionID != "" {
		m.probe(&s, key{t.Issuer, KindSession, t.SessionID}, t.IssuedAt, now, false)
	}
	if t.Subject != "" {
		m.probe(&s, key{t.Issuer, KindSubject, t.Subject}, t.IssuedAt, now, false)
	}
	if t.ClientID != "" {
		m.probe(&s, key{t.Issuer, KindClient, t.ClientID}, t.IssuedAt, now, false)
		m.probe(&s, key{t.Issuer, KindNotBefore, t.ClientID}, t.IssuedAt, now, false)
	}
	m.probe(&s, key{t.Issuer, KindNotBefore, ""}, t.IssuedAt, now, false)
	m.mu.RUnlock()
	if s.expired {
		// Lazy removal, but never make a request wait for the write lock.
		if m.mu.TryLock() {
			m.sweepLocked(now)
			m.mu.Unlock()
		}
	}
	return s.v
}

// probe looks one key up and folds what applies into s. Caller holds mu (read).
func (m *Memory) probe(s *scan, k key, iat, now time.Time, anyIat bool) {
	if s.v.Denied {
		return
	}
	r := m.recs[k]
	if r == nil {
		return
	}
	if d := r.deny; d != nil {
		if now.After(d.exp) {
			s.expired = true
		} else if anyIat || iat.Before(d.at) {
			s.v = Verdict{Denied: true, Reason: string(k.kind), Source: d.source, At: d.at}
			return
		}
	}
	if w := r.watch; w != nil {
		if now.After(w.exp) {
			s.expired = true
		} else if (anyIat || iat.Before(w.at)) && (!s.v.Watch || w.at.After(s.v.At)) {
			s.v = Verdict{Watch: true, Reason: string(k.kind), Source: w.source, At: w.at}
		}
	}
}

// validateEvent checks what Add needs; events come from validated sources,
// but Store is a public seam.
func validateEvent(e *Event) error {
	bad := func(detail string) error { return newErr(ErrInvalidEvent, ReasonValue, detail) }
	switch {
	case e.Issuer == "":
		return bad("issuer is required")
	case len(e.Issuer) > MaxValueBytes || len(e.Value) > MaxValueBytes:
		return bad("issuer or value too long")
	case e.At.IsZero():
		return bad("at is required")
	}
	switch e.Kind {
	case KindSession, KindSubject, KindToken, KindClient:
		if e.Value == "" {
			return bad("value is required")
		}
	case KindNotBefore:
	default:
		return bad("unknown kind")
	}
	switch e.Action {
	case ActionDeny, ActionWatch:
	default:
		return bad("unknown action")
	}
	switch e.Source {
	case SourceBackchannelLogout, SourceNotBeforePush, SourceAdmin, SourceLearned:
	default:
		return bad("unknown source")
	}
	return nil
}

// Add implements Store. For a key already held: a later deny extends the
// deny (the latest At wins), a deny removes a watch it covers, and a watch
// already covered by a deny is not stored. When the store is full the watch
// entry closest to expiry is evicted; when no watch entry is left, Add
// returns ErrFull and the store is unchanged.
func (m *Memory) Add(ctx context.Context, e Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateEvent(&e); err != nil {
		return err
	}
	now := m.clk.Now()
	exp := later(e.At, now).Add(m.window(e.Issuer))
	k := key{e.Issuer, e.Kind, e.Value}

	m.mu.Lock()
	m.sweepLocked(now)
	outcome, evicted, err := m.addLocked(k, &e, exp)
	count := len(m.deny) + len(m.watch)
	m.mu.Unlock()

	fp := tokenhash.Fingerprint(e.Value)
	if evicted > 0 {
		m.m.dropped.WithLabelValues(string(ActionWatch), "evicted").Add(float64(evicted))
		m.log.Warn("revocation: store full, evicted watch entries", "evicted", evicted, "max_entries", m.cfg.MaxEntries)
	}
	if err != nil {
		m.m.dropped.WithLabelValues(string(e.Action), "full").Inc()
		m.log.Error("revocation: store full, event not recorded",
			"issuer", e.Issuer, "kind", e.Kind, "key", fp, "action", e.Action, "source", e.Source,
			"entries", count, "max_entries", m.cfg.MaxEntries)
		return err
	}
	m.m.events.WithLabelValues(e.Source, string(e.Action)).Inc()
	m.log.Info("revocation: event",
		"issuer", e.Issuer, "kind", e.Kind, "key", fp, "action", e.Action, "source", e.Source,
		"at", e.At, "expires", exp, "outcome", outcome, "entries", count)
	return nil
}

// addLocked applies e. Caller holds mu. outcome is for the log.
func (m *Memory) addLocked(k key, e *Event, exp time.Time) (outcome string, evicted int, err error) {
	r := m.recs[k]
	anyIat := k.kind == KindToken
	if e.Action == ActionDeny {
		if r != nil && r.deny != nil {
			extend(r.deny, e, exp)
			heap.Fix(&m.deny, r.deny.idx)
			if r.watch != nil && covers(r.deny, r.watch, anyIat) {
				m.removeLocked(r.watch)
			}
			return "extended", 0, nil
		}
		freed := false
		if r != nil && r.watch != nil && covers(&slot{at: e.At, exp: exp}, r.watch, anyIat) {
			// The deny supersedes the watch: it takes the watch's place, so
			// adding it never needs an eviction.
			m.removeLocked(r.watch)
			freed = true
		}
		if !freed {
			if evicted, err = m.makeRoomLocked(); err != nil {
				return "", evicted, err
			}
		}
		m.insertLocked(k, e, exp)
		return "added", evicted, nil
	}
	if r != nil && r.deny != nil && covers(r.deny, &slot{at: e.At, exp: exp}, anyIat) {
		return "covered_by_deny", 0, nil
	}
	if r != nil && r.watch != nil {
		extend(r.watch, e, exp)
		heap.Fix(&m.watch, r.watch.idx)
		return "extended", 0, nil
	}
	if evicted, err = m.makeRoomLocked(); err != nil {
		return "", evicted, err
	}
	m.insertLocked(k, e, exp)
	return "added", evicted, nil
}

// makeRoomLocked evicts the watch entry closest to expiry when the store is
// full, or fails with ErrFull (store unchanged) when there is none.
func (m *Memory) makeRoomLocked() (int, error) {
	if len(m.deny)+len(m.watch) < m.cfg.MaxEntries {
		return 0, nil
	}
	if len(m.watch) == 0 {
		return 0, fmt.Errorf("%w: %d deny entries held (max_entries %d)", ErrFull, len(m.deny), m.cfg.MaxEntries)
	}
	m.removeLocked(m.watch[0])
	return 1, nil
}

func (m *Memory) insertLocked(k key, e *Event, exp time.Time) {
	s := &slot{k: k, action: e.Action, at: e.At, exp: exp, source: e.Source}
	r := m.recs[k]
	if r == nil {
		r = &record{}
		m.recs[k] = r
	}
	if e.Action == ActionDeny {
		r.deny = s
		heap.Push(&m.deny, s)
	} else {
		r.watch = s
		heap.Push(&m.watch, s)
	}
	m.n.Add(1)
	m.m.entries.Inc()
}

func (m *Memory) removeLocked(s *slot) {
	r := m.recs[s.k]
	if s.action == ActionDeny {
		heap.Remove(&m.deny, s.idx)
		if r != nil {
			r.deny = nil
		}
	} else {
		heap.Remove(&m.watch, s.idx)
		if r != nil {
			r.watch = nil
		}
	}
	if r != nil && r.deny == nil && r.watch == nil {
		delete(m.recs, s.k)
	}
	m.n.Add(-1)
	m.m.entries.Dec()
}

// sweepLocked removes the entries expired at now (now > Expires).
func (m *Memory) sweepLocked(now time.Time) {
	for _, h := range []*slotHeap{&m.deny, &m.watch} {
		for len(*h) > 0 && now.After((*h)[0].exp) {
			m.removeLocked((*h)[0])
		}
	}
}

// extend merges a repeated event into s: the latest At and expiry win.
func extend(s *slot, e *Event, exp time.Time) {
	if e.At.After(s.at) {
		s.at = e.At
		s.source = e.Source
	}
	if exp.After(s.exp) {
		s.exp = exp
	}
}

// covers reports whether a applies to every token b applies to, for as long.
func covers(a, b *slot, anyIat bool) bool {
	return (anyIat || !a.at.Before(b.at)) && !a.exp.Before(b.exp)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// List implements Store: the live entries, oldest event first.
func (m *Memory) List() []Entry {
	now := m.clk.Now()
	m.mu.Lock()
	m.sweepLocked(now)
	out := make([]Entry, 0, len(m.deny)+len(m.watch))
	for _, h := range []slotHeap{m.deny, m.watch} {
		for _, s := range h {
			out = append(out, Entry{
				Event: Event{
					Issuer: s.k.issuer, Kind: s.k.kind, Value: s.k.value,
					Action: s.action, At: s.at, Source: s.source,
				},
				Expires:     s.exp,
				Fingerprint: tokenhash.Fingerprint(s.k.value),
			})
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Entry) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Issuer, b.Issuer), cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Value, b.Value), cmp.Compare(a.Action, b.Action))
	})
	return out
}

// Len implements Store.
func (m *Memory) Len() int {
	now := m.clk.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(now)
	return len(m.deny) + len(m.watch)
}

// ObserveLifetime reports an access-token lifetime (exp-iat) seen for
// issuer. With Config.LearnWindowFromTokens, entries of that issuer then live
// at least that long, and the restart window is extended likewise; without
// it, it does nothing. Lifetimes are capped at 24h. Cheap when nothing
// changes (one read lock); safe for concurrent use.
func (m *Memory) ObserveLifetime(issuer string, d time.Duration) {
	if !m.cfg.LearnWindowFromTokens || d <= m.cfg.Window {
		return
	}
	d = min(d, maxLearnedWindow)
	m.lmu.RLock()
	cur, ok := m.learned[issuer]
	n := len(m.learned)
	m.lmu.RUnlock()
	if d <= cur || (!ok && n >= maxLearnedIssuers) {
		return
	}
	m.lmu.Lock()
	if d > m.learned[issuer] {
		m.learned[issuer] = d
		m.log.Info("revocation: window extended from observed token lifetime", "issuer", issuer, "window", d)
	}
	m.lmu.Unlock()
	if m.cfg.RestartWindow {
		until := m.start.Add(d).UnixNano()
		for {
			cur := m.restartUntil.Load()
			if cur >= until || m.restartUntil.CompareAndSwap(cur, until) {
				break
			}
		}
	}
}

// window is the entry lifetime for issuer.
func (m *Memory) window(issuer string) time.Duration {
	if !m.cfg.LearnWindowFromTokens {
		return m.cfg.Window
	}
	m.lmu.RLock()
	d := m.learned[issuer]
	m.lmu.RUnlock()
	return max(d, m.cfg.Window)
}
