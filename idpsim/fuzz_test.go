package idpsim

import (
	"testing"
)

// FuzzDecode feeds untrusted token strings to the verification path used by
// introspection, revocation, refresh and logout: it must never panic and must
// accept only tokens the realm signed.
func FuzzDecode(f *testing.F) {
	s, err := New(testConfig("ES256"))
	if err != nil {
		f.Fatal(err)
	}
	tr, err := s.PasswordGrant("dev", "demo", "alice")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{tr.AccessToken, tr.RefreshToken, tr.IDToken, "", ".", "..", "a.b.c", "e30.e30.", "e30.e30.e30.e30.e30"} {
		f.Add(seed)
	}
	valid := map[string]bool{tr.AccessToken: true, tr.RefreshToken: true, tr.IDToken: true}
	r := s.realms["dev"]
	f.Fuzz(func(t *testing.T, tok string) {
		_, ok := s.decode(r, tok)
		if ok && !valid[tok] {
			t.Fatalf("accepted a token the realm did not sign: %q", tok)
		}
		_ = s.introspect(r, tok)
	})
}

func FuzzParseBasic(f *testing.F) {
	for _, seed := range []string{"Basic ZGVtbzpkZW1vLXNlY3JldA==", "basic Og==", "Basic", "Bearer x", "Basic %%%"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, h string) {
		_, _, _ = parseBasic(h)
	})
}

func BenchmarkIntrospect(b *testing.B) {
	s, err := New(testConfig("RS256"))
	if err != nil {
		b.Fatal(err)
	}
	tr, err := s.PasswordGrant("dev", "demo", "alice")
	if err != nil {
		b.Fatal(err)
	}
	r := s.realms["dev"]
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if s.introspect(r, tr.AccessToken) == nil {
			b.Fatal("inactive")
		}
	}
}

func BenchmarkClientCredentials(b *testing.B) {
	s, err := New(testConfig("RS256"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.ClientCredentials("dev", "demo"); err != nil {
			b.Fatal(err)
		}
	}
}
