package idpsim

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	cfg, err := LoadConfig("testdata/realms.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Realms) != 2 || cfg.Realms[0].SSOSessionIdle != 30*time.Minute || !cfg.Realms[0].Clients[1].HeaderTypeRFC9068 {
		t.Fatalf("%+v", cfg)
	}
	if u := cfg.Realms[0].Users[2]; u.Enabled == nil || *u.Enabled {
		t.Errorf("mallory enabled: %v", u.Enabled)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PasswordGrant("dev", "demo", "mallory"); err == nil {
		t.Error("disabled user logged in")
	}
	if tr, err := s.ClientCredentials("edge", "edge-svc"); err != nil {
		t.Error(err)
	} else if h, _ := parts(t, tr.AccessToken); h["alg"] != "ES256" {
		t.Errorf("edge alg %v", h["alg"])
	}

	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		wantErr error
	}{
		{"unknown field", write("unknown.yaml", "realms:\n  - name: dev\n    signing_algo: RS256\n"), ErrConfig},
		{"unknown top-level field", write("top.yaml", "realm:\n  - name: dev\n"), ErrConfig},
		{"bad alg", write("alg.yaml", "realms:\n  - name: dev\n    signing_alg: HS256\n"), ErrConfig},
		{"no realms", write("empty.yaml", "realms: []\n"), ErrConfig},
		{"confidential without secret", write("secret.yaml", "realms:\n  - name: dev\n    clients:\n      - client_id: x\n"), ErrConfig},
		{"duplicate client", write("dup.yaml", "realms:\n  - name: dev\n    clients:\n      - {client_id: x, public: true}\n      - {client_id: x, public: true}\n"), ErrConfig},
		{"missing file", filepath.Join(dir, "nope.yaml"), fs.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := LoadConfig(tc.path); !errors.Is(err, tc.wantErr) {
				t.Errorf("err %v, want %v", err, tc.wantErr)
			}
		})
	}
	if _, err := New(Config{}); !errors.Is(err, ErrConfig) {
		t.Errorf("New(empty): %v", err)
	}
}

func TestDefaultConfig(t *testing.T) {
	s, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	cc := mustTok(t)(s.ClientCredentials("dev", "demo", "payments:write"))
	if cc.Scope != "openid profile email payments:write" || cc.ExpiresIn != 300 {
		t.Errorf("%+v", cc)
	}
	tr := mustTok(t)(s.PasswordGrant("dev", "web", "bob"))
	if _, p := parts(t, tr.AccessToken); p["azp"] != "web" || p["preferred_username"] != "bob" {
		t.Errorf("%v", p)
	}
}

func TestStart(t *testing.T) {
	s, err := Start(DefaultConfig(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := http.Get(s.BaseURL() + "/realms/dev/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var d map[string]any
	if err := json.NewDecoder(res.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d["issuer"] != s.Issuer("dev") || s.Issuer("dev") != s.BaseURL()+"/realms/dev" || !strings.HasPrefix(s.BaseURL(), "http://127.0.0.1:") {
		t.Errorf("issuer %v base %s", d["issuer"], s.BaseURL())
	}
}
