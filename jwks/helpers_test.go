package jwks_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"go.uber.org/goleak"

	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/jwks"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Keys are generated once per test binary: RSA generation is slow under -race.
var (
	keysOnce sync.Once
	rsaA     *rsa.PrivateKey
	rsaB     *rsa.PrivateKey
	rsaC     *rsa.PrivateKey
	rsaWeak  *rsa.PrivateKey // 1024 bits
	ecP256   *ecdsa.PrivateKey
	ecP384   *ecdsa.PrivateKey
	edKey    ed25519.PrivateKey
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		must := func(err error) {
			if err != nil {
				panic(err)
			}
		}
		var err error
		rsaA, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		rsaB, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		rsaC, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		rsaWeak, err = rsa.GenerateKey(rand.Reader, 1024)
		must(err)
		ecP256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		ecP384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(err)
		_, edKey, err = ed25519.GenerateKey(rand.Reader)
		must(err)
	})
}

// spec describes one JWK of a served set; the JWK is built with jwx from a
// real public key.
type spec struct {
	pub any
	kid string
	alg string // "" = no alg member
	use string // "" = no use member
	ops []string
}

func publicOf(k any) any {
	if s, ok := k.(crypto.Signer); ok {
		return s.Public()
	}
	return k
}

func jwkSet(t testing.TB, specs ...spec) []byte {
	t.Helper()
	set := jwk.NewSet()
	for _, s := range specs {
		k, err := jwk.FromRaw(publicOf(s.pub))
		if err != nil {
			t.Fatal(err)
		}
		set1 := func(name string, v any) {
			if err := k.Set(name, v); err != nil {
				t.Fatal(err)
			}
		}
		if s.kid != "" {
			set1(jwk.KeyIDKey, s.kid)
		}
		if s.alg != "" {
			set1(jwk.AlgorithmKey, s.alg)
		}
		if s.use != "" {
			set1(jwk.KeyUsageKey, s.use)
		}
		if s.ops != nil {
			set1(jwk.KeyOpsKey, s.ops)
		}
		if err := set.AddKey(k); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// idp is a loopback issuer serving discovery and a JWK Set, counting
// requests, with switches for outages and hangs.
type idp struct {
	srv    *httptest.Server
	issuer string // what discovery claims; default srv.URL

	mu          sync.Mutex
	set         []byte
	discovery   []byte // overrides the generated document when set
	contentType string // JWKS content type; default application/json
	status      int    // JWKS status when non-zero
	hang        chan struct{}
	hits        chan struct{} // one send per JWKS request, if non-nil

	jwksHits      atomic.Int64
	discoveryHits atomic.Int64
}

func newIDP(t testing.TB, set []byte) *idp {
	t.Helper()
	p := &idp{set: set}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.discoveryHits.Add(1)
		p.mu.Lock()
		doc := p.discovery
		iss := p.issuer
		p.mu.Unlock()
		if doc == nil {
			doc, _ = json.Marshal(map[string]any{
				"issuer":                 iss,
				"jwks_uri":               p.srv.URL + "/certs",
				"token_endpoint":         p.srv.URL + "/token",
				"introspection_endpoint": p.srv.URL + "/token/introspect",
				"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "private_key_jwt"},
			})
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})
	mux.HandleFunc("GET /certs", func(w http.ResponseWriter, r *http.Request) {
		p.jwksHits.Add(1)
		if r.Header.Get("Accept") == "" {
			http.Error(w, "no accept", http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		set, ct, status, hang, hits := p.set, p.contentType, p.status, p.hang, p.hits
		p.mu.Unlock()
		if hits != nil {
			select {
			case hits <- struct{}{}:
			case <-r.Context().Done():
				return
			}
		}
		if hang != nil {
			select {
			case <-hang:
			case <-r.Context().Done():
				return
			}
		}
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		if ct == "" {
			ct = "application/json"
		}
		w.Header().Set("Content-Type", ct)
		_, _ = w.Write(set)
	})
	p.srv = httptest.NewServer(mux)
	p.issuer = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) setKeys(set []byte) {
	p.mu.Lock()
	p.set = set
	p.mu.Unlock()
}

func (p *idp) setStatus(code int) {
	p.mu.Lock()
	p.status = code
	p.mu.Unlock()
}

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// newResolver builds a resolver against p with a manual clock; it is closed
// when the test ends.
func newResolver(t testing.TB, p *idp, cfg jwks.Config, opts ...jwks.Option) (*jwks.Resolver, *clock.Manual) {
	t.Helper()
	clk := clock.NewManual(t0)
	if cfg.Issuer == "" {
		cfg.Issuer = p.srv.URL
	}
	if cfg.Name == "" {
		cfg.Name = "test"
	}
	opts = append([]jwks.Option{
		jwks.WithHTTPClient(p.srv.Client()),
		jwks.WithClock(clk),
		jwks.WithLogger(slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))),
	}, opts...)
	r, err := jwks.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r, clk
}

func randomKID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x", b)
}

func httptestTLS(t testing.TB, set []byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(set)
	}))
	t.Cleanup(srv.Close)
	return srv
}
