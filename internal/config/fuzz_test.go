package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// fuzzHang is how long one LoadBytes may take before FuzzConfig calls it a
// hang. Not a performance assertion: a normal load takes well under a
// millisecond; this only turns an unbounded input (alias bombs, deep
// nesting) into a reported failure instead of a stuck fuzz worker.
const fuzzHang = 10 * time.Second

// FuzzConfig feeds arbitrary YAML to LoadBytes. Properties:
//   - no panic, and a load ends within fuzzHang;
//   - every error wraps ErrInvalid and never quotes a value written under a
//     secret key (client_secret, private_key, admin_secret, api_keys);
//   - an accepted config passes Validate again, and independently of
//     Validate: https issuers (or loopback http), no credentials in URLs, an
//     asymmetric algorithm allowlist, an audience or azp restriction per
//     issuer, secrets only by reference, a default strategy that exists.
func FuzzConfig(f *testing.F) {
	// Load applies TOKENWARDEN_* variables: keep the environment out of
	// the property (an empty value counts as unset).
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, EnvPrefix+"_") {
			f.Setenv(k, "")
		}
	}
	files, _ := filepath.Glob("../../configs/*.yaml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{minimal, introspecting, withIssuer("algorithms: [none]\n"), "", "{}", "issuers: 5\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		type result struct {
			c   *Config
			err error
		}
		done := make(chan result, 1)
		go func() {
			c, err := LoadBytes("fuzz.yaml", data, nil)
			done <- result{c, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(fuzzHang):
			t.Fatalf("LoadBytes did not return within %v on %d bytes", fuzzHang, len(data))
		}
		if r.err != nil {
			if r.c != nil {
				t.Fatal("config returned with an error")
			}
			if !errors.Is(r.err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", r.err)
			}
			msg := r.err.Error()
			for _, s := range inlineSecrets(data) {
				if strings.Contains(msg, s) {
					t.Fatalf("error quotes the inline secret %q: %v", s, r.err)
				}
			}
			return
		}
		if err := r.c.Validate(); err != nil {
			t.Fatalf("accepted a config that Validate refuses: %v", err)
		}
		if err := checkAccepted(r.c); err != nil {
			t.Fatalf("accepted an unsafe config: %v\n%s", err, data)
		}
	})
}

// checkAccepted is the seed oracle: the security rules a loaded config must
// satisfy, checked without Validate's code.
func checkAccepted(c *Config) error {
	if len(c.Issuers) == 0 {
		return errors.New("no issuer")
	}
	safeURL := func(what, raw string) error {
		if raw == "" {
			return nil
		}
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("%s %q: %v", what, raw, err)
		}
		if u.User != nil {
			return fmt.Errorf("%s %q carries credentials", what, raw)
		}
		switch u.Scheme {
		case "https":
			return nil
		case "http":
			h := u.Hostname()
			if strings.EqualFold(h, "localhost") {
				return nil
			}
			if a, err := netip.ParseAddr(h); err == nil && a.Unmap().IsLoopback() {
				return nil
			}
		}
		return fmt.Errorf("%s %q is not https (nor loopback http)", what, raw)
	}
	for i, is := range c.Issuers {
		if err := safeURL("issuer", is.Issuer); err != nil || is.Issuer == "" {
			return fmt.Errorf("issuers[%d]: %v (issuer %q)", i, err, is.Issuer)
		}
		for _, u := range []string{is.DiscoveryURL, is.JWKSURL, is.Introspection.Endpoint} {
			if err := safeURL(fmt.Sprintf("issuers[%d] url", i), u); err != nil {
				return err
			}
		}
		if len(is.Audiences) == 0 && len(is.AuthorizedParties) == 0 {
			return fmt.Errorf("issuers[%d]: no audience and no authorized party", i)
		}
		if len(is.Algorithms) == 0 {
			return fmt.Errorf("issuers[%d]: no algorithm after defaults", i)
		}
		for _, a := range is.Algorithms {
			if !slices.Contains(allowedAlgs, a) {
				return fmt.Errorf("issuers[%d]: algorithm %q accepted", i, a)
			}
		}
		if is.ClockSkew < 0 || is.ClockSkew > MaxClockSkew {
			return fmt.Errorf("issuers[%d]: clock_skew %v", i, is.ClockSkew)
		}
		if is.MaxTokenBytes < MinTokenBytes || is.MaxTokenBytes > MaxTokenBytesLimit {
			return fmt.Errorf("issuers[%d]: max_token_bytes %d", i, is.MaxTokenBytes)
		}
	}
	if _, ok := c.Strategies[c.DefaultStrategy]; !ok {
		return fmt.Errorf("default strategy %q is not defined", c.DefaultStrategy)
	}
	return nil
}

// inlineSecrets returns the scalar values written directly under a secret
// key in data (which Load must refuse without echoing), when they are long
// enough and unique enough in data that their presence in an error can only
// come from the secret itself.
func inlineSecrets(data []byte) []string {
	var doc any
	if yaml.Unmarshal(data, &doc) != nil {
		return nil
	}
	var out []string
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 32 {
			return
		}
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				switch k {
				case "client_secret", "private_key", "admin_secret", "api_keys":
					if s, ok := e.(string); ok && len(s) >= 8 && strings.Count(string(data), s) == 1 {
						out = append(out, s)
					}
				}
				walk(e, depth+1)
			}
		case []any:
			for _, e := range x {
				walk(e, depth+1)
			}
		}
	}
	walk(doc, 0)
	return out
}
