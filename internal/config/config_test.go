package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// writeFile writes a config file in a temporary directory and returns its path.
func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tokenwarden.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// withIssuer returns a minimal valid file whose single issuer has the extra
// lines (written at issuer level, two-space indented YAML) appended.
func withIssuer(extra string) string {
	var b strings.Builder
	b.WriteString("issuers:\n  - name: kc\n    issuer: https://kc.example.com/realms/r\n    audiences: [api]\n")
	for line := range strings.Lines(extra) {
		b.WriteString("    " + line)
	}
	return b.String()
}

const minimal = "issuers:\n  - name: kc\n    issuer: https://kc.example.com/realms/r\n    audiences: [api]\n"

const introspecting = `issuers:
  - name: kc
    issuer: https://kc.example.com/realms/r
    audiences: [api]
    introspection:
      enabled: true
      client_id: tw
      client_secret: {env: TW_TEST_SECRET}
`

func TestExampleConfigsLoad(t *testing.T) {
	t.Setenv("TOKENWARDEN_DEV_CLIENT_SECRET", "demo-secret")
	t.Setenv("TOKENWARDEN_DEV_ADMIN_SECRET", "dev-admin")
	files, err := filepath.Glob("../../configs/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("expected at least tokenwarden.yaml, dev.yaml, hydra.yaml; found %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f, nil)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(c.Issuers) == 0 || !hasStrategy(c.Strategies, c.DefaultStrategy) {
				t.Fatalf("incomplete config: %+v", c)
			}
			// The secrets the file refers to by environment variable can be read.
			for _, s := range []Secret{c.Issuers[0].Introspection.ClientSecret, c.Revocation.AdminSecret} {
				if s.Env != "" {
					if _, err := s.Read(); err != nil {
						t.Errorf("secret %s: %v", s.Env, err)
					}
				}
			}
		})
	}
}

func TestExampleConfigsContent(t *testing.T) {
	t.Setenv("TOKENWARDEN_DEV_CLIENT_SECRET", "demo-secret")
	c, err := Load("../../configs/dev.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	is := c.Issuers[0]
	if is.Issuer != "http://127.0.0.1:8180/realms/dev" || len(is.Audiences) != 0 ||
		!slices.Equal(is.AuthorizedParties, []string{"demo"}) || !c.Server.AllowStrategyOverride {
		t.Errorf("dev.yaml issuer: %+v", is)
	}
	if b, err := is.Introspection.ClientSecret.Read(); err != nil || string(b) != "demo-secret" {
		t.Errorf("dev client secret = %q, %v", b, err)
	}
	if got := c.Routes[0].Methods; !slices.Equal(got, []string{"POST"}) {
		t.Errorf("route methods not upper-cased: %v", got)
	}

	h, err := Load("../../configs/hydra.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Issuers[0].DiscoveryURL; got != "http://127.0.0.1:4444/.well-known/openid-configuration" {
		t.Errorf("hydra discovery_url = %q", got)
	}
	if in := h.Issuers[0].Introspection; in.AuthMethod != AuthNone || !in.IntrospectOpaque {
		t.Errorf("hydra introspection = %+v", in)
	}
}

func TestLoadRejects(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr error
		wantKey string // the error must contain "wantKey:"
		notIn   string // must not appear in the error
	}{
		{"unknown top-level key", minimal + "bogus: 1\n", ErrUnknownKey, "bogus", ""},
		{"unknown nested key", withIssuer("jwks:\n  refresh_intervall: 5m\n"), ErrUnknownKey, "issuers[0].jwks.refresh_intervall", ""},
		{"unknown strategy key", minimal + "strategies:\n  fast:\n    type: local\n    sample_rat: 0.1\n", ErrUnknownKey, "strategies.fast.sample_rat", ""},
		{"unknown server key", minimal + "server:\n  adress: 1.2.3.4:80\n", ErrUnknownKey, "server.adress", ""},
		{"bad duration", withIssuer("clock_skew: 30 seconds\n"), ErrInvalid, "issuers[0].clock_skew", ""},
		{"duration without unit", withIssuer("jwks:\n  timeout: 5\n"), ErrInvalid, "issuers[0].jwks.timeout", ""},
		{"wrong type", minimal + "server:\n  max_in_flight: lots\n", ErrInvalid, "server.max_in_flight", ""},
		{"issuers not a list", "issuers: keycloak\n", ErrInvalid, "issuers", ""},
		{"yaml syntax", "issuers: [\n", ErrInvalid, "", ""},
		{"no issuer", "log:\n  level: info\n", ErrInvalid, "issuers", ""},
		{"http issuer on public host", "issuers:\n  - name: kc\n    issuer: http://keycloak.example.com/realms/r\n    audiences: [api]\n", ErrInvalid, "issuers[0].issuer", ""},
		{"http discovery on public host", withIssuer("discovery_url: http://keycloak.example.com/x\n"), ErrInvalid, "issuers[0].discovery_url", ""},
		{"http jwks on public host", withIssuer("jwks_url: http://10.1.2.3/certs\n"), ErrInvalid, "issuers[0].jwks_url", ""},
		{"credentials in URL", withIssuer("jwks_url: https://user:hunter2@kc.example.com/certs\n"), ErrInvalid, "issuers[0].jwks_url", "hunter2"},
		{"relative issuer", "issuers:\n  - name: kc\n    issuer: /realms/r\n    audiences: [api]\n", ErrInvalid, "issuers[0].issuer", ""},
		{"empty audiences without authorized_parties", "issuers:\n  - name: kc\n    issuer: https://kc.example.com/realms/r\n", ErrInvalid, "issuers[0].audiences", ""},
		{"alg none", withIssuer("algorithms: [none]\n"), ErrInvalid, "issuers[0].algorithms[0]", ""},
		{"alg HS256", withIssuer("algorithms: [RS256, HS256]\n"), ErrInvalid, "issuers[0].algorithms[1]", ""},
		{"bad token_profile", withIssuer("token_profile: okta\n"), ErrInvalid, "issuers[0].token_profile", ""},
		{"clock skew too large", withIssuer("clock_skew: 10m\n"), ErrInvalid, "issuers[0].clock_skew", ""},
		{"max_token_bytes too small", withIssuer("max_token_bytes: 100\n"), ErrInvalid, "issuers[0].max_token_bytes", ""},
		{"max_stale below refresh", withIssuer("jwks:\n  refresh_interval: 10m\n  max_stale: 1m\n"), ErrInvalid, "issuers[0].jwks.max_stale", ""},
		{"bad issuer name", "issuers:\n  - name: Key Cloak\n    issuer: https://kc.example.com/realms/r\n    audiences: [api]\n", ErrInvalid, "issuers[0].name", ""},
		{"duplicate issuer name", minimal + "  - name: kc\n    issuer: https://other.example.com/\n    audiences: [api]\n", ErrInvalid, "issuers[1].name", ""},
		{"secret inline", withIssuer("introspection:\n  enabled: true\n  client_id: tw\n  client_secret: inline-secret-value\n"), ErrInvalid, "issuers[0].introspection.client_secret", "inline-secret-value"},
		{"secret inline at top level", minimal + "revocation:\n  admin_secret: inline-admin-value\n", ErrInvalid, "revocation.admin_secret", "inline-admin-value"},
		{"secret both sources", minimal + "revocation:\n  admin_secret: {file: /x, env: X}\n", ErrInvalid, "revocation.admin_secret", ""},
		{"client_secret missing", withIssuer("introspection:\n  enabled: true\n  client_id: tw\n"), ErrInvalid, "issuers[0].introspection.client_secret", ""},
		{"client_id missing", withIssuer("introspection:\n  enabled: true\n  client_secret: {env: X}\n"), ErrInvalid, "issuers[0].introspection.client_id", ""},
		{"private key missing", withIssuer("introspection:\n  enabled: true\n  client_id: tw\n  auth_method: private_key_jwt\n"), ErrInvalid, "issuers[0].introspection.private_key", ""},
		{"bad auth_method", withIssuer("introspection:\n  auth_method: tls_client_auth\n"), ErrInvalid, "issuers[0].introspection.auth_method", ""},
		{"default_strategy unknown", minimal + "strategies:\n  local: {type: local}\ndefault_strategy: fast\n", ErrInvalid, "default_strategy", ""},
		{"default_strategy ambiguous", minimal + "strategies:\n  a: {type: local}\n  b: {type: local}\n", ErrInvalid, "default_strategy", ""},
		{"tiered without introspection", minimal + "strategies:\n  tiered: {type: tiered}\n", ErrInvalid, "strategies.tiered.type", ""},
		{"bad on_unavailable", introspecting + "strategies:\n  tiered: {type: tiered, on_unavailable: allow}\n", ErrInvalid, "strategies.tiered.on_unavailable", ""},
		{"sample_rate above 1", minimal + "strategies:\n  local: {type: local, sample_rate: 1.5}\n", ErrInvalid, "strategies.local.sample_rate", ""},
		{"bad strategy type", minimal + "strategies:\n  x: {type: magic}\n", ErrInvalid, "strategies.x.type", ""},
		{"route path without slash", minimal + "routes:\n  - path: api\n", ErrInvalid, "routes[0].path", ""},
		{"route unknown strategy", minimal + "routes:\n  - path: /api/\n    strategy: nope\n", ErrInvalid, "routes[0].strategy", ""},
		{"route bad method", minimal + "routes:\n  - path: /api/\n    methods: [\"GE T\"]\n", ErrInvalid, "routes[0].methods[0]", ""},
		{"bad log level", minimal + "log:\n  level: loud\n", ErrInvalid, "log.level", ""},
		{"bad trusted proxy", minimal + "server:\n  trusted_proxies: [10.0.0.1]\n", ErrInvalid, "server.trusted_proxies[0]", ""},
		{"bad addr", minimal + "server:\n  addr: localhost\n", ErrInvalid, "server.addr", ""},
		{"same addr twice", minimal + "server:\n  addr: 127.0.0.1:9000\n  admin_addr: 127.0.0.1:9000\n", ErrInvalid, "server.admin_addr", ""},
		{"introspect_opaque without introspection", withIssuer("introspection:\n  introspect_opaque: true\n"), ErrInvalid, "issuers[0].introspection.introspect_opaque", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeFile(t, tt.yaml), nil)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantKey != "" && !strings.Contains(err.Error(), tt.wantKey+":") {
				t.Errorf("error does not name %q:\n%v", tt.wantKey, err)
			}
			if tt.notIn != "" && strings.Contains(err.Error(), tt.notIn) {
				t.Errorf("error leaks %q:\n%v", tt.notIn, err)
			}
		})
	}
}

func TestLoadAccepts(t *testing.T) {
	tests := []struct {
		name string
		yaml string
	}{
		{"http issuer on 127.0.0.1", "issuers:\n  - name: kc\n    issuer: http://127.0.0.1:8180/realms/dev\n    audiences: [api]\n"},
		{"http issuer on 127.1.2.3", "issuers:\n  - name: kc\n    issuer: http://127.1.2.3/realms/dev\n    audiences: [api]\n"},
		{"http issuer on localhost", "issuers:\n  - name: kc\n    issuer: http://localhost:8180/realms/dev\n    audiences: [api]\n"},
		{"http issuer on ::1", "issuers:\n  - name: kc\n    issuer: http://[::1]:8180/realms/dev\n    audiences: [api]\n"},
		{"authorized_parties only", "issuers:\n  - name: kc\n    issuer: https://kc.example.com/realms/r\n    authorized_parties: [web]\n"},
		{"auth none without client", withIssuer("introspection:\n  enabled: true\n  auth_method: none\n  endpoint: http://127.0.0.1:4445/admin/oauth2/introspect\n")},
		{"private_key_jwt", withIssuer("introspection:\n  enabled: true\n  auth_method: private_key_jwt\n  client_id: tw\n  private_key: {file: /k.pem}\n  private_key_alg: ES256\n")},
		{"zero duration", withIssuer("clock_skew: 0\n")},
		{"keys are case-insensitive", "Issuers:\n  - Name: kc\n    Issuer: https://kc.example.com/realms/r\n    Audiences: [api]\n"},
		{"empty file sections", minimal + "server:\nrevocation:\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Load(writeFile(t, tt.yaml), nil); err != nil {
				t.Fatalf("Load: %v", err)
			}
		})
	}
}

func TestLoadNoFile(t *testing.T) {
	// Defaults alone are not a valid configuration: an issuer is required.
	_, err := Load("", nil)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "issuers:") {
		t.Fatalf("err = %v", err)
	}
	_, err = Load(filepath.Join(t.TempDir(), "missing.yaml"), nil)
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: err = %v", err)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Load(writeFile(t, minimal), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Server
	if s.Addr != "127.0.0.1:8080" || s.AdminAddr != "127.0.0.1:8081" || s.MaxBodyBytes != 65536 ||
		s.MaxHeaderBytes != 32768 || s.ReadTimeout != 5*time.Second || s.WriteTimeout != 10*time.Second ||
		s.IdleTimeout != 60*time.Second || s.ShutdownTimeout != 10*time.Second || s.MaxInFlight != 1024 {
		t.Errorf("server defaults: %+v", s)
	}
	is := c.Issuers[0]
	if is.DiscoveryURL != "https://kc.example.com/realms/r/.well-known/openid-configuration" ||
		is.TokenProfile != "keycloak" || !slices.Equal(is.Algorithms, []string{"RS256"}) ||
		is.ClockSkew != 30*time.Second || is.MaxTokenBytes != 16384 {
		t.Errorf("issuer defaults: %+v", is)
	}
	if j := is.JWKS; j.RefreshInterval != 5*time.Minute || j.UnknownKIDMinInterval != 10*time.Second ||
		j.MaxStale != time.Hour || j.Timeout != 5*time.Second || j.MaxBodyBytes != 1<<20 {
		t.Errorf("jwks defaults: %+v", j)
	}
	in := is.Introspection
	if in.Enabled || in.AuthMethod != "client_secret_basic" || in.Timeout != 2*time.Second ||
		in.MaxConcurrent != 64 || in.MaxBodyBytes != 65536 || in.PrivateKeyAlg != "RS256" ||
		in.Cache != (IntrospectionCache{MaxEntries: 100000, MaxTTL: 60 * time.Second, NegativeTTL: 10 * time.Second}) ||
		in.Breaker != (Breaker{FailureThreshold: 5, OpenTimeout: 10 * time.Second}) {
		t.Errorf("introspection defaults: %+v", in)
	}
	if r := c.Revocation; r.Window != time.Hour || r.RestartWindow == nil || !*r.RestartWindow || r.MaxEntries != 100000 {
		t.Errorf("revocation defaults: %+v", r)
	}
	st := c.Strategies["local"]
	if len(c.Strategies) != 1 || st.Type != "local" || st.StandardMaxAge != 30*time.Second ||
		st.OnUnavailable != "fail_closed" || c.DefaultStrategy != "local" {
		t.Errorf("strategy defaults: %+v default %q", c.Strategies, c.DefaultStrategy)
	}
	if c.Log != (Log{Level: "info", Format: "json"}) {
		t.Errorf("log defaults: %+v", c.Log)
	}

	// Idempotent, and explicit values are kept.
	before := c.Issuers[0]
	c.ApplyDefaults()
	if c.Issuers[0].DiscoveryURL != before.DiscoveryURL || c.Server.Addr != s.Addr {
		t.Error("ApplyDefaults is not idempotent")
	}

	c2, err := Load(writeFile(t, withIssuer("clock_skew: 1m\nintrospection:\n  rate_per_second: 2.5\n")+
		"strategies:\n  a: {type: local, standard_max_age: 5s}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Issuers[0].ClockSkew != time.Minute || c2.Issuers[0].Introspection.Burst != 3 ||
		c2.Strategies["a"].StandardMaxAge != 5*time.Second || c2.DefaultStrategy != "a" {
		t.Errorf("explicit values: %+v %+v %q", c2.Issuers[0], c2.Strategies, c2.DefaultStrategy)
	}
}

func TestEnvOverrides(t *testing.T) {
	// The file mentions neither server.admin_addr nor revocation.
	path := writeFile(t, minimal+"server:\n  addr: 127.0.0.1:7000\n")
	t.Setenv("TOKENWARDEN_SERVER_ADMIN_ADDR", "127.0.0.1:9999")
	t.Setenv("TOKENWARDEN_REVOCATION_WINDOW", "2h")
	t.Setenv("TOKENWARDEN_REVOCATION_RESTART_WINDOW", "false")
	t.Setenv("TOKENWARDEN_REVOCATION_ADMIN_SECRET_ENV", "MY_ADMIN_SECRET")
	t.Setenv("TOKENWARDEN_SERVER_TRUSTED_PROXIES", "10.0.0.0/8, ::1/128,")
	t.Setenv("TOKENWARDEN_SERVER_ADDR", "127.0.0.1:7001") // overrides the file
	t.Setenv("TOKENWARDEN_LOG_LEVEL", "DEBUG")
	c, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.AdminAddr != "127.0.0.1:9999" || c.Server.Addr != "127.0.0.1:7001" {
		t.Errorf("server = %+v", c.Server)
	}
	if c.Revocation.Window != 2*time.Hour || *c.Revocation.RestartWindow || c.Revocation.AdminSecret.Env != "MY_ADMIN_SECRET" {
		t.Errorf("revocation = %+v", c.Revocation)
	}
	if !slices.Equal(c.Server.TrustedProxies, []string{"10.0.0.0/8", "::1/128"}) {
		t.Errorf("trusted_proxies = %q", c.Server.TrustedProxies)
	}
	if c.Log.Level != "debug" {
		t.Errorf("log.level = %q", c.Log.Level)
	}

	t.Setenv("TOKENWARDEN_REVOCATION_WINDOW", "soon")
	if _, err := Load(path, nil); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "revocation.window:") {
		t.Errorf("bad env duration: err = %v", err)
	}
}

func TestFlagsOverrideEnv(t *testing.T) {
	path := writeFile(t, minimal+"log:\n  level: warn\n")
	t.Setenv("TOKENWARDEN_SERVER_ADMIN_ADDR", "127.0.0.1:9999")
	t.Setenv("TOKENWARDEN_SERVER_ADDR", "127.0.0.1:7001")

	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	AddFlags(fs)
	fs.Int("server.max_in_flight", 0, "")
	fs.String("unrelated", "x", "")
	if err := fs.Parse([]string{"--admin-addr", "127.0.0.1:9100", "--server.max_in_flight=7", "--unrelated=y"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, fs)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.AdminAddr != "127.0.0.1:9100" {
		t.Errorf("flag did not override env: admin_addr = %q", c.Server.AdminAddr)
	}
	// Unset flags leave env, file and defaults alone.
	if c.Server.Addr != "127.0.0.1:7001" || c.Log.Level != "warn" {
		t.Errorf("unset flag changed a value: addr %q level %q", c.Server.Addr, c.Log.Level)
	}
	if c.Server.MaxInFlight != 7 {
		t.Errorf("key-named flag: max_in_flight = %d", c.Server.MaxInFlight)
	}

	fs2 := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	AddFlags(fs2)
	if err := fs2.Parse([]string{"--log-level=loud"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, fs2); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "log.level:") {
		t.Errorf("bad flag value: err = %v", err)
	}
}

func TestLeafKeysBound(t *testing.T) {
	keys := leafKeys()
	for _, k := range []string{"server.admin_addr", "server.api_keys.file", "revocation.window",
		"revocation.restart_window", "revocation.admin_secret.env", "default_strategy", "log.level", "server.trusted_proxies"} {
		if !slices.Contains(keys, k) {
			t.Errorf("leafKeys lacks %s", k)
		}
	}
	for _, k := range keys {
		if strings.HasPrefix(k, "issuers") || strings.HasPrefix(k, "strategies") || strings.HasPrefix(k, "routes") {
			t.Errorf("leafKeys has unbindable %s", k)
		}
	}
}

func TestSecretRead(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte("s3cret-file\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte(strings.Repeat("k", MaxSecretBytes+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TW_TEST_SECRET", "s3cret-env\n")
	t.Setenv("TW_TEST_EMPTY", "")

	tests := []struct {
		name    string
		s       Secret
		want    string
		wantErr error
		naming  string // the error must name this source
	}{
		{"file", Secret{File: file}, "s3cret-file", nil, ""},
		{"env", Secret{Env: "TW_TEST_SECRET"}, "s3cret-env", nil, ""},
		{"missing file", Secret{File: filepath.Join(dir, "nope")}, "", ErrSecret, filepath.Join(dir, "nope")},
		{"empty file", Secret{File: empty}, "", ErrSecret, empty},
		{"oversized file", Secret{File: big}, "", ErrSecret, big},
		{"unset env", Secret{Env: "TW_TEST_UNSET_VAR"}, "", ErrSecret, "TW_TEST_UNSET_VAR"},
		{"empty env", Secret{Env: "TW_TEST_EMPTY"}, "", ErrSecret, "TW_TEST_EMPTY"},
		{"both", Secret{File: file, Env: "TW_TEST_SECRET"}, "", ErrSecret, "TW_TEST_SECRET"},
		{"unset", Secret{}, "", ErrSecret, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.s.Read()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				msg := err.Error()
				if !strings.Contains(msg, tt.naming) {
					t.Errorf("error does not name %q: %v", tt.naming, msg)
				}
				for _, secret := range []string{"s3cret", "kkkk"} {
					if strings.Contains(msg, secret) {
						t.Errorf("error leaks secret content: %v", msg)
					}
				}
				return
			}
			if string(got) != tt.want {
				t.Errorf("Read = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSecretReadLines(t *testing.T) {
	t.Setenv("TW_TEST_KEYS", "key-one\n\n  key-two  \n")
	got, err := Secret{Env: "TW_TEST_KEYS"}.ReadLines()
	if err != nil || !slices.Equal(got, []string{"key-one", "key-two"}) {
		t.Fatalf("ReadLines = %q, %v", got, err)
	}
	t.Setenv("TW_TEST_KEYS", " \n")
	if _, err := (Secret{Env: "TW_TEST_KEYS"}).ReadLines(); !errors.Is(err, ErrSecret) {
		t.Fatalf("blank: err = %v", err)
	}
}

func TestValidateReportsAll(t *testing.T) {
	c := &Config{Issuers: []Issuer{{Name: "a", Issuer: "http://idp.example.com", Algorithms: []string{"none"}}}}
	c.ApplyDefaults()
	err := c.Validate()
	for _, key := range []string{"issuers[0].issuer:", "issuers[0].audiences:", "issuers[0].algorithms[0]:"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("missing %s in\n%v", key, err)
		}
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key == "" || !errors.Is(fe, ErrInvalid) {
		t.Errorf("not a FieldError: %#v", err)
	}
}
