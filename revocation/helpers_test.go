package revocation_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tokenwarden/tokenwarden/idpsim"
	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/jwks"
	"github.com/tokenwarden/tokenwarden/revocation"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// t0 is the start of the manual clock of store tests.
var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Static keys for fast, network-free tests (fuzzing). Generated once: RSA
// generation is slow under -race.
var (
	keysOnce     sync.Once
	rsaA, rsaB   *rsa.PrivateKey
	staticIssuer = "https://idp.example/realms/dev"
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if rsaA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if rsaB, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
}

// staticKeys is a KeySource over fixed keys, answering like jwks does.
type staticKeys map[string]jwks.Key

func (s staticKeys) Key(_ context.Context, kid, alg string) (jwks.Key, error) {
	k, ok := s[kid]
	if !ok {
		return jwks.Key{}, jwks.ErrUnknownKID
	}
	if k.Alg != alg {
		return jwks.Key{}, jwks.ErrAlgMismatch
	}
	return k, nil
}

func staticKeySource(t testing.TB) staticKeys {
	testKeys(t)
	return staticKeys{"a": {KID: "a", Alg: "RS256", Public: &rsaA.PublicKey}}
}

// signRS256 builds a compact JWS with priv.
func signRS256(t testing.TB, priv *rsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	hb, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	in := enc.EncodeToString(hb) + "." + enc.EncodeToString(pb)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + enc.EncodeToString(sig)
}

// unsigned builds an alg-none token (RFC 7515 §A.5).
func unsigned(header, claims map[string]any) string {
	enc := base64.RawURLEncoding
	hb, _ := json.Marshal(header)
	pb, _ := json.Marshal(claims)
	return enc.EncodeToString(hb) + "." + enc.EncodeToString(pb) + "."
}

// claimsOf decodes a JWT's payload without verifying it.
func claimsOf(t testing.TB, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %d segments", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// factsOf builds the store facts of a token the way the lead's strategy
// would from verified claims.
func factsOf(t testing.TB, tok string) revocation.TokenFacts {
	t.Helper()
	c := claimsOf(t, tok)
	s := func(k string) string { v, _ := c[k].(string); return v }
	iat, _ := c["iat"].(float64)
	client := s("client_id")
	if client == "" {
		client = s("azp")
	}
	return revocation.TokenFacts{
		Issuer: s("iss"), Subject: s("sub"), SessionID: s("sid"), TokenID: s("jti"),
		ClientID: client, IssuedAt: time.Unix(int64(iat), 0),
	}
}

// fixture is idpsim over loopback, with a receiver for what it pushes.
type fixture struct {
	srv     *idpsim.Server
	clk     *clock.Manual
	keys    *jwks.Resolver // realm dev
	logouts chan string    // logout_token forms received
	pushes  chan []byte    // k_push_not_before bodies received
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		clk:     clock.NewManual(time.Now().Truncate(time.Second)),
		logouts: make(chan string, 16),
		pushes:  make(chan []byte, 16),
	}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "method", http.StatusMethodNotAllowed)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		switch r.URL.Path {
		case "/backchannel":
			if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
				t.Errorf("logout content type %q", ct)
			}
			if err := r.ParseForm(); err != nil {
				http.Error(w, "form", http.StatusBadRequest)
				return
			}
			f.logouts <- r.PostForm.Get("logout_token")
		case "/admin/k_push_not_before":
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, "body", http.StatusBadRequest)
				return
			}
			f.pushes <- b
		default:
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(recv.Close)

	cfg := idpsim.DefaultConfig()
	cfg.Realms[0].Clients[0].BackchannelLogoutURL = recv.URL + "/backchannel"
	cfg.Realms[0].Clients[0].AdminURL = recv.URL + "/admin"
	other := idpsim.DefaultConfig().Realms[0]
	other.Name = "other"
	cfg.Realms = append(cfg.Realms, other)
	srv, err := idpsim.Start(cfg, "127.0.0.1:0", idpsim.WithClock(f.clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	f.srv = srv
	f.keys = f.resolver(t)
	return f
}

// resolver is a fresh jwks resolver for realm dev on the fixture's clock.
func (f *fixture) resolver(t *testing.T) *jwks.Resolver {
	t.Helper()
	r, err := jwks.New(jwks.Config{Name: "dev", Issuer: f.srv.Issuer("dev"), Algorithms: []string{"RS256"}},
		jwks.WithClock(f.clk), jwks.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func (f *fixture) login(t *testing.T, client string) *idpsim.TokenResponse {
	t.Helper()
	tr, err := f.srv.PasswordGrant("dev", client, "alice")
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// received takes what the receiver got; idpsim delivers before returning,
// so it is already there.
func received[T any](t *testing.T, ch chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	default:
		t.Fatal("nothing was delivered to the receiver")
	}
	var zero T
	return zero
}

func newStore(t testing.TB, cfg revocation.Config, opts ...revocation.Option) (*revocation.Memory, *clock.Manual) {
	t.Helper()
	clk := clock.NewManual(t0)
	opts = append([]revocation.Option{revocation.WithClock(clk), revocation.WithLogger(quiet)}, opts...)
	m, err := revocation.NewMemory(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m, clk
}

// wantErr checks err against kind and reason.
func wantErr(t *testing.T, err error, kind error, reason revocation.Reason) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("err = %v, want kind %v", err, kind)
	}
	if got := revocation.ReasonOf(err); got != reason {
		t.Fatalf("reason = %q, want %q (err %v)", got, reason, err)
	}
}
