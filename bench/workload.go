package bench

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// NotRevoked is Token.RevokedAt of a token nothing revokes.
const NotRevoked = time.Duration(math.MaxInt64)

// Workload is the generated, strategy-independent script of a scenario:
// sessions, the tokens they hold (with issue times), the requests made with
// them and the IdP events, all on the scenario's virtual timeline (offsets
// from its start; issue times may be negative: sessions already running
// when the run starts). The same seed gives the same Workload, byte for byte
// (see Hash). Read-only once generated; safe for concurrent reads.
type Workload struct {
	Scenario *Scenario
	Sessions []Session
	// Tokens are sorted by issue time; only tokens used at least once in
	// the run are kept (the others are never minted).
	Tokens []Token
	// Requests are sorted by time.
	Requests []Request
	// Events are sorted by time (stable in scenario order).
	Events []Event
	// Rotations are the key rotation times, sorted.
	Rotations []time.Duration
	// SkippedEvents counts events that found no target (no live token or
	// session of the right kind at their time).
	SkippedEvents int
}

// Session is one login of a user at a client.
type Session struct {
	User   int
	Client string // ClientApp or ClientLegacy
}

// Token is one access token: what the IdP issues at IssuedAt (whole
// seconds, so that iat is exact) and what the ground truth knows about it.
type Token struct {
	Session   int
	IssuedAt  time.Duration
	ExpiresAt time.Duration
	// RevokedAt is the earliest event that makes the IdP call the token
	// inactive (revocation, logout of its session, a not-before policy
	// after its iat), or NotRevoked.
	RevokedAt time.Duration
	// Requests is how many requests use the token.
	Requests int
}

// Request is one validation.
type Request struct {
	At        time.Duration
	Token     int
	Sensitive bool
}

// Event is one IdP event of the script.
type Event struct {
	At   time.Duration
	Kind string // EventRevoke, EventLogout, EventNotBefore
	// Token is the revoked token, or for a logout the session's live token
	// (whose sid is logged out); -1 for not_before.
	Token int
	// Session is the logged-out session, or -1.
	Session int
	Push    bool
	// Client of a not_before event (ClientApp, ClientLegacy, ClientRealm).
	Client string
}

// genToken is a token during generation.
type genToken struct {
	Token
	times   []time.Duration
	sens    []bool
	dropped bool
}

// Generate builds the workload of s. It is deterministic in s (and its Seed).
func Generate(s *Scenario) (*Workload, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	smp, err := newSampler(s.RequestsPerToken)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrScenario, s.Name, err)
	}
	r := rand.New(rand.NewPCG(s.Seed, s.Seed^0x6a09e667f3bcc909))
	L, S, D := s.TokenLifetime, s.SessionLength, s.Duration

	// Session arrivals: a Poisson process whose rate gives the requested
	// validation rate in steady state (mean tokens per session for an
	// exponential length: 1/(1-e^(-L/S))). Arrivals start early enough that
	// the run begins in steady state.
	tokensPerSession := 1 / (1 - math.Exp(-L.Seconds()/S.Seconds()))
	lambda := s.Rate / (s.RequestsPerToken.Mean * tokensPerSession)
	warm := min(3*S+L, maxDuration)

	w := &Workload{Scenario: s}
	var toks []*genToken
	t := -warm.Seconds()
	for {
		t += r.ExpFloat64() / lambda
		if t >= D.Seconds() {
			break
		}
		start := time.Duration(math.Floor(t)) * time.Second
		length := expDuration(r, S.Seconds())
		n := max(1, int(math.Ceil(length/L.Seconds())))
		sess := Session{User: r.IntN(s.Users), Client: ClientLegacy}
		if r.Float64() < s.BackchannelShare {
			sess.Client = ClientApp
		}
		si := len(w.Sessions)
		w.Sessions = append(w.Sessions, sess)
		for k := range n {
			iat := start + time.Duration(k)*L
			if iat >= D {
				break
			}
			gt := &genToken{Token: Token{Session: si, IssuedAt: iat, ExpiresAt: iat + L, RevokedAt: NotRevoked}}
			uses := smp.sample(r)
			for range uses {
				at := iat + time.Duration(r.Float64()*float64(L))
				sens := r.Float64() < s.SensitiveShare
				if at >= 0 && at < D {
					gt.times = append(gt.times, at)
					gt.sens = append(gt.sens, sens)
				}
			}
			if len(gt.times) > 0 {
				toks = append(toks, gt)
			}
		}
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("%w: %s: the scenario generates no request", ErrScenario, s.Name)
	}
	slices.SortStableFunc(toks, func(a, b *genToken) int { return cmp.Compare(a.IssuedAt, b.IssuedAt) })

	w.scriptEvents(r, toks)

	// Compact: kept tokens in issue order, requests sorted by time.
	index := make([]int, len(toks))
	for i, gt := range toks {
		index[i] = -1
		if gt.dropped {
			continue
		}
		index[i] = len(w.Tokens)
		gt.Requests = len(gt.times)
		w.Tokens = append(w.Tokens, gt.Token)
		for j, at := range gt.times {
			w.Requests = append(w.Requests, Request{At: at, Token: index[i], Sensitive: gt.sens[j]})
		}
	}
	slices.SortStableFunc(w.Requests, func(a, b Request) int {
		if c := cmp.Compare(a.At, b.At); c != 0 {
			return c
		}
		return cmp.Compare(a.Token, b.Token)
	})
	for i := range w.Events {
		if e := &w.Events[i]; e.Token >= 0 {
			e.Token = index[e.Token]
		}
	}
	w.Rotations = slices.Clone(s.KeyRotations)
	slices.Sort(w.Rotations)
	w.Rotations = slices.Compact(w.Rotations)
	return w, nil
}

// scriptEvents draws the events' times, picks their targets among the
// tokens and sessions live at that time, and records the ground truth:
// RevokedAt, and the tokens a logged-out session never gets.
func (w *Workload) scriptEvents(r *rand.Rand, toks []*genToken) {
	s := w.Scenario
	var evs []Event
	for _, spec := range s.Events {
		to := spec.To
		if to == 0 {
			to = s.Duration
		}
		at := slices.Clone(spec.At)
		for range spec.Count {
			at = append(at, spec.From+time.Duration(r.Int64N(int64(to-spec.From))))
		}
		for _, t := range at {
			evs = append(evs, Event{At: t.Truncate(time.Second), Kind: spec.Kind, Token: -1, Session: -1, Push: spec.Push, Client: spec.Client})
		}
	}
	slices.SortStableFunc(evs, func(a, b Event) int { return cmp.Compare(a.At, b.At) })

	ended := make([]bool, len(w.Sessions))
	// pick chooses uniformly among live tokens that pass ok, preferring
	// those still used after t (a revocation nobody tests measures nothing).
	pick := func(t time.Duration, ok func(*genToken) bool) int {
		var used, live []int
		for i, gt := range toks {
			if gt.IssuedAt > t {
				break
			}
			if gt.dropped || t >= gt.ExpiresAt || !ok(gt) {
				continue
			}
			live = append(live, i)
			if slices.ContainsFunc(gt.times, func(x time.Duration) bool { return x >= t }) {
				used = append(used, i)
			}
		}
		switch {
		case len(used) > 0:
			return used[r.IntN(len(used))]
		case len(live) > 0:
			return live[r.IntN(len(live))]
		}
		return -1
	}
	revoke := func(gt *genToken, t time.Duration) { gt.RevokedAt = min(gt.RevokedAt, t) }
	for _, e := range evs {
		switch e.Kind {
		case EventRevoke:
			i := pick(e.At, func(gt *genToken) bool { return gt.RevokedAt == NotRevoked })
			if i < 0 {
				w.SkippedEvents++
				continue
			}
			e.Token = i
			revoke(toks[i], e.At)
		case EventLogout:
			want := ClientLegacy
			if e.Push {
				want = ClientApp
			}
			i := pick(e.At, func(gt *genToken) bool {
				return gt.IssuedAt < e.At && !ended[gt.Session] && w.Sessions[gt.Session].Client == want
			})
			if i < 0 {
				w.SkippedEvents++
				continue
			}
			e.Token, e.Session = i, toks[i].Session
			ended[e.Session] = true
			for _, gt := range toks {
				if gt.Session != e.Session || gt.dropped {
					continue
				}
				if gt.IssuedAt >= e.At {
					gt.dropped = true // the session is over: never issued
				} else {
					revoke(gt, e.At)
				}
			}
		case EventNotBefore:
			// Keycloak's rule: stale when iat < notBefore (whole seconds).
			for _, gt := range toks {
				if gt.IssuedAt < e.At && (e.Client == ClientRealm || w.Sessions[gt.Session].Client == e.Client) {
					revoke(gt, e.At)
				}
			}
		}
		w.Events = append(w.Events, e)
	}
}

// Hash is the SHA-256 of the workload's script (sessions, tokens, requests,
// events, rotations) in a fixed binary encoding: equal hashes mean the same
// requests and events, in the same order, at the same virtual times.
func (w *Workload) Hash() string {
	h := sha256.New()
	var b [8]byte
	put := func(v int64) {
		binary.LittleEndian.PutUint64(b[:], uint64(v))
		h.Write(b[:])
	}
	str := func(s string) {
		put(int64(len(s)))
		h.Write([]byte(s))
	}
	put(int64(len(w.Sessions)))
	for _, s := range w.Sessions {
		put(int64(s.User))
		str(s.Client)
	}
	put(int64(len(w.Tokens)))
	for _, t := range w.Tokens {
		put(int64(t.Session))
		put(int64(t.IssuedAt))
		put(int64(t.ExpiresAt))
		put(int64(t.RevokedAt))
		put(int64(t.Requests))
	}
	put(int64(len(w.Requests)))
	for _, r := range w.Requests {
		put(int64(r.At))
		put(int64(r.Token))
		if r.Sensitive {
			put(1)
		} else {
			put(0)
		}
	}
	put(int64(len(w.Events)))
	for _, e := range w.Events {
		put(int64(e.At))
		str(e.Kind)
		put(int64(e.Token))
		put(int64(e.Session))
		str(e.Client)
		if e.Push {
			put(1)
		} else {
			put(0)
		}
	}
	put(int64(len(w.Rotations)))
	for _, t := range w.Rotations {
		put(int64(t))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Summary counts what the workload holds.
type Summary struct {
	Requests          int            `json:"requests"`
	SensitiveRequests int            `json:"sensitive_requests"`
	Tokens            int            `json:"tokens"`
	Sessions          int            `json:"sessions"`
	Users             int            `json:"users"`
	Events            map[string]int `json:"events"`
	PushedEvents      int            `json:"pushed_events"`
	SkippedEvents     int            `json:"skipped_events"`
	KeyRotations      int            `json:"key_rotations"`
	RevokedTokens     int            `json:"revoked_tokens"`
	// PostRevocationRequests use a token already revoked at the IdP.
	PostRevocationRequests int     `json:"post_revocation_requests"`
	MeanRequestsPerToken   float64 `json:"mean_requests_per_token"`
	RatePerSecond          float64 `json:"rate_per_second"`
	Hash                   string  `json:"hash"`
}

// Summarize counts the workload.
func (w *Workload) Summarize() Summary {
	sum := Summary{
		Requests: len(w.Requests), Tokens: len(w.Tokens), Users: w.Scenario.Users,
		Events: map[string]int{}, SkippedEvents: w.SkippedEvents, KeyRotations: len(w.Rotations), Hash: w.Hash(),
	}
	sessions := map[int]bool{}
	for _, t := range w.Tokens {
		sessions[t.Session] = true
		if t.RevokedAt != NotRevoked {
			sum.RevokedTokens++
		}
	}
	sum.Sessions = len(sessions)
	for _, r := range w.Requests {
		if r.Sensitive {
			sum.SensitiveRequests++
		}
		if r.At >= w.Tokens[r.Token].RevokedAt {
			sum.PostRevocationRequests++
		}
	}
	for _, e := range w.Events {
		sum.Events[e.Kind]++
		if e.Push {
			sum.PushedEvents++
		}
	}
	if len(w.Tokens) > 0 {
		sum.MeanRequestsPerToken = float64(len(w.Requests)) / float64(len(w.Tokens))
	}
	sum.RatePerSecond = float64(len(w.Requests)) / w.Scenario.Duration.Seconds()
	return sum
}
