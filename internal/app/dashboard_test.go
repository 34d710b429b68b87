package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/tokenwarden/tokenwarden/idpsim"
	"github.com/tokenwarden/tokenwarden/internal/app"
	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/internal/config"
	"github.com/tokenwarden/tokenwarden/internal/metricnames"
)

// dashboardFile is the shipped Grafana dashboard.
const dashboardFile = "../../configs/grafana/tokenwarden.json"

// lockedBuffer is an io.Writer safe for the service's goroutines (the
// logger is written by request handlers and by background key refresh).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// scenario is a wired tokenwarden (app.Build, as serve does) against an
// in-process idpsim, served over loopback HTTP. Every HTTP answer it gets
// (status, headers, body) is kept in exchanges.
type scenario struct {
	t           *testing.T
	idp         *idpsim.Server
	app         *app.App
	main, admin *httptest.Server
	hc          *http.Client
	adminSecret string
	apiKeys     []string
	exchanges   lockedBuffer
}

// scenarioConfig names local, introspection and tiered strategies over one
// issuer with introspection (client secret from the environment), the
// revocation endpoints (admin secret from the environment) and API keys
// from a file. %s: issuer, API keys file, revocation.max_entries.
const scenarioConfig = `
server:
  allow_strategy_override: true
  expose_claims: [sub, azp, scope]
  api_keys: {file: %s}
issuers:
  - name: dev
    issuer: %s
    authorized_parties: [demo]
    algorithms: [RS256]
    jwks: {timeout: 2s}
    introspection:
      enabled: true
      client_id: demo
      client_secret: {env: TW_SCENARIO_CLIENT_SECRET}
      timeout: 500ms
      breaker: {failure_threshold: 2, open_timeout: 1m}
revocation:
  window: 1h
  restart_window: false
  max_entries: %d
  admin_secret: {env: TW_SCENARIO_ADMIN_SECRET}
  logout_audiences: [demo]
  not_before_resource: demo
strategies:
  local: {type: local}
  introspection: {type: introspection, standard_max_age: 30s}
  tiered: {type: tiered, sensitive_scopes: ["payments:write"], standard_max_age: 30s}
default_strategy: tiered
log: {level: debug}
`

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newScenario starts idpsim and the service, waits for the keys and
// registers cleanup. log receives the service's logs.
func newScenario(t *testing.T, log *slog.Logger, maxRevocations int) *scenario {
	t.Helper()
	idp, err := idpsim.Start(idpsim.DefaultConfig(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Close() })
	s := &scenario{t: t, idp: idp, adminSecret: randomHex(t, 16),
		apiKeys: []string{"k1-" + randomHex(t, 12), "k2-" + randomHex(t, 12)}}
	t.Setenv("TW_SCENARIO_CLIENT_SECRET", "demo-secret")
	t.Setenv("TW_SCENARIO_ADMIN_SECRET", s.adminSecret)
	dir := t.TempDir()
	keys := filepath.Join(dir, "api-keys")
	if err := os.WriteFile(keys, []byte(strings.Join(s.apiKeys, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadBytes("scenario.yaml", fmt.Appendf(nil, scenarioConfig, keys, idp.Issuer("dev"), maxRevocations), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Build(cfg, log, clock.Real)
	if err != nil {
		t.Fatal(err)
	}
	s.app = a
	ctx, cancel := context.WithCancel(context.Background())
	a.Start(ctx)
	s.main = httptest.NewServer(a.Service().Handler())
	s.admin = httptest.NewServer(a.Service().AdminHandler())
	s.hc = &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	t.Cleanup(func() {
		s.hc.CloseIdleConnections()
		s.main.Close()
		s.admin.Close()
		cancel()
		a.Close()
	})
	for deadline := time.Now().Add(10 * time.Second); !a.Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("keys never loaded")
		}
	}
	return s
}

// do sends req and records the answer in s.exchanges.
func (s *scenario) do(req *http.Request) (int, []byte) {
	s.t.Helper()
	resp, err := s.hc.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		s.t.Fatal(err)
	}
	fmt.Fprintf(&s.exchanges, "%s %s -> %d\n", req.Method, req.URL.Path, resp.StatusCode)
	for _, k := range slices.Sorted(maps.Keys(resp.Header)) {
		fmt.Fprintf(&s.exchanges, "%s: %s\n", k, strings.Join(resp.Header[k], ", "))
	}
	fmt.Fprintf(&s.exchanges, "\n%s\n\n", body)
	return resp.StatusCode, body
}

// validateJSON asks POST /v1/validate with the token in the JSON body.
func (s *scenario) validateJSON(token, strategyName string, scopes ...string) (int, []byte) {
	s.t.Helper()
	b, _ := json.Marshal(map[string]any{"token": token, "strategy": strategyName, "scopes": scopes})
	req, _ := http.NewRequest(http.MethodPost, s.main.URL+"/v1/validate", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", s.apiKeys[0])
	return s.do(req)
}

// validateHeader asks POST /v1/validate with Authorization: Bearer.
func (s *scenario) validateHeader(token, apiKey string) (int, []byte) {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.main.URL+"/v1/validate", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-API-Key", apiKey)
	return s.do(req)
}

// adminRevocation posts an admin revocation event with the given secret.
func (s *scenario) adminRevocation(secret, body string) (int, []byte) {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.admin.URL+"/v1/revocations", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+secret)
	return s.do(req)
}

// scrape returns the admin listener's /metrics text.
func (s *scenario) scrape() string {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.admin.URL+"/metrics", nil)
	code, body := s.do(req)
	if code != http.StatusOK {
		s.t.Fatalf("/metrics: %d", code)
	}
	return string(body)
}

func (s *scenario) mint(scopes ...string) string {
	s.t.Helper()
	tok, err := s.idp.ClientCredentials("dev", "demo", scopes...)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok.AccessToken
}

// wantCode fails unless got == want.
func (s *scenario) wantCode(what string, got int, body []byte, want int) {
	s.t.Helper()
	if got != want {
		s.t.Fatalf("%s: HTTP %d, want %d: %s", what, got, want, body)
	}
}

// dashboardExprs returns every PromQL expression of the dashboard: panel
// targets (rows included) and templating queries.
func dashboardExprs(t *testing.T) (map[string]any, []string) {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var exprs []string
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				walk(c, k)
			}
		case []any:
			for _, c := range v {
				walk(c, key)
			}
		case string:
			if key == "expr" || key == "definition" {
				exprs = append(exprs, v)
			}
		}
	}
	walk(d["panels"], "")
	walk(d["templating"], "")
	return d, exprs
}

var (
	metricRe  = regexp.MustCompile(`tokenwarden_[a-z_]+`)
	groupRe   = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	matcherRe = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"`)
	selectorB = regexp.MustCompile(`\{([^}]*)\}`)
	legendRe  = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)
)

// familyOf strips the series suffixes of a histogram.
func familyOf(series string) string {
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if f, ok := strings.CutSuffix(series, suf); ok {
			return f
		}
	}
	return series
}

// exprLabels lists the label names an expression groups or filters by.
func exprLabels(expr string) []string {
	var out []string
	for _, m := range groupRe.FindAllStringSubmatch(expr, -1) {
		for l := range strings.SplitSeq(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
	}
	for _, sel := range selectorB.FindAllStringSubmatch(expr, -1) {
		for _, m := range matcherRe.FindAllStringSubmatch(sel[1], -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// runMetricsScenario makes the service record every family: decisions of
// each strategy (accepted, refused), a sensitive tiered request that
// introspects, admin revocation events until the store is full.
func runMetricsScenario(s *scenario, maxRevocations int) {
	s.t.Helper()
	tok := s.mint()
	for _, st := range []string{"local", "local", "introspection", "tiered"} {
		code, body := s.validateJSON(tok, st)
		s.wantCode(st, code, body, http.StatusOK)
	}
	pay := s.mint("payments:write")
	code, body := s.validateJSON(pay, "tiered", "payments:write")
	s.wantCode("tiered sensitive", code, body, http.StatusOK)
	if !bytes.Contains(body, []byte(`"decided_by":"introspection"`)) || !bytes.Contains(body, []byte(`"sensitive_scope"`)) {
		s.t.Fatalf("sensitive tiered request was not introspected: %s", body)
	}
	code, body = s.validateJSON("not-a-jwt.at.all", "local")
	s.wantCode("garbage", code, body, http.StatusUnauthorized)
	// Fill the revocation store: the last event is refused (full) and counted.
	full := false
	for i := range maxRevocations + 1 {
		code, body = s.adminRevocation(s.adminSecret, fmt.Sprintf(`{"sub":"user-%d","action":"deny"}`, i))
		if code == http.StatusServiceUnavailable {
			full = true
			break
		}
		s.wantCode("admin deny", code, body, http.StatusCreated)
	}
	if !full {
		s.t.Fatalf("revocation store of %d entries never reported full", maxRevocations)
	}
}

// TestDashboardMetricsExist: every metric the shipped Grafana dashboard
// queries is a family the service registers (after a real scenario, scraped
// over HTTP and gathered), every label it groups or filters by exists on
// those families, and every family of internal/metricnames is on the
// dashboard at least once.
func TestDashboardMetricsExist(t *testing.T) {
	const maxRevocations = 3
	s := newScenario(t, slog.New(slog.DiscardHandler), maxRevocations)
	runMetricsScenario(s, maxRevocations)

	mfs, err := s.app.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]map[string]bool{} // family -> label names
	for _, mf := range mfs {
		set := map[string]bool{}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				set[lp.GetName()] = true
			}
		}
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			set["le"] = true
		}
		labels[mf.GetName()] = set
	}
	text := s.scrape()

	d, exprs := dashboardExprs(t)
	if len(exprs) == 0 {
		t.Fatal("the dashboard has no expressions")
	}
	used := map[string]bool{}
	for _, expr := range exprs {
		names := metricRe.FindAllString(expr, -1)
		if len(names) == 0 {
			t.Errorf("expression uses no tokenwarden metric: %s", expr)
		}
		var fams []string
		for _, n := range names {
			f := familyOf(n)
			used[f] = true
			fams = append(fams, f)
			if _, ok := labels[f]; !ok {
				t.Errorf("dashboard metric %s (in %q) is not registered/gathered", n, expr)
			}
			if !strings.Contains(text, "# TYPE "+f+" ") {
				t.Errorf("dashboard metric %s is not in the /metrics output", f)
			}
			if !slices.Contains(metricnames.All, f) {
				t.Errorf("dashboard metric %s is not in internal/metricnames", f)
			}
		}
		// Labels added by Prometheus at scrape time, not by tokenwarden.
		for _, l := range exprLabels(expr) {
			if l == "instance" || l == "job" {
				continue
			}
			if !slices.ContainsFunc(fams, func(f string) bool { return labels[f][l] }) {
				t.Errorf("label %q in %q is on none of %v", l, expr, fams)
			}
		}
	}
	for _, f := range metricnames.All {
		if !used[f] {
			t.Errorf("metric family %s is on no dashboard panel", f)
		}
	}

	// Shape: Grafana-importable, every panel queries the datasource variable.
	if v, _ := d["schemaVersion"].(float64); v < 39 {
		t.Errorf("schemaVersion %v, want >= 39", d["schemaVersion"])
	}
	tmpl, _ := json.Marshal(d["templating"])
	if !bytes.Contains(tmpl, []byte(`"type":"datasource"`)) || !bytes.Contains(tmpl, []byte(`"query":"prometheus"`)) {
		t.Errorf("no Prometheus datasource variable in templating: %s", tmpl)
	}
	ids := map[float64]bool{}
	var check func(panels []any)
	check = func(panels []any) {
		for _, p := range panels {
			pm, _ := p.(map[string]any)
			id, _ := pm["id"].(float64)
			if ids[id] {
				t.Errorf("duplicate panel id %v", id)
			}
			ids[id] = true
			if pm["type"] == "row" {
				sub, _ := pm["panels"].([]any)
				check(sub)
				continue
			}
			title, _ := pm["title"].(string)
			ds, _ := json.Marshal(pm["datasource"])
			if !bytes.Contains(ds, []byte(`${datasource}`)) {
				t.Errorf("panel %q does not use the datasource variable: %s", title, ds)
			}
			targets, _ := pm["targets"].([]any)
			if len(targets) == 0 {
				t.Errorf("panel %q has no targets", title)
			}
			for _, tg := range targets {
				tm, _ := tg.(map[string]any)
				expr, _ := tm["expr"].(string)
				if strings.Count(expr, "(") != strings.Count(expr, ")") || strings.Count(expr, "{") != strings.Count(expr, "}") {
					t.Errorf("panel %q: unbalanced expression %q", title, expr)
				}
				if !strings.Contains(expr, `instance=~"$instance"`) {
					t.Errorf("panel %q: %q ignores the replica variable", title, expr)
				}
				legend, _ := tm["legendFormat"].(string)
				for _, m := range legendRe.FindAllStringSubmatch(legend, -1) {
					if !slices.Contains(exprLabels(expr), m[1]) {
						t.Errorf("panel %q: legend {{%s}} is not a label the expression keeps (%q)", title, m[1], expr)
					}
				}
			}
		}
	}
	panels, _ := d["panels"].([]any)
	check(panels)
}

// TestDashboardPanelsForTheBrief: the questions the dashboard must answer
// each have a panel whose expression answers it.
func TestDashboardPanelsForTheBrief(t *testing.T) {
	_, exprs := dashboardExprs(t)
	all := strings.Join(exprs, "\n")
	for _, want := range []string{
		`tokenwarden_decisions_total{instance=~"$instance",decided_by!="introspection"}`, // share decided locally
		`- sum(rate(tokenwarden_introspection_requests_total`,                            // IdP calls avoided
		`histogram_quantile(0.99, sum by (le, issuer) (rate(tokenwarden_introspection_request_duration_seconds_bucket`,
		`histogram_quantile(0.99, sum by (le, strategy) (rate(tokenwarden_decision_duration_seconds_bucket`,
		`sum by (reason) (rate(tokenwarden_rejections_total`,
		`sum by (trigger) (rate(tokenwarden_introspection_triggers_total`,
		`time() - max by (instance, issuer) (tokenwarden_jwks_last_success_timestamp_seconds`,
		`tokenwarden_revocation_entries{`,
		`tokenwarden_decisions_total{instance=~"$instance",outcome="degraded"}`,
		`tokenwarden_introspection_breaker_open{`,
		`tokenwarden_verified_cache_requests_total{instance=~"$instance",result="hit"}`,
		`tokenwarden_introspection_cache_requests_total{instance=~"$instance",result="hit"}`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no dashboard expression contains %q", want)
		}
	}
}
