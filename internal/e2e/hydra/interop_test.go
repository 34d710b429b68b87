package hydra_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/jwks"
)

// The strategy names of configs/hydra.yaml.
const (
	local  = "local"
	intro  = "introspection"
	tiered = "tiered"
)

var allStrategies = []string{local, intro, tiered}

// expect checks one verdict: status, and for refusals the reason; for
// acceptances who decided and why the IdP was asked.
type expect struct {
	status    int
	reason    string   // refusals
	decidedBy string   // acceptances
	triggers  []string // acceptances: nil means none
}

func check(t *testing.T, what string, got verdict, want expect) {
	t.Helper()
	t.Logf("%-58s -> %s", what, got)
	if got.Status != want.status {
		t.Errorf("%s: HTTP %d, want %d: %s", what, got.Status, want.status, got.Body)
		return
	}
	if want.status != http.StatusOK {
		if got.Reason != want.reason {
			t.Errorf("%s: reason %q, want %q: %s", what, got.Reason, want.reason, got.Body)
		}
		return
	}
	if got.DecidedBy != want.decidedBy {
		t.Errorf("%s: decided_by %q, want %q: %s", what, got.DecidedBy, want.decidedBy, got.Body)
	}
	if !slices.Equal(got.Triggers, want.triggers) {
		t.Errorf("%s: triggers %v, want %v: %s", what, got.Triggers, want.triggers, got.Body)
	}
}

// TestClientCredentialsJWT: Hydra's RS256 JWT access tokens (header typ JWT,
// scopes in the scp array, aud only when requested) are accepted by every
// strategy of the shipped config, with the claims mapped into the answer;
// tokens for no audience or another audience are refused by every strategy.
func TestClientCredentialsJWT(t *testing.T) {
	h := needHydra(t)
	// Minted before tokenwarden starts: inside its restart window.
	early := h.mint(t, h.jwtClient, "read write", audAPI)
	s := newTW(t, h)
	tok := h.mint(t, h.jwtClient, "read write", audAPI)

	// What Hydra issued (the particulars the generic profile must handle).
	hdr, cl := jwtParts(t, tok)
	if hdr["alg"] != "RS256" || hdr["typ"] != "JWT" || hdr["kid"] == nil {
		t.Fatalf("unexpected header %v", hdr)
	}
	if _, ok := cl["typ"]; ok {
		t.Errorf("Hydra now sets a payload typ: %v", cl)
	}
	if _, ok := cl["scope"]; ok {
		t.Errorf("Hydra now sets a scope claim: %v", cl)
	}
	if scp, _ := cl["scp"].([]any); len(scp) != 2 || cl["iss"] != h.public || cl["sub"] != h.jwtClient.id ||
		cl["client_id"] != h.jwtClient.id || !slices.Equal(toStrings(cl["aud"]), []string{audAPI}) {
		t.Fatalf("unexpected claims %v", cl)
	}

	want := map[string]expect{
		local:  {status: 200, decidedBy: "local"},
		intro:  {status: 200, decidedBy: "introspection"},
		tiered: {status: 200, decidedBy: "local"},
	}
	for _, name := range allStrategies {
		v := s.validate(t, tok, ask{strategy: name, scopes: []string{"read"}})
		check(t, "RS256 JWT, scope read, "+name, v, want[name])
		if v.Status != 200 {
			continue
		}
		// scp (a JSON array) became the space-separated scope of the answer.
		if v.Sub != h.jwtClient.id || v.ClientID != h.jwtClient.id || v.Iss != h.public ||
			!slices.Equal(strings.Fields(v.Scope), []string{"read", "write"}) || v.Strategy != name || v.Exp == 0 {
			t.Errorf("%s: claims not mapped: %s", name, v.Body)
		}
	}
	// A sensitive scope makes tiered ask Hydra (fresh call).
	calls := s.introCalls.Load()
	check(t, "RS256 JWT, scope write (sensitive), tiered", s.validate(t, tok, ask{strategy: tiered, scopes: []string{"write"}}),
		expect{status: 200, decidedBy: "introspection", triggers: []string{"sensitive_scope"}})
	if got := s.introCalls.Load() - calls; got != 1 {
		t.Errorf("sensitive tiered request made %d introspection calls, want 1", got)
	}
	// A scope the token lacks: 403 from every strategy.
	for _, name := range allStrategies {
		check(t, "RS256 JWT, scope admin (not granted), "+name, s.validate(t, tok, ask{strategy: name, scopes: []string{"admin"}}),
			expect{status: http.StatusForbidden, reason: "scope"})
	}
	// A token minted before tokenwarden started: tiered asks Hydra once
	// (restart window: whatever Hydra said meanwhile was not heard).
	check(t, "RS256 JWT minted before start, tiered", s.validate(t, early, ask{strategy: tiered}),
		expect{status: 200, decidedBy: "introspection", triggers: []string{"restart_window"}})

	// No audience requested: Hydra issues aud []. Another audience: aud
	// [urn:other]. Neither is ours.
	noAud := h.mint(t, h.jwtClient, "read", "")
	if _, cl := jwtParts(t, noAud); len(toStrings(cl["aud"])) != 0 {
		t.Fatalf("token minted without audience has aud %v", cl["aud"])
	}
	other := h.mint(t, h.jwtClient, "read", audOther)
	for _, name := range allStrategies {
		check(t, "RS256 JWT without aud, "+name, s.validate(t, noAud, ask{strategy: name}), expect{status: 401, reason: "aud"})
		check(t, "RS256 JWT for urn:other, "+name, s.validate(t, other, ask{strategy: name}), expect{status: 401, reason: "aud"})
	}
}

// TestRevocation: a JWT revoked at Hydra (RFC 7009) still verifies locally;
// introspection sees the revocation; tiered sees it on sensitive requests,
// then remembers it (learned jti) for every later request.
func TestRevocation(t *testing.T) {
	h := needHydra(t)
	s := newTW(t, h)

	t.Run("fresh", func(t *testing.T) {
		tok := h.mint(t, h.jwtClient, "read write", audAPI)
		h.revoke(t, h.jwtClient, tok)
		if got := h.introspect(t, tok); got["active"] != false {
			t.Fatalf("Hydra still calls the revoked token active: %v", got)
		}
		check(t, "revoked JWT, local", s.validate(t, tok, ask{strategy: local}),
			expect{status: 200, decidedBy: "local"})
		check(t, "revoked JWT, introspection", s.validate(t, tok, ask{strategy: intro}),
			expect{status: 401, reason: "inactive"})
		check(t, "revoked JWT, tiered, standard request", s.validate(t, tok, ask{strategy: tiered, scopes: []string{"read"}}),
			expect{status: 200, decidedBy: "local"})
		check(t, "revoked JWT, tiered, scope write (sensitive)", s.validate(t, tok, ask{strategy: tiered, scopes: []string{"write"}}),
			expect{status: 401, reason: "inactive"})
		// Hydra's inactive answer about a locally valid token was learned:
		// the jti is denied, with no further IdP call, for every strategy.
		calls := s.introCalls.Load()
		for _, name := range allStrategies {
			check(t, "revoked JWT after tiered learned it, "+name, s.validate(t, tok, ask{strategy: name}),
				expect{status: 401, reason: "revoked"})
		}
		if got := s.introCalls.Load() - calls; got != 0 {
			t.Errorf("a learned revocation cost %d introspection calls", got)
		}
	})

	t.Run("cached", func(t *testing.T) {
		// Introspected while active, then revoked: the introspection
		// strategy serves its cached answer to ordinary requests for up to
		// standard_max_age (30s by default); a sensitive request asks
		// afresh (sensitive_max_age 0).
		tok := h.mint(t, h.jwtClient, "read write", audAPI)
		check(t, "JWT before revocation, introspection", s.validate(t, tok, ask{strategy: intro}),
			expect{status: 200, decidedBy: "introspection"})
		h.revoke(t, h.jwtClient, tok)
		v := s.validate(t, tok, ask{strategy: intro})
		check(t, "revoked JWT, introspection, standard (cached answer)", v, expect{status: 200, decidedBy: "introspection"})
		if v.Status == 200 && !v.Cached {
			t.Errorf("expected the cached answer: %s", v.Body)
		}
		check(t, "revoked JWT, introspection, sensitive", s.validate(t, tok, ask{strategy: intro, sensitive: true}),
			expect{status: 401, reason: "inactive"})
		// The fresh inactive answer replaced the cached one.
		check(t, "revoked JWT, introspection, standard again", s.validate(t, tok, ask{strategy: intro}),
			expect{status: 401, reason: "inactive"})
	})
}

// TestES256Rotation: an ES256 key added to Hydra's access-token key set signs
// new tokens under a new kid; tokenwarden picks it up with one JWKS refresh
// forced by the unknown kid; RS256 tokens keep verifying while their key is
// listed. When the ES256 key is withdrawn again, its tokens are refused.
func TestES256Rotation(t *testing.T) {
	h := needHydra(t)
	s := newTW(t, h)
	rsTok := h.mint(t, h.jwtClient, "read", audAPI)
	rsHdr, _ := jwtParts(t, rsTok)

	const kid = "tw-interop-es256"
	h.addKey(t, "ES256", kid)
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			h.deleteKey(t, kid)
		}
	})
	if alg := h.publicKIDs(t)[kid]; alg != "ES256" {
		t.Fatalf("Hydra's JWKS does not list the new key as ES256 (alg %q)", alg)
	}
	esTok := h.mint(t, h.jwtClient, "read write", audAPI)
	if hdr, _ := jwtParts(t, esTok); hdr["alg"] != "ES256" || hdr["kid"] != kid {
		t.Fatalf("Hydra did not sign with the new key: header %v", hdr)
	}

	fetches := s.jwksFetches.Load()
	check(t, "ES256 JWT (new kid), local", s.validate(t, esTok, ask{strategy: local}), expect{status: 200, decidedBy: "local"})
	if got := s.jwksFetches.Load() - fetches; got != 1 {
		t.Errorf("the unknown kid caused %d JWKS fetches, want 1", got)
	}
	check(t, "ES256 JWT, introspection", s.validate(t, esTok, ask{strategy: intro}), expect{status: 200, decidedBy: "introspection"})
	check(t, "ES256 JWT, tiered", s.validate(t, esTok, ask{strategy: tiered}), expect{status: 200, decidedBy: "local"})
	check(t, "ES256 JWT, tiered, scope write (sensitive)", s.validate(t, esTok, ask{strategy: tiered, scopes: []string{"write"}}),
		expect{status: 200, decidedBy: "introspection", triggers: []string{"sensitive_scope"}})
	// The RS256 token minted before the rotation, first seen now.
	check(t, "RS256 JWT from before the rotation, local", s.validate(t, rsTok, ask{strategy: local}), expect{status: 200, decidedBy: "local"})
	if got := s.jwksFetches.Load() - fetches; got != 1 {
		t.Errorf("JWKS fetched %d times in all, want 1", got)
	}

	// Withdraw the ES256 key: Hydra signs with RS256 again, and a fresh
	// tokenwarden (no cached verification) refuses the ES256 token.
	h.deleteKey(t, kid)
	deleted = true
	if _, ok := h.publicKIDs(t)[kid]; ok {
		t.Fatal("Hydra still publishes the deleted key")
	}
	if hdr, _ := jwtParts(t, h.mint(t, h.jwtClient, "read", audAPI)); hdr["alg"] != "RS256" || hdr["kid"] != rsHdr["kid"] {
		t.Errorf("after deleting the ES256 key Hydra signs with %v, want the RS256 key %v", hdr, rsHdr["kid"])
	}
	s2 := newTW(t, h)
	check(t, "ES256 JWT after its key was withdrawn, local (new service)", s2.validate(t, esTok, ask{strategy: local}),
		expect{status: 401, reason: "kid"})
	check(t, "ES256 JWT after its key was withdrawn, tiered", s2.validate(t, esTok, ask{strategy: tiered}),
		expect{status: 401, reason: "kid"})
	// Hydra itself no longer vouches for it either.
	if got := h.introspect(t, esTok); got["active"] != false {
		t.Errorf("Hydra introspects a token whose key it deleted as %v", got)
	}
	check(t, "ES256 JWT after its key was withdrawn, introspection", s2.validate(t, esTok, ask{strategy: intro}),
		expect{status: 401, reason: "inactive"})
}

// TestOpaque: a client with access_token_strategy opaque gets ory_at_ tokens;
// only introspection can judge them (introspect_opaque in the shipped
// config). Garbage never reaches Hydra.
func TestOpaque(t *testing.T) {
	h := needHydra(t)
	s := newTW(t, h)
	tok := h.mint(t, h.opaqueClient, "read write", audAPI)
	if !strings.HasPrefix(tok, "ory_at_") {
		t.Fatalf("opaque client got %.12s..., want an ory_at_ token", tok)
	}

	// ory_at_<key>.<signature> is not a JWT: local cannot judge it (not
	// applicable, reason opaque: 401 when nothing else can).
	check(t, "opaque ory_at_, local", s.validate(t, tok, ask{strategy: local}), expect{status: 401, reason: "opaque"})
	for _, name := range []string{intro, tiered} {
		v := s.validate(t, tok, ask{strategy: name, scopes: []string{"read"}})
		check(t, "opaque ory_at_, "+name, v, expect{status: 200, decidedBy: "introspection", triggers: []string{"opaque"}})
		if v.Status == 200 && (v.Sub != h.opaqueClient.id || v.ClientID != h.opaqueClient.id || v.Iss != h.public ||
			!slices.Equal(strings.Fields(v.Scope), []string{"read", "write"})) {
			t.Errorf("%s: claims not mapped: %s", name, v.Body)
		}
	}
	noAud := h.mint(t, h.opaqueClient, "read", "")
	for _, name := range []string{intro, tiered} {
		check(t, "opaque ory_at_ without aud, "+name, s.validate(t, noAud, ask{strategy: name}), expect{status: 401, reason: "aud"})
	}

	// Revoked at Hydra: a sensitive request asks afresh.
	h.revoke(t, h.opaqueClient, tok)
	check(t, "revoked opaque, tiered, scope write (sensitive)", s.validate(t, tok, ask{strategy: tiered, scopes: []string{"write"}}),
		expect{status: 401, reason: "inactive"})
	check(t, "revoked opaque, introspection", s.validate(t, tok, ask{strategy: intro}), expect{status: 401, reason: "inactive"})

	// Garbage never reaches Hydra: what is not a b64token is a bad request
	// (400, RFC 6750 §2.1), the rest fails the opaque shape filter (401).
	calls := s.introCalls.Load()
	garbage := []struct {
		tok    string
		status int
		reason string
	}{
		{"short", 401, "malformed"},
		{"ory_at_", 401, "malformed"},
		{strings.Repeat("A", 17<<10), 401, "too_large"},
		{"not a token!", 400, ""},
		{`ory_at_"quoted"`, 400, ""},
		{strings.Repeat("x", 17) + "\x00", 400, ""},
	}
	for _, g := range garbage {
		for _, name := range []string{intro, tiered} {
			v := s.validate(t, g.tok, ask{strategy: name})
			t.Logf("garbage %.20q (%d bytes), %s -> %s", g.tok, len(g.tok), name, v)
			if v.Status != g.status || v.Reason != g.reason {
				t.Errorf("garbage %.20q, %s: %s, want %d %q", g.tok, name, v, g.status, g.reason)
			}
		}
	}
	if got := s.introCalls.Load() - calls; got != 0 {
		t.Errorf("garbage caused %d introspection calls, want 0", got)
	}
	// Well-shaped but unknown to Hydra: one call, then the negative cache.
	forged := "ory_at_" + b64(randomBytes(t, 32)) + "." + b64(randomBytes(t, 32))
	check(t, "unknown ory_at_, introspection", s.validate(t, forged, ask{strategy: intro}), expect{status: 401, reason: "inactive"})
	check(t, "unknown ory_at_, tiered", s.validate(t, forged, ask{strategy: tiered}), expect{status: 401, reason: "inactive"})
	if got := s.introCalls.Load() - calls; got != 1 {
		t.Errorf("a well-shaped unknown token caused %d introspection calls, want 1 (then cached)", got)
	}
}

// TestDiscovery: the standard key-source behaviour against Hydra's real
// discovery document: the issuer must match exactly (a trailing slash is
// another issuer), and Hydra does not advertise its introspection endpoint
// (hence the explicit endpoint in the shipped config).
func TestDiscovery(t *testing.T) {
	h := needHydra(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	hcl := &http.Client{Transport: tr}

	log := slog.New(slog.NewTextHandler(&testWriter{t: t}, nil))
	r, err := jwks.New(jwks.Config{Name: "hydra", Issuer: h.public, Algorithms: []string{"RS256", "ES256"}},
		jwks.WithHTTPClient(hcl), jwks.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Refresh(ctx); err != nil {
		t.Fatalf("exact issuer: %v", err)
	}
	md, err := r.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("discovery: issuer %s jwks_uri %s introspection_endpoint %q revocation_endpoint %s",
		md.Issuer, md.JWKSURI, md.IntrospectionEndpoint, md.RevocationEndpoint)
	if md.Issuer != h.public || md.JWKSURI != h.public+"/.well-known/jwks.json" {
		t.Errorf("unexpected discovery: %+v", md)
	}
	if md.IntrospectionEndpoint != "" {
		t.Errorf("Hydra now advertises introspection at %q; the shipped config sets the admin endpoint explicitly", md.IntrospectionEndpoint)
	}
	if md.RevocationEndpoint != h.public+"/oauth2/revoke" {
		t.Errorf("revocation_endpoint %q", md.RevocationEndpoint)
	}
	// The access-token key is usable through the resolver.
	tok := h.mint(t, h.jwtClient, "read", audAPI)
	hdr, _ := jwtParts(t, tok)
	if k, err := r.Key(ctx, hdr["kid"].(string), "RS256"); err != nil || k.Alg != "RS256" {
		t.Errorf("Key(%v): %+v %v", hdr["kid"], k, err)
	}

	// The same issuer spelled with a trailing slash: Hydra's document names
	// the issuer without it, so discovery is refused.
	bad, err := jwks.New(jwks.Config{Name: "slash", Issuer: h.public + "/", Algorithms: []string{"RS256"}},
		jwks.WithHTTPClient(hcl), jwks.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	err = bad.Refresh(ctx)
	if !errors.Is(err, jwks.ErrIssuerMismatch) || !errors.Is(err, jwks.ErrKeysUnavailable) {
		t.Errorf("issuer with a trailing slash: %v, want ErrIssuerMismatch", err)
	}
}

// TestUnknownKID: tokens claiming Hydra as issuer but signed by someone else:
// an unknown kid costs one forced JWKS refresh, then is negative-cached; a
// real Hydra kid with a foreign signature is refused; no IdP call either way.
func TestUnknownKID(t *testing.T) {
	h := needHydra(t)
	s := newTW(t, h)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	genuine, _ := jwtParts(t, h.mint(t, h.jwtClient, "read", audAPI))
	now := time.Now().Unix()
	claims := map[string]any{
		"iss": h.public, "sub": "mallory", "client_id": "mallory", "aud": []string{audAPI},
		"scp": []string{"read", "write"}, "iat": now, "nbf": now, "exp": now + 300, "jti": "forged-1",
	}
	unknown := signRS256(t, key, "not-a-hydra-kid", claims)
	wrongKey := signRS256(t, key, genuine["kid"].(string), claims)

	fetches, calls := s.jwksFetches.Load(), s.introCalls.Load()
	check(t, "foreign key, unknown kid, local", s.validate(t, unknown, ask{strategy: local}), expect{status: 401, reason: "kid"})
	if got := s.jwksFetches.Load() - fetches; got != 1 {
		t.Errorf("the unknown kid caused %d JWKS fetches, want 1", got)
	}
	check(t, "foreign key, unknown kid, tiered (negative-cached)", s.validate(t, unknown, ask{strategy: tiered, scopes: []string{"write"}}),
		expect{status: 401, reason: "kid"})
	check(t, "foreign key, Hydra's kid, local", s.validate(t, wrongKey, ask{strategy: local}), expect{status: 401, reason: "signature"})
	check(t, "foreign key, Hydra's kid, tiered (sensitive)", s.validate(t, wrongKey, ask{strategy: tiered, scopes: []string{"write"}}),
		expect{status: 401, reason: "signature"})
	if got := s.jwksFetches.Load() - fetches; got != 1 {
		t.Errorf("JWKS fetched %d times in all, want 1 (negative cache)", got)
	}
	if got := s.introCalls.Load() - calls; got != 0 {
		t.Errorf("forged tokens caused %d introspection calls", got)
	}
	// The introspection strategy asks Hydra, which never issued them.
	check(t, "foreign key, unknown kid, introspection", s.validate(t, unknown, ask{strategy: intro}), expect{status: 401, reason: "inactive"})
}

func signRS256(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	hb, _ := json.Marshal(map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid})
	pb, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := b64(hb) + "." + b64(pb)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func toStrings(v any) []string {
	var out []string
	switch x := v.(type) {
	case string:
		out = append(out, x)
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}
