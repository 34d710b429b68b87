package strategy_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"

	"github.com/tokenwarden/tokenwarden/strategy"
)

// The benchmarks compare the Local strategy, with every check on, to the
// floor: raw signature verification of the same tokens (hash of the signing
// input plus the public-key operation). Run:
//
//	go test -run '^$' -bench 'Floor|Local' -benchmem ./strategy/

const poolSize = 1024

// keepAlive is a testing.TB whose cleanups never run: the benchmark
// environment (loopback IdP, minted pools) is built once per binary, not once
// per b.N ramp step, so that minting RSA signatures does not dominate.
type keepAlive struct{ testing.TB }

func (keepAlive) Cleanup(func()) {}

var (
	benchMu   sync.Mutex
	benchEnvs = map[string]*benchEnv{}
)

type benchEnv struct {
	f    *fixture
	pool []string
}

func env(b *testing.B, alg string) *benchEnv {
	benchMu.Lock()
	defer benchMu.Unlock()
	if e, ok := benchEnvs[alg]; ok {
		e.f.v.Purge()
		return e
	}
	f := newFixture(keepAlive{b}, nil)
	e := &benchEnv{f: f, pool: benchPool(f, alg)}
	benchEnvs[alg] = e
	return e
}

func benchPool(f *fixture, alg string) []string {
	pool := make([]string, poolSize)
	for i := range pool {
		c := with(kcClaims(f.idp.issuer, t0), "jti", fmt.Sprintf("jti-%d", i))
		switch alg {
		case "RS256":
			pool[i] = mint(hdr("RS256", "rsa1"), c, rs256(keys.rsa))
		case "ES256":
			pool[i] = mint(hdr("ES256", "ec1"), c, es256(keys.ec))
		}
	}
	return pool
}

func splitSig(b *testing.B, tok string) (input []byte, sig []byte) {
	i := strings.LastIndexByte(tok, '.')
	s, err := enc.DecodeString(tok[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	return []byte(tok[:i]), s
}

func BenchmarkFloorRS256(b *testing.B) {
	pool := env(b, "RS256").pool
	ins, sigs := make([][]byte, len(pool)), make([][]byte, len(pool))
	for i, t := range pool {
		ins[i], sigs[i] = splitSig(b, t)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % poolSize
		h := sha256.Sum256(ins[j])
		if err := rsa.VerifyPKCS1v15(&keys.rsa.PublicKey, crypto.SHA256, h[:], sigs[j]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFloorES256(b *testing.B) {
	pool := env(b, "ES256").pool
	ins, sigs := make([][]byte, len(pool)), make([][]byte, len(pool))
	for i, t := range pool {
		ins[i], sigs[i] = splitSig(b, t)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % poolSize
		h := sha256.Sum256(ins[j])
		r, s := new(big.Int).SetBytes(sigs[j][:32]), new(big.Int).SetBytes(sigs[j][32:])
		if !ecdsa.Verify(&keys.ec.PublicKey, h[:], r, s) {
			b.Fatal("bad signature")
		}
	}
}

// benchUnique validates a token never seen before on every iteration: the
// cache is purged (timer stopped) each time the pool wraps, so each
// Validate is a miss followed by an insert.
func benchUnique(b *testing.B, alg string) {
	e := env(b, alg)
	f, pool := e.f, e.pool
	ctx := context.Background()
	req := strategy.Request{Scopes: []string{"payments:write"}, Roles: []string{"user"}}
	// Warm up: keys loaded.
	req.Token = pool[0]
	if _, err := f.local.Validate(ctx, req); err != nil {
		b.Fatal(err)
	}
	f.v.Purge()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % poolSize
		if j == 0 && i > 0 {
			b.StopTimer()
			f.v.Purge()
			b.StartTimer()
		}
		req.Token = pool[j]
		res, err := f.local.Validate(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if res.Cached {
			b.Fatal("unexpected cache hit")
		}
	}
}

func BenchmarkLocalUniqueRS256(b *testing.B) { benchUnique(b, "RS256") }
func BenchmarkLocalUniqueES256(b *testing.B) { benchUnique(b, "ES256") }

func BenchmarkLocalRepeated(b *testing.B) {
	e := env(b, "RS256")
	f, pool := e.f, e.pool
	ctx := context.Background()
	req := strategy.Request{Token: pool[0], Scopes: []string{"payments:write"}, Roles: []string{"user"}}
	if _, err := f.local.Validate(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := f.local.Validate(ctx, req)
		if err != nil || !res.Cached {
			b.Fatal(err)
		}
	}
}
