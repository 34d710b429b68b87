package strategy_test

import (
	"context"
	"testing"

	"github.com/tokenwarden/tokenwarden/strategy"
)

// Introspection beside the local path, in the same run:
//
//	go test -run '^$' -bench 'Local|Introspect' -benchmem ./strategy/
//
// Cached: the answer comes from the shared introspection cache (freshness
// 30 s). Uncached: a real RFC 7662 call to in-process idpsim over loopback
// with zero added latency (sensitive, freshness 0), IdP work included.

func BenchmarkIntrospectCached(b *testing.B) {
	f := newKCI(b, "demo-secret", nil)
	benchIntrospect(b, f, false)
}

func BenchmarkIntrospectUncachedIdpsim(b *testing.B) {
	f := newKCI(b, "demo-secret", nil)
	benchIntrospect(b, f, true)
}

func benchIntrospect(b *testing.B, f *kciFixture, sensitive bool) {
	cc, err := f.idp.ClientCredentials("dev", "demo")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	req := strategy.Request{Token: cc.AccessToken, Sensitive: sensitive}
	if _, err := f.intro.Validate(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := f.intro.Validate(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if res.Cached == sensitive {
			b.Fatalf("cached=%v on a sensitive=%v request", res.Cached, sensitive)
		}
	}
}
