package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokenwarden/tokenwarden/idpsim"
	"github.com/tokenwarden/tokenwarden/internal/clock"
)

// The simulated realm.
const (
	realmName = "bench"
	// introspectionClient is tokenwarden's own confidential client at the IdP.
	introspectionClient = "tokenwarden"
	introspectionSecret = "bench-introspection-secret"
	// Paths of the resource server's revocation receiver (the service's
	// admin listener in --http mode).
	backchannelPath = "/v1/backchannel-logout"
)

// switchClock is the IdP's clock: the scenario clock, except while tokens
// are minted ahead of the replay, when it reads the token's issue time. The
// validator's components never see mint times, so no cache or rate limit
// of theirs sees time jump back and forth.
type switchClock struct {
	base     *clock.Manual
	override atomic.Pointer[time.Time]
}

func (c *switchClock) Now() time.Time {
	if t := c.override.Load(); t != nil {
		return *t
	}
	return c.base.Now()
}

// world is one strategy run's IdP: a fresh idpsim (fresh keys, sessions and
// revocations, so every strategy sees the IdP in the same state at the same
// virtual time), its tokens, and the receiver the IdP pushes logouts and
// not-before actions to. Events and rotations are applied to it in virtual
// time order by the runner's goroutine.
type world struct {
	wl      *Workload
	t0      time.Time // the absolute time of virtual offset 0
	clk     *clock.Manual
	idpClk  *switchClock
	idp     *idpsim.Server
	idpSrv  *httptest.Server
	recvSrv *httptest.Server

	recvMu sync.RWMutex
	recv   http.Handler // the current run's receiver; nil: accept and drop
	pushOK atomic.Int64
	pushNo atomic.Int64

	tokens  []string
	sids    []string
	refresh map[int]string // workload session -> its current refresh token
	minted  int            // tokens are minted in issue order: a prefix
	next    int            // the next rotation to apply
	revoked []int          // tokens revoked at the IdP so far

	mintTime    time.Duration // real time spent minting
	eventErrors int
}

func username(u int) string { return fmt.Sprintf("user-%06d", u) }

// newWorld starts the IdP on loopback and mints every token issued before
// the first key rotation (the others are minted when the replay reaches it,
// so that they carry the new key's kid).
func newWorld(wl *Workload, t0 time.Time) (*world, error) {
	s := wl.Scenario
	w := &world{wl: wl, t0: t0, clk: clock.NewManual(t0), refresh: map[int]string{},
		tokens: make([]string, len(wl.Tokens)), sids: make([]string, len(wl.Tokens))}
	w.idpClk = &switchClock{base: w.clk}
	w.recvSrv = httptest.NewServer(http.HandlerFunc(w.serveReceiver))

	// Sessions never time out during the run: their end is the workload's
	// business (and tokens are minted ahead of time).
	life := max(10*time.Hour, s.Duration+s.SessionLength*3+2*s.TokenLifetime+time.Hour)
	client := func(id string, push bool) idpsim.ClientConfig {
		c := idpsim.ClientConfig{ClientID: id, Secret: id + "-secret", DirectAccessGrants: true,
			// No "openid": no ID token is signed with each access token.
			DefaultScopes: []string{"profile", "email"}}
		if push {
			c.BackchannelLogoutURL = w.recvSrv.URL + backchannelPath
			c.AdminURL = w.recvSrv.URL
		}
		return c
	}
	users := make([]idpsim.UserConfig, s.Users)
	for i := range users {
		users[i] = idpsim.UserConfig{Username: username(i), Password: "x"}
	}
	cfg := idpsim.Config{Realms: []idpsim.RealmConfig{{
		Name: realmName, SigningAlg: s.SigningAlg, AccessTokenLifespan: s.TokenLifetime,
		SSOSessionIdle: life, SSOSessionMax: life,
		Clients: []idpsim.ClientConfig{
			client(ClientApp, true), client(ClientLegacy, false),
			{ClientID: introspectionClient, Secret: introspectionSecret},
		},
		Users: users,
	}}}
	idp, err := idpsim.New(cfg, idpsim.WithClock(w.idpClk), idpsim.WithSeed(s.Seed), idpsim.WithDeliveryTimeout(10*time.Second))
	if err != nil {
		w.recvSrv.Close()
		return nil, err
	}
	w.idp = idp
	w.idpSrv = httptest.NewServer(idp)
	idp.SetBaseURL(w.idpSrv.URL)
	if err := w.mintUntil(w.segmentEnd()); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *world) issuer() string { return w.idp.Issuer(realmName) }

// at returns the absolute time of a virtual offset.
func (w *world) at(d time.Duration) time.Time { return w.t0.Add(d) }

// setFaults installs the scenario's IdP faults (after minting and the floor,
// so that only the run's own calls are delayed).
func (w *world) setFaults() {
	f := w.wl.Scenario.IdP
	if f.Latency == 0 && f.Jitter == 0 && f.ErrorRate == 0 {
		return
	}
	for _, e := range f.Endpoints {
		w.idp.SetFault(idpsim.Endpoint(e), idpsim.Fault{Latency: f.Latency, LatencyJitter: f.Jitter, ErrorRate: f.ErrorRate, ErrorStatus: f.ErrorStatus})
	}
}

func (w *world) segmentEnd() time.Duration {
	if w.next < len(w.wl.Rotations) {
		return w.wl.Rotations[w.next]
	}
	return NotRevoked
}

// mintUntil issues, in issue order, every token issued before end, each at
// its own issue time on the IdP's clock: a password grant for a session's
// first token, a refresh after that (a new login when the refresh is
// refused, e.g. after a not-before policy).
func (w *world) mintUntil(end time.Duration) error {
	start := time.Now()
	defer func() {
		w.idpClk.override.Store(nil)
		w.mintTime += time.Since(start)
	}()
	for ; w.minted < len(w.wl.Tokens) && w.wl.Tokens[w.minted].IssuedAt < end; w.minted++ {
		i := w.minted
		tk := w.wl.Tokens[i]
		sess := w.wl.Sessions[tk.Session]
		at := w.at(tk.IssuedAt)
		w.idpClk.override.Store(&at)
		var tr *idpsim.TokenResponse
		if rt := w.refresh[tk.Session]; rt != "" {
			tr, _ = w.idp.Refresh(realmName, sess.Client, rt)
		}
		if tr == nil {
			var err error
			if tr, err = w.idp.PasswordGrant(realmName, sess.Client, username(sess.User)); err != nil {
				return fmt.Errorf("bench: mint token %d: %w", i, err)
			}
		}
		w.tokens[i], w.sids[i] = tr.AccessToken, tr.SessionState
		w.refresh[tk.Session] = tr.RefreshToken
	}
	return nil
}

// rotate applies the next key rotation at the current (virtual) time and
// mints the tokens of the following segment. Minting moves the IdP's clock
// forward, and idpsim sweeps revocations whose token has expired by then;
// revocations of tokens still alive now are recorded again.
func (w *world) rotate() error {
	if _, err := w.idp.RotateKey(realmName); err != nil {
		return err
	}
	w.next++
	if err := w.mintUntil(w.segmentEnd()); err != nil {
		return err
	}
	now := w.clk.Now()
	for _, i := range w.revoked {
		if w.at(w.wl.Tokens[i].ExpiresAt).After(now) {
			_ = w.idp.Revoke(realmName, w.tokens[i]) // a logged-out session's token is dead anyway
		}
	}
	return nil
}

// apply performs one event at the IdP at the current virtual time. Pushes
// reach the receiver before it returns (idpsim delivers synchronously).
func (w *world) apply(ctx context.Context, e Event) {
	var err error
	switch e.Kind {
	case EventRevoke:
		w.revoked = append(w.revoked, e.Token)
		err = w.idp.Revoke(realmName, w.tokens[e.Token])
	case EventLogout:
		err = w.idp.Logout(ctx, realmName, w.sids[e.Token])
	case EventNotBefore:
		client := e.Client
		if client == ClientRealm {
			client = ""
		}
		w.idp.SetNotBefore(realmName, client, w.clk.Now())
		if e.Push {
			err = w.idp.PushNotBefore(ctx, realmName, ClientApp)
		}
	}
	if err != nil {
		w.eventErrors++
	}
}

// setReceiver routes the IdP's pushes to h (nil: accepted and dropped, for
// strategies without a revocation store).
func (w *world) setReceiver(h http.Handler) {
	w.recvMu.Lock()
	w.recv = h
	w.recvMu.Unlock()
}

func (w *world) serveReceiver(rw http.ResponseWriter, r *http.Request) {
	w.recvMu.RLock()
	h := w.recv
	w.recvMu.RUnlock()
	if h == nil {
		rw.WriteHeader(http.StatusOK)
		return
	}
	sw := &statusRecorder{ResponseWriter: rw}
	h.ServeHTTP(sw, r)
	if sw.code == 0 || sw.code/100 == 2 {
		w.pushOK.Add(1)
	} else {
		w.pushNo.Add(1)
	}
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (w *world) close() {
	var errs []error
	if w.recvSrv != nil {
		w.recvSrv.Close()
	}
	if w.idpSrv != nil {
		w.idpSrv.Close()
	}
	if w.idp != nil {
		errs = append(errs, w.idp.Close())
	}
	_ = errors.Join(errs...)
}
