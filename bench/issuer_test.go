package bench

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/idpsim"
)

// TestRunIssuer runs real-issuer mode against idpsim on loopback: the three
// strategies, call counts from the harness's own transport, revocation
// measured.
func TestRunIssuer(t *testing.T) {
	t.Parallel()
	srv, err := idpsim.Start(idpsim.DefaultConfig(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	o := IssuerOptions{
		Issuer: srv.Issuer("dev"), ClientID: "demo", ClientSecret: []byte("demo-secret"),
		RateCap: 2000, Tokens: 5, Requests: 40, Revoke: 2, SensitiveShare: 0.1,
		Introspection: IntrospectionSpec{StandardMaxAge: 30 * time.Second},
		Tiered:        TieredSpec{MaxLocalAge: 2 * time.Minute, StandardMaxAge: 30 * time.Second},
		Constraints:   mustConstraints(t, "", "", ""), Transport: tr, Seed: 1,
	}
	if plan := PlanIssuer(o); !strings.Contains(plan, "mint 5 tokens") || !strings.Contains(plan, "capped at 2000 per second") {
		t.Errorf("plan: %s", plan)
	}
	rep, err := RunIssuer(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	got := byName(t, rep)
	if len(rep.Results) != 3 || rep.Issuer == nil || !rep.Issuer.RevocationMeasured || rep.Issuer.Alg != "RS256" {
		t.Fatalf("report: %d results, issuer %+v", len(rep.Results), rep.Issuer)
	}
	for _, name := range []string{StrategyLocal, StrategyIntrospection, StrategyTiered} {
		r := got[name]
		// Introspection decides by the IdP alone: it needs no keys.
		if r.Validations != 40 || r.FalseRefusals != 0 || r.Exposure.PostRevocation == 0 || (r.IdP.JWKSFetches == 0) != (name == StrategyIntrospection) {
			t.Errorf("%s: %d validations, %d false refusals (%v), exposure %+v, idp %+v", name, r.Validations, r.FalseRefusals, r.Reasons, r.Exposure, r.IdP)
		}
	}
	if n := got[StrategyLocal].IdP.Introspections; n != 0 {
		t.Errorf("local introspected %d times", n)
	}
	if n := got[StrategyIntrospection].IdP.Introspections; n == 0 {
		t.Error("introspection made no IdP call")
	}
	// Local cannot see an RFC 7009 revocation: everything after it is accepted.
	if e := got[StrategyLocal].Exposure; e.Accepted != e.PostRevocation {
		t.Errorf("local exposure %+v", e)
	}
	// Five tokens per strategy, one token request each; two revocations each.
	if is := rep.Issuer; is.MintCalls != 15 || is.RevokeCalls != 6 || is.DiscoveryCalls != 1 {
		t.Errorf("harness calls: %+v", is)
	}
	if rep.Verdict == nil || rep.Verdict.Choice != StrategyTiered {
		t.Errorf("verdict %+v", rep.Verdict)
	}
	var md strings.Builder
	if err := rep.WriteMarkdown(&md); err != nil || !strings.Contains(md.String(), "real issuer") {
		t.Errorf("report.md: %v\n%s", err, md.String())
	}
}

// TestRunIssuerNoRevocationEndpoint: an IdP whose discovery names no
// revocation endpoint gets "not measured", and its figures say so.
func TestRunIssuerNoRevocationEndpoint(t *testing.T) {
	t.Parallel()
	idp, err := idpsim.New(idpsim.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
			rec := httptest.NewRecorder()
			idp.ServeHTTP(rec, r)
			body := strings.Replace(rec.Body.String(), `"revocation_endpoint"`, `"x_revocation_endpoint"`, 1)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(body))
			return
		}
		idp.ServeHTTP(w, r)
	}))
	defer hs.Close()
	defer idp.Close()
	idp.SetBaseURL(hs.URL)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	rep, err := RunIssuer(context.Background(), IssuerOptions{Issuer: idp.Issuer("dev"), ClientID: "demo", ClientSecret: []byte("demo-secret"),
		RateCap: 2000, Tokens: 2, Requests: 4, Strategies: []string{StrategyLocal}, Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Issuer.RevocationMeasured || !strings.Contains(rep.Issuer.RevocationNote, "no revocation_endpoint") || rep.Issuer.RevokeCalls != 0 {
		t.Fatalf("issuer %+v", rep.Issuer)
	}
	var table strings.Builder
	if err := rep.WriteTable(&table); err != nil || !strings.Contains(table.String(), "not measured") {
		t.Errorf("table: %v\n%s", err, table.String())
	}
	files, err := rep.WritePlots(t.TempDir())
	if err != nil || strings.Contains(strings.Join(files, ","), PlotFrontier) {
		t.Errorf("plots %v %v: no frontier without exposure", files, err)
	}
}

func TestIssuerOptionsValidate(t *testing.T) {
	t.Parallel()
	ok := IssuerOptions{Issuer: "https://idp.example/realms/x", ClientID: "c", ClientSecret: []byte("s")}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*IssuerOptions){
		"no secret":        func(o *IssuerOptions) { o.ClientSecret = nil },
		"credentials":      func(o *IssuerOptions) { o.Issuer = "https://u:p@idp.example" },
		"not http":         func(o *IssuerOptions) { o.Issuer = "ftp://idp.example" },
		"grant":            func(o *IssuerOptions) { o.Grant = "implicit" },
		"password grant":   func(o *IssuerOptions) { o.Grant = GrantPassword; o.Username = "alice" },
		"rate":             func(o *IssuerOptions) { o.RateCap = -1 },
		"too many tokens":  func(o *IssuerOptions) { o.Tokens = maxIssuerTokens + 1 },
		"revoke > tokens":  func(o *IssuerOptions) { o.Tokens, o.Revoke = 2, 3 },
		"unknown strategy": func(o *IssuerOptions) { o.Strategies = []string{"local-pure"} },
	} {
		o := ok
		mut(&o)
		if err := o.Validate(); !errors.Is(err, ErrIssuerOptions) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
