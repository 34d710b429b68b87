package introspection

import (
	"testing"
	"time"
)

// BenchmarkCachedIntrospection is the hot path: a cache hit.
func BenchmarkCachedIntrospection(b *testing.B) {
	f := newFakeIdP(b, activeUntil(time.Now().Add(time.Hour)))
	c := newClient(b, basicCfg(f.endpoint()))
	const tok = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwiZXhwIjo5OTk5OTk5OTk5fQ.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2lnbmF0dXJl"
	if _, err := c.Introspect(bg, tok, time.Hour); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a, err := c.Introspect(bg, tok, time.Hour)
			if err != nil || !a.Cached {
				b.Error("not a cache hit")
				return
			}
		}
	})
	if f.calls.Load() != 1 {
		b.Fatalf("IdP calls = %d", f.calls.Load())
	}
}

// BenchmarkUncachedIdpsim is one real RFC 7662 call to the in-process
// Keycloak simulator over loopback (no injected latency), maxAge 0.
func BenchmarkUncachedIdpsim(b *testing.B) {
	srv := startIdpsim(b)
	tr, err := srv.ClientCredentials("dev", "demo")
	if err != nil {
		b.Fatal(err)
	}
	c := newClient(b, basicCfg(introspectURL(srv)))
	for range 10 { // warm up connections
		if a, err := c.Introspect(bg, tr.AccessToken, 0); err != nil || !a.Active {
			b.Fatal(a, err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if a, err := c.Introspect(bg, tr.AccessToken, 0); err != nil || !a.Active {
			b.Fatal(a, err)
		}
	}
}
