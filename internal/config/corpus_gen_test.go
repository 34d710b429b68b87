package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/internal/fuzzseed"
)

// TestGenCorpus writes the seed corpus of FuzzConfig under testdata/fuzz:
// the shipped example configs and YAML that attacks the loader (alias
// bombs, deep nesting, tags, merge keys, inline secrets, bare durations,
// unknown keys, unsafe issuers and algorithms). Run once, by hand, and
// commit:
//
//	TW_GEN_CORPUS=1 go test -run '^TestGenCorpus$' ./internal/config/
func TestGenCorpus(t *testing.T) {
	if os.Getenv("TW_GEN_CORPUS") != "1" {
		t.Skip("set TW_GEN_CORPUS=1 to regenerate testdata/fuzz")
	}
	files, err := filepath.Glob("../../configs/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fuzzseed.Write(t, "FuzzConfig", "example-"+strings.TrimSuffix(filepath.Base(p), ".yaml"), b)
	}
	bomb := "a: &a [x,x,x,x,x,x,x,x,x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		bomb += fmt.Sprintf("%s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", n, n, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = n
	}
	seeds := map[string]string{
		"minimal":               minimal,
		"introspecting":         introspecting,
		"empty":                 "",
		"empty-map":             "{}",
		"null":                  "~",
		"issuers-scalar":        "issuers: 5\n",
		"issuers-map":           "issuers: {name: kc}\n",
		"alg-none":              withIssuer("algorithms: [none]\n"),
		"alg-hs256":             withIssuer("algorithms: [HS256]\n"),
		"alg-lower":             withIssuer("algorithms: [rs256]\n"),
		"http-issuer":           strings.Replace(minimal, "https://kc.example.com", "http://kc.example.com", 1),
		"http-loopback-zone":    strings.Replace(minimal, "https://kc.example.com", "http://[::1%25lo]:8180", 1),
		"http-mapped-loopback":  strings.Replace(minimal, "https://kc.example.com", "http://[::ffff:127.0.0.1]:8180", 1),
		"http-localhost-dot":    strings.Replace(minimal, "https://kc.example.com", "http://localhost.:8180", 1),
		"issuer-credentials":    strings.Replace(minimal, "https://kc.example.com", "https://user:pass@kc.example.com", 1),
		"issuer-query":          strings.Replace(minimal, "/realms/r\n", "/realms/r?x=1\n", 1),
		"issuer-uppercase-http": strings.Replace(minimal, "https://kc.example.com", "HTTP://kc.example.com", 1),
		"no-audience":           "issuers:\n  - name: kc\n    issuer: https://kc.example.com/realms/r\n",
		"inline-secret":         withIssuer("introspection:\n  enabled: true\n  client_id: tw\n  client_secret: hunter2-very-secret\n"),
		"inline-admin-secret":   minimal + "revocation:\n  admin_secret: s3cr3t-admin-value\n",
		"secret-both":           withIssuer("introspection:\n  enabled: true\n  client_id: tw\n  client_secret: {file: /x, env: Y}\n"),
		"bare-duration":         withIssuer("clock_skew: 30\n"),
		"negative-duration":     withIssuer("clock_skew: -1s\n"),
		"huge-duration":         withIssuer("jwks:\n  max_stale: 9999999h\n"),
		"duration-overflow":     withIssuer("jwks:\n  max_stale: 99999999999999999999h\n"),
		"skew-too-large":        withIssuer("clock_skew: 6m\n"),
		"token-bytes-tiny":      withIssuer("max_token_bytes: 1\n"),
		"token-bytes-huge":      withIssuer("max_token_bytes: 99999999999999999999\n"),
		"token-bytes-float":     withIssuer("max_token_bytes: 1.5e4\n"),
		"unknown-key":           minimal + "servr:\n  addr: x\n",
		"unknown-nested":        withIssuer("jwks:\n  refresh: 5m\n"),
		"duplicate-key":         minimal + "log:\n  level: info\n  level: debug\n",
		"duplicate-issuer-name": minimal + "  - name: kc\n    issuer: https://kc2.example.com/realms/r\n    audiences: [api]\n",
		"anchors-merge":         "base: &b {audiences: [api]}\nissuers:\n  - <<: *b\n    name: kc\n    issuer: https://kc.example.com/realms/r\n",
		"merge-into-root":       "x: &x {issuers: []}\n<<: *x\n",
		"alias-bomb":            bomb,
		"deep-nesting":          strings.Repeat("[", 500) + strings.Repeat("]", 500),
		"deep-map":              strings.Repeat("a:\n ", 100) + "b: 1\n",
		"tag-binary":            "issuers: !!binary aGVsbG8=\n",
		"tag-custom":            "issuers: !python/object:os.system [ls]\n",
		"tag-timestamp":         withIssuer("clock_skew: !!timestamp 2001-12-14\n"),
		"non-string-keys":       "? [a, b]\n: c\n1: x\n",
		"bool-keys":             "issuers:\n  - yes: no\n",
		"multi-document":        minimal + "---\nissuers: []\n",
		"tabs":                  "issuers:\n\t- name: kc\n",
		"non-utf8":              "issuers:\n  - name: \"\xff\xfe\"\n",
		"bom":                   "\xef\xbb\xbf" + minimal,
		"nul":                   minimal + "\x00",
		"json-flow":             `{"issuers":[{"name":"kc","issuer":"https://kc.example.com/realms/r","audiences":["api"]}]}`,
		"routes-shadowed":       minimal + "routes:\n  - {name: a, path: /api/}\n  - {name: b, path: /api/x}\n",
		"routes-bad-glob":       minimal + "routes:\n  - {path: \"/api/**/x\"}\n",
		"route-public-scopes":   minimal + "routes:\n  - {path: /p, public: true, scopes: [a]}\n",
		"strategy-unknown-type": minimal + "strategies:\n  s: {type: magic}\ndefault_strategy: s\n",
		"default-missing":       minimal + "default_strategy: nope\n",
		"strategy-upper-name":   minimal + "strategies:\n  Local: {type: local}\n",
		"sample-rate-nan":       minimal + "strategies:\n  t: {type: tiered, sample_rate: .nan}\ndefault_strategy: t\n",
		"sample-rate-inf":       minimal + "strategies:\n  t: {type: tiered, sample_rate: .inf}\ndefault_strategy: t\n",
		"trusted-proxies-bad":   minimal + "server:\n  trusted_proxies: [not-a-cidr, 10.0.0.0/33]\n",
		"addr-bad":              minimal + "server:\n  addr: \"::::\"\n",
		"headers-inject":        withIssuer("introspection:\n  enabled: true\n  auth_method: none\n  headers: {\"X-A\\r\\nB\": v, Authorization: x}\n"),
		"long-name":             strings.Replace(minimal, "name: kc", "name: "+strings.Repeat("k", 300), 1),
	}
	for name, s := range seeds {
		fuzzseed.Write(t, "FuzzConfig", name, []byte(s))
	}
}
