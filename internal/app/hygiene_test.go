package app_test

import (
	"bytes"
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
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tokenwarden/tokenwarden/idpsim"
	"github.com/tokenwarden/tokenwarden/internal/config"
)

// forgeJWS signs claims with a key the IdP never published, under the IdP's
// kid: a forgery that only a signature check catches.
func forgeJWS(t *testing.T, kid string, claims map[string]any) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(map[string]any{"alg": "RS256", "kid": kid, "typ": "logout+jwt"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// tamper flips the last characters of the token's signature.
func tamper(tok string) string {
	b := []byte(tok)
	for i := len(b) - 4; i < len(b); i++ {
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}

// TestHygieneNoSecretsLeak runs a full scenario with DEBUG logs captured —
// good, bad, expired and forbidden tokens through local, introspection and
// tiered; a token revoked at the IdP; an introspection outage; the admin API
// with a wrong and the right secret; a forged back-channel logout; wrong API
// keys — and asserts that no token, no JWS signature segment, no client
// secret (plain or in Basic form), no admin secret and no API key appears in
// the logs, in /metrics or in any HTTP answer (status line, headers, body).
func TestHygieneNoSecretsLeak(t *testing.T) {
	var logs lockedBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := newScenario(t, log, 1000)
	issuer := s.idp.Issuer("dev")

	good := s.mint()
	pay := s.mint("payments:write")
	alice, err := s.idp.PasswordGrant("dev", "demo", "alice")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	expired, err := s.idp.Sign("dev", map[string]any{"typ": "JWT"}, map[string]any{
		"iss": issuer, "azp": "demo", "typ": "Bearer", "sub": "svc-expired", "jti": randomHex(t, 8),
		"scope": "openid", "iat": now.Add(-20 * time.Minute).Unix(), "exp": now.Add(-10 * time.Minute).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	bad := tamper(good)
	forgedLogout := forgeJWS(t, s.idp.ActiveKID("dev"), map[string]any{
		"iss": issuer, "aud": "demo", "iat": now.Unix(), "jti": randomHex(t, 8), "sid": alice.SessionState,
		"sub": "x", "events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
	})
	wrongKey := "k9-" + randomHex(t, 12)
	wrongSecret := randomHex(t, 16)

	type call struct {
		token, strategy string
		scopes          []string
		want            int
	}
	var calls []call
	for _, st := range []string{"local", "introspection", "tiered"} {
		calls = append(calls,
			call{good, st, nil, http.StatusOK},
			call{alice.AccessToken, st, nil, http.StatusOK},
			call{bad, st, nil, http.StatusUnauthorized},
			call{expired, st, nil, http.StatusUnauthorized},
			call{good, st, []string{"admin"}, http.StatusForbidden},
			call{alice.RefreshToken, st, nil, http.StatusUnauthorized},
			call{alice.IDToken, st, nil, http.StatusUnauthorized},
		)
	}
	calls = append(calls, call{pay, "tiered", []string{"payments:write"}, http.StatusOK})
	for _, c := range calls {
		code, body := s.validateJSON(c.token, c.strategy, c.scopes...)
		s.wantCode(c.strategy+" "+strings.Join(c.scopes, ","), code, body, c.want)
	}
	// Header form, every API key; a wrong API key is refused before any check.
	for _, k := range s.apiKeys {
		code, body := s.validateHeader(good, k)
		s.wantCode("header", code, body, http.StatusOK)
	}
	code, body := s.validateHeader(good, wrongKey)
	s.wantCode("wrong API key", code, body, http.StatusUnauthorized)
	code, body = s.validateHeader(good, "")
	s.wantCode("no API key", code, body, http.StatusUnauthorized)

	// Revoked at the IdP (RFC 7009, no push): the sensitive request asks, the
	// answer is learned.
	if err := s.idp.Revoke("dev", pay); err != nil {
		t.Fatal(err)
	}
	code, body = s.validateJSON(pay, "tiered", "payments:write")
	s.wantCode("revoked, sensitive", code, body, http.StatusUnauthorized)
	code, body = s.validateJSON(pay, "local")
	s.wantCode("revoked, learned", code, body, http.StatusUnauthorized)

	// Introspection outage: 503, never 401, through the breaker opening.
	outage := []string{}
	for _, f := range []idpsim.Fault{{ErrorRate: 1, ErrorStatus: 500}, {Garbage: true}, {ErrorRate: 1, ErrorStatus: 401}} {
		s.idp.SetFault(idpsim.EndpointIntrospect, f)
		for _, st := range []string{"introspection", "tiered"} {
			tok := s.mint("payments:write")
			outage = append(outage, tok)
			code, body := s.validateJSON(tok, st, "payments:write")
			s.wantCode("outage "+st, code, body, http.StatusServiceUnavailable)
		}
	}
	s.idp.ClearFaults()

	// Admin API: wrong secret, then the right one.
	code, body = s.adminRevocation(wrongSecret, `{"sub":"someone","action":"deny"}`)
	s.wantCode("admin, wrong secret", code, body, http.StatusUnauthorized)
	code, body = s.adminRevocation(s.adminSecret, `{"sub":"someone","action":"deny"}`)
	s.wantCode("admin, right secret", code, body, http.StatusCreated)
	req, _ := http.NewRequest(http.MethodGet, s.admin.URL+"/v1/revocations", nil)
	req.Header.Set("Authorization", "Bearer "+s.adminSecret)
	code, body = s.do(req)
	s.wantCode("admin list", code, body, http.StatusOK)

	// A forged back-channel logout token: refused.
	req, _ = http.NewRequest(http.MethodPost, s.admin.URL+"/v1/backchannel-logout",
		strings.NewReader(url.Values{"logout_token": {forgedLogout}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	code, body = s.do(req)
	s.wantCode("forged logout", code, body, http.StatusBadRequest)
	// alice's session is still good: the forgery changed nothing.
	code, body = s.validateJSON(alice.AccessToken, "local")
	s.wantCode("alice after forged logout", code, body, http.StatusOK)

	metrics := s.scrape()

	secrets := map[string]string{
		"client secret":            "demo-secret",
		"client secret, Basic":     base64.StdEncoding.EncodeToString([]byte("demo:demo-secret")),
		"client secret, Basic raw": base64.RawStdEncoding.EncodeToString([]byte("demo:demo-secret")),
		"admin secret":             s.adminSecret,
		"wrong admin secret":       wrongSecret,
		"wrong API key":            wrongKey,
	}
	for i, k := range s.apiKeys {
		secrets["API key "+string(rune('0'+i))] = k
	}
	tokens := map[string]string{
		"good": good, "payments": pay, "alice": alice.AccessToken, "alice refresh": alice.RefreshToken, "alice id": alice.IDToken,
		"expired": expired, "tampered": bad, "forged logout": forgedLogout,
	}
	for i, tok := range outage {
		tokens["outage "+string(rune('a'+i))] = tok
	}
	for name, tok := range tokens {
		secrets["token "+name] = tok
		parts := strings.Split(tok, ".")
		if len(parts) != 3 || len(parts[2]) < 16 {
			t.Fatalf("token %s is not a compact JWS", name)
		}
		secrets["signature of "+name] = parts[2]
	}

	logText, answers := logs.String(), s.exchanges.String()
	// The captures are not vacuous: DEBUG decisions, refusals with
	// fingerprints, the outage and the revocation events were all logged.
	for _, want := range []string{`"level":"DEBUG"`, `"msg":"token accepted"`, `"msg":"token rejected"`, `"token_fp":`,
		`"msg":"introspection failed"`, `"msg":"revocation event"`, `"msg":"revocation event refused"`, `"msg":"caller rejected"`} {
		if !strings.Contains(logText, want) {
			t.Errorf("logs lack %s; the scenario did not exercise what it claims", want)
		}
	}
	if !strings.Contains(metrics, "tokenwarden_decisions_total") || !strings.Contains(answers, `"active":true`) {
		t.Fatal("metrics or answers were not captured")
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range secrets {
			if !yield(k) {
				return
			}
		}
	}) {
		v := secrets[name]
		for where, text := range map[string]string{"logs": logText, "/metrics": metrics, "HTTP answers": answers} {
			if i := strings.Index(text, v); i >= 0 {
				lo, hi := max(0, i-120), min(len(text), i+len(v)+40)
				t.Errorf("%s leaks in %s: ...%s...", name, where, text[lo:hi])
			}
		}
	}
}

// k8sDocs reads every YAML document of configs/kubernetes, by kind/name.
func k8sDocs(t *testing.T) map[string]map[string]any {
	t.Helper()
	files, err := filepath.Glob("../../configs/kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	docs := map[string]map[string]any{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var d map[string]any
			if err := dec.Decode(&d); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				t.Fatalf("%s: %v", f, err)
			}
			if d == nil {
				continue
			}
			md, _ := d["metadata"].(map[string]any)
			docs[d["kind"].(string)+"/"+md["name"].(string)] = d
		}
	}
	return docs
}

// dig walks maps and lists by key or index ("0").
func dig(v any, path ...string) any {
	for _, p := range path {
		switch c := v.(type) {
		case map[string]any:
			v = c[p]
		case []any:
			i := 0
			for _, r := range p {
				i = i*10 + int(r-'0')
			}
			if i >= len(c) {
				return nil
			}
			v = c[i]
		default:
			return nil
		}
	}
	return v
}

// TestHygieneKubernetesManifests: the shipped manifests agree with the
// binary and with each other. The ConfigMap's tokenwarden.yaml loads through
// internal/config; every secret file it names is projected from the Secret
// into the directory the Dockerfile's CMD reads; the public Service exposes
// only the validate port; the admin Service is internal; the pod runs
// non-root on a read-only root filesystem with the probes on the validate port.
func TestHygieneKubernetesManifests(t *testing.T) {
	docs := k8sDocs(t)
	cm, dep := docs["ConfigMap/tokenwarden"], docs["Deployment/tokenwarden"]
	svc, adm, sec := docs["Service/tokenwarden"], docs["Service/tokenwarden-admin"], docs["Secret/tokenwarden"]
	if cm == nil || dep == nil || svc == nil || adm == nil || sec == nil {
		t.Fatalf("missing manifests; have %v", slices.Sorted(func(yield func(string) bool) {
			for k := range docs {
				if !yield(k) {
					return
				}
			}
		}))
	}
	text, _ := dig(cm, "data", "tokenwarden.yaml").(string)
	cfg, err := config.LoadBytes("configmap.yaml", []byte(text), nil)
	if err != nil {
		t.Fatalf("ConfigMap tokenwarden.yaml: %v", err)
	}
	if !strings.HasSuffix(cfg.Server.Addr, ":8080") || !strings.HasSuffix(cfg.Server.AdminAddr, ":8081") ||
		strings.HasPrefix(cfg.Server.Addr, "127.") || strings.HasPrefix(cfg.Server.AdminAddr, "127.") {
		t.Errorf("listeners %s, %s: want 0.0.0.0:8080 and 0.0.0.0:8081 inside a pod", cfg.Server.Addr, cfg.Server.AdminAddr)
	}

	// Secret files referenced by the config, projected from the Secret.
	var refs []string
	for _, s := range []config.Secret{cfg.Server.APIKeys, cfg.Revocation.AdminSecret} {
		refs = append(refs, s.File)
	}
	for _, is := range cfg.Issuers {
		refs = append(refs, is.Introspection.ClientSecret.File)
	}
	c := dig(dep, "spec", "template", "spec", "containers", "0")
	mount, _ := dig(c, "volumeMounts", "0", "mountPath").(string)
	args, _ := dig(c, "args").([]any)
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	cmdRe := regexp.MustCompile(`(?m)^CMD \["serve", "--config", "([^"]+)"\]`)
	m := cmdRe.FindSubmatch(dockerfile)
	if m == nil || len(args) != 3 || args[2] != string(m[1]) || filepath.Dir(string(m[1])) != mount {
		t.Errorf("config path: Dockerfile CMD %q, deployment args %v, mount %q", m, args, mount)
	}
	projected := map[string]string{} // file -> Secret key
	sources, _ := dig(dep, "spec", "template", "spec", "volumes", "0", "projected", "sources").([]any)
	for _, src := range sources {
		items, _ := dig(src, "secret", "items").([]any)
		for _, it := range items {
			projected[filepath.Join(mount, dig(it, "path").(string))] = dig(it, "key").(string)
		}
	}
	for _, f := range refs {
		if f == "" {
			t.Error("a secret in the ConfigMap is not a {file: ...} reference")
			continue
		}
		key, ok := projected[f]
		if !ok {
			t.Errorf("%s is referenced by the config but not projected from the Secret", f)
		} else if dig(sec, "stringData", key) == nil {
			t.Errorf("secret.example.yaml has no key %s (for %s)", key, f)
		}
	}

	// Ports: the public Service never reaches the admin listener.
	for _, p := range dig(svc, "spec", "ports").([]any) {
		if tp := dig(p, "targetPort"); tp == "admin" || tp == 8081 || dig(p, "port") == 8081 {
			t.Errorf("public Service exposes the admin port: %v", p)
		}
	}
	if dig(adm, "spec", "type") != "ClusterIP" || dig(adm, "spec", "ports", "0", "targetPort") != "admin" {
		t.Errorf("admin Service must be ClusterIP on the admin port: %v", dig(adm, "spec"))
	}
	ports := map[string]int{}
	for _, p := range dig(c, "ports").([]any) {
		ports[dig(p, "name").(string)] = dig(p, "containerPort").(int)
	}
	if ports["http"] != 8080 || ports["admin"] != 8081 {
		t.Errorf("container ports %v", ports)
	}

	// Pod hardening and probes.
	if dig(dep, "spec", "replicas") != 2 {
		t.Errorf("replicas %v, want 2", dig(dep, "spec", "replicas"))
	}
	for path, want := range map[string]any{
		"spec.template.spec.securityContext.runAsNonRoot":                          true,
		"spec.template.spec.securityContext.runAsUser":                             65532,
		"spec.template.spec.containers.0.securityContext.readOnlyRootFilesystem":   true,
		"spec.template.spec.containers.0.securityContext.allowPrivilegeEscalation": false,
		"spec.template.spec.containers.0.livenessProbe.httpGet.path":               "/healthz",
		"spec.template.spec.containers.0.livenessProbe.httpGet.port":               "http",
		"spec.template.spec.containers.0.readinessProbe.httpGet.path":              "/readyz",
		"spec.template.spec.containers.0.readinessProbe.httpGet.port":              "http",
	} {
		if got := dig(dep, strings.Split(path, ".")...); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	for _, r := range []string{"requests.cpu", "requests.memory", "limits.memory"} {
		if dig(c, append([]string{"resources"}, strings.Split(r, ".")...)...) == nil {
			t.Errorf("resources.%s unset", r)
		}
	}
}
