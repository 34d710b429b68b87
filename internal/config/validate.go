package config

import (
	"fmt"
	"maps"
	"math"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits enforced by Validate.
const (
	MaxClockSkew        = 5 * time.Minute
	MinTokenBytes       = 512
	MaxTokenBytesLimit  = 1 << 20
	maxNameLen          = 64
	allowedAlgsForUsers = "RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA"
)

// allowedAlgs are the asymmetric JWS algorithms tokenwarden verifies. HMAC
// (HS*) is excluded on purpose: the keys come from a public JWKS, and
// accepting HS* with them is the RS->HS key-confusion attack (RFC 8725
// §2.1, §3.1). "none" is never accepted.
var allowedAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

var nameRE = regexp.MustCompile(`^[a-z0-9_-]+$`)

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks c after [Config.ApplyDefaults] and returns every problem
// found, joined; each is a *[FieldError] whose message starts with the key
// path (issuers[0].audiences: ...) and wraps [ErrInvalid]. It does no I/O:
// files named by secrets and tls.ca_file are not opened here.
//
// Security rules enforced: https for every issuer URL except loopback hosts
// (127.0.0.0/8, ::1, localhost), no credentials in URLs, an asymmetric
// algorithm allowlist (never none or HS*), an audience or azp restriction
// for every issuer, secrets only by reference (file or environment variable),
// and bounded sizes and times.
//
// Validate is safe for concurrent use if c is not modified meanwhile.
func (c *Config) Validate() error {
	var p problems
	c.Server.validate(&p)

	if len(c.Issuers) == 0 {
		p.add("issuers", "at least one issuer is required")
	}
	seen := map[string]int{}
	introspecting := false
	for i := range c.Issuers {
		is := &c.Issuers[i]
		key := fmt.Sprintf("issuers[%d]", i)
		is.validate(&p, key)
		if is.Name != "" {
			if j, dup := seen[is.Name]; dup {
				p.add(key+".name", "%q is already used by issuers[%d]; names must be unique", is.Name, j)
			} else {
				seen[is.Name] = i
			}
		}
		if is.Introspection.Enabled {
			introspecting = true
		}
	}

	c.Revocation.validate(&p)

	if len(c.Strategies) == 0 {
		p.add("strategies", "at least one strategy is required")
	}
	for _, name := range slices.Sorted(maps.Keys(c.Strategies)) {
		c.Strategies[name].validate(&p, "strategies."+name, name, introspecting)
	}
	switch {
	case c.DefaultStrategy == "":
		p.add("default_strategy", "required when more than one strategy is configured (have: %s)", strategyList(c.Strategies))
	case !hasStrategy(c.Strategies, c.DefaultStrategy):
		p.add("default_strategy", "%q is not a configured strategy (have: %s)", c.DefaultStrategy, strategyList(c.Strategies))
	}

	for i, r := range c.Routes {
		r.validate(&p, fmt.Sprintf("routes[%d]", i), c.Strategies, c.DefaultStrategy)
	}
	checkRouteOrder(&p, c.Routes)

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		p.add("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		p.add("log.format", "%q is not one of json, text", c.Log.Format)
	}
	return p.err()
}

func (s *Server) validate(p *problems) {
	checkHostPort(p, "server.addr", s.Addr)
	checkHostPort(p, "server.admin_addr", s.AdminAddr)
	if s.Addr == s.AdminAddr && !strings.HasSuffix(s.Addr, ":0") {
		p.add("server.admin_addr", "must differ from server.addr: the admin API must not share the public listener")
	}
	positive(p, "server.max_body_bytes", s.MaxBodyBytes)
	positive(p, "server.max_header_bytes", s.MaxHeaderBytes)
	positive(p, "server.read_timeout", s.ReadTimeout)
	positive(p, "server.write_timeout", s.WriteTimeout)
	positive(p, "server.idle_timeout", s.IdleTimeout)
	positive(p, "server.shutdown_timeout", s.ShutdownTimeout)
	positive(p, "server.max_in_flight", s.MaxInFlight)
	positive(p, "server.verified_cache_entries", s.VerifiedCacheEntries)
	nonEmptyEntries(p, "server.expose_claims", s.ExposeClaims)
	if !isToken(s.AuthHeaderPrefix) {
		p.add("server.auth_header_prefix", "%q is not a header-name prefix such as X-Auth-", s.AuthHeaderPrefix)
	}
	checkSecret(p, "server.api_keys", s.APIKeys)
	for i, cidr := range s.TrustedProxies {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			p.add(fmt.Sprintf("server.trusted_proxies[%d]", i), "%q is not a CIDR (write a single address as 10.0.0.1/32)", cidr)
		}
	}
}

func (is *Issuer) validate(p *problems, key string) {
	switch {
	case is.Name == "":
		p.add(key+".name", "required (a short label for logs and metrics, e.g. keycloak)")
	case len(is.Name) > maxNameLen || !nameRE.MatchString(is.Name):
		p.add(key+".name", "%q must match [a-z0-9_-]+ (at most %d characters)", is.Name, maxNameLen)
	}
	if is.Issuer == "" {
		p.add(key+".issuer", "required: the exact \"iss\" value of the tokens")
	} else {
		checkURL(p, key+".issuer", is.Issuer, true)
	}
	if is.DiscoveryURL != "" {
		checkURL(p, key+".discovery_url", is.DiscoveryURL, false)
	}
	if is.JWKSURL != "" {
		checkURL(p, key+".jwks_url", is.JWKSURL, false)
	}
	if len(is.Audiences) == 0 && len(is.AuthorizedParties) == 0 {
		p.add(key+".audiences", "empty; set audiences (accepted aud values) or authorized_parties (accepted azp values), "+
			"otherwise any token of this issuer, meant for any client, would be accepted")
	}
	nonEmptyEntries(p, key+".audiences", is.Audiences)
	nonEmptyEntries(p, key+".authorized_parties", is.AuthorizedParties)
	switch is.TokenProfile {
	case ProfileKeycloak, ProfileRFC9068, ProfileGeneric:
	default:
		p.add(key+".token_profile", "%q is not one of keycloak, rfc9068, generic", is.TokenProfile)
	}
	if len(is.Algorithms) == 0 {
		p.add(key+".algorithms", "at least one algorithm is required")
	}
	for i, alg := range is.Algorithms {
		checkAlg(p, fmt.Sprintf("%s.algorithms[%d]", key, i), alg)
	}
	if is.ClockSkew < 0 || is.ClockSkew > MaxClockSkew {
		p.add(key+".clock_skew", "%s is outside 0..%s", is.ClockSkew, MaxClockSkew)
	}
	if is.MaxTokenBytes < MinTokenBytes || is.MaxTokenBytes > MaxTokenBytesLimit {
		p.add(key+".max_token_bytes", "%d is outside %d..%d", is.MaxTokenBytes, MinTokenBytes, MaxTokenBytesLimit)
	}

	j := is.JWKS
	positive(p, key+".jwks.refresh_interval", j.RefreshInterval)
	positive(p, key+".jwks.unknown_kid_min_interval", j.UnknownKIDMinInterval)
	positive(p, key+".jwks.max_stale", j.MaxStale)
	positive(p, key+".jwks.timeout", j.Timeout)
	positive(p, key+".jwks.max_body_bytes", j.MaxBodyBytes)
	if j.MaxStale < j.RefreshInterval {
		p.add(key+".jwks.max_stale", "%s is shorter than jwks.refresh_interval %s; keys would expire between refreshes", j.MaxStale, j.RefreshInterval)
	}

	is.Introspection.validate(p, key+".introspection")
}

func (in *Introspection) validate(p *problems, key string) {
	if in.Endpoint != "" {
		checkURL(p, key+".endpoint", in.Endpoint, false)
	}
	switch in.AuthMethod {
	case AuthClientSecretBasic, AuthClientSecretPost, AuthPrivateKeyJWT, AuthNone:
	default:
		p.add(key+".auth_method", "%q is not one of client_secret_basic, client_secret_post, private_key_jwt, none", in.AuthMethod)
	}
	checkSecret(p, key+".client_secret", in.ClientSecret)
	checkSecret(p, key+".private_key", in.PrivateKey)
	if in.Enabled {
		if in.AuthMethod != AuthNone && in.ClientID == "" {
			p.add(key+".client_id", "required for auth_method %s", in.AuthMethod)
		}
		switch in.AuthMethod {
		case AuthClientSecretBasic, AuthClientSecretPost:
			if !in.ClientSecret.IsSet() {
				p.add(key+".client_secret", "required for auth_method %s: {file: PATH} or {env: VARIABLE}", in.AuthMethod)
			}
		case AuthPrivateKeyJWT:
			if !in.PrivateKey.IsSet() {
				p.add(key+".private_key", "required for auth_method private_key_jwt: {file: PATH} or {env: VARIABLE}")
			}
		}
	} else if in.IntrospectOpaque {
		p.add(key+".introspect_opaque", "requires introspection.enabled: true")
	}
	if in.ClientSecret.IsSet() && in.AuthMethod != AuthClientSecretBasic && in.AuthMethod != AuthClientSecretPost {
		p.add(key+".client_secret", "set, but auth_method %s does not use it", in.AuthMethod)
	}
	if in.PrivateKey.IsSet() && in.AuthMethod != AuthPrivateKeyJWT {
		p.add(key+".private_key", "set, but auth_method %s does not use it", in.AuthMethod)
	}
	checkAlg(p, key+".private_key_alg", in.PrivateKeyAlg)
	for _, name := range slices.Sorted(maps.Keys(in.Headers)) {
		hk := key + ".headers." + name
		if !isToken(name) {
			p.add(hk, "not a valid HTTP header name")
		}
		if strings.ContainsAny(in.Headers[name], "\r\n\x00") {
			p.add(hk, "the value contains a control character")
		}
	}
	positive(p, key+".timeout", in.Timeout)
	positive(p, key+".max_concurrent", in.MaxConcurrent)
	if in.RatePerSecond < 0 || math.IsNaN(in.RatePerSecond) || math.IsInf(in.RatePerSecond, 0) {
		p.add(key+".rate_per_second", "must be a finite number >= 0 (0: no limit)")
	}
	if in.Burst < 0 {
		p.add(key+".burst", "must be >= 0")
	}
	positive(p, key+".max_body_bytes", in.MaxBodyBytes)
	positive(p, key+".cache.max_entries", in.Cache.MaxEntries)
	positive(p, key+".cache.max_ttl", in.Cache.MaxTTL)
	positive(p, key+".cache.negative_ttl", in.Cache.NegativeTTL)
	positive(p, key+".breaker.failure_threshold", in.Breaker.FailureThreshold)
	positive(p, key+".breaker.open_timeout", in.Breaker.OpenTimeout)
}

func (r *Revocation) validate(p *problems) {
	positive(p, "revocation.window", r.Window)
	positive(p, "revocation.max_entries", r.MaxEntries)
	checkSecret(p, "revocation.admin_secret", r.AdminSecret)
	nonEmptyEntries(p, "revocation.logout_audiences", r.LogoutAudiences)
}

func (s Strategy) validate(p *problems, key, name string, introspecting bool) {
	if len(name) > maxNameLen || !nameRE.MatchString(name) {
		p.add(key, "strategy name %q must match [a-z0-9_-]+ (at most %d characters)", name, maxNameLen)
	}
	switch s.Type {
	case StrategyLocal:
	case StrategyIntrospection, StrategyTiered:
		if !introspecting {
			p.add(key+".type", "%s needs at least one issuer with introspection.enabled: true", s.Type)
		}
	case "":
		p.add(key+".type", "required: local, introspection or tiered")
	default:
		p.add(key+".type", "%q is not one of local, introspection, tiered", s.Type)
	}
	nonEmptyEntries(p, key+".sensitive_scopes", s.SensitiveScopes)
	if s.MaxLocalAge < 0 {
		p.add(key+".max_local_age", "must be >= 0 (0: off)")
	}
	if s.SensitiveMaxAge < 0 {
		p.add(key+".sensitive_max_age", "must be >= 0")
	}
	positive(p, key+".standard_max_age", s.StandardMaxAge)
	if !(s.SampleRate >= 0 && s.SampleRate <= 1) {
		p.add(key+".sample_rate", "must be in [0, 1]")
	}
	switch s.OnUnavailable {
	case OnUnavailableFailClosed, OnUnavailableLocal:
	default:
		p.add(key+".on_unavailable", "%q is not one of fail_closed, local", s.OnUnavailable)
	}
}

func (r Route) validate(p *problems, key string, strategies map[string]Strategy, defaultStrategy string) {
	if r.Name != "" && (len(r.Name) > maxNameLen || !nameRE.MatchString(r.Name) || r.Name == "default") {
		p.add(key+".name", "%q must match [a-z0-9_-]+ (at most %d characters) and not be \"default\" (the rule applied when none matches)", r.Name, maxNameLen)
	}
	if _, err := parseRoutePath(r.Path); err != nil {
		p.add(key+".path", "%v", err)
	}
	if r.Host != "" {
		if _, err := routeHost(r.Host); err != nil {
			p.add(key+".host", "%q: %v", r.Host, err)
		}
	}
	if r.Strategy != "" && !hasStrategy(strategies, r.Strategy) {
		p.add(key+".strategy", "%q is not a configured strategy (have: %s)", r.Strategy, strategyList(strategies))
	}
	for i, m := range r.Methods {
		if !isToken(m) {
			p.add(fmt.Sprintf("%s.methods[%d]", key, i), "%q is not an HTTP method token", m)
		}
	}
	nonEmptyEntries(p, key+".scopes", r.Scopes)
	for i, sc := range r.Scopes {
		if strings.TrimSpace(sc) != "" && !isScopeToken(sc) {
			p.add(fmt.Sprintf("%s.scopes[%d]", key, i), "%q is not a scope-token (RFC 6749 §3.3: no spaces, quotes or backslashes)", sc)
		}
	}
	nonEmptyEntries(p, key+".roles", r.Roles)
	switch r.OnUnavailable {
	case "":
	case OnUnavailableFailClosed, OnUnavailableLocal:
		name := r.Strategy
		if name == "" {
			name = defaultStrategy
		}
		if st, ok := strategies[name]; ok && st.Type != StrategyTiered {
			p.add(key+".on_unavailable", "only a tiered strategy has an on_unavailable policy; strategy %q is %s", name, st.Type)
		}
	default:
		p.add(key+".on_unavailable", "%q is not one of fail_closed, local", r.OnUnavailable)
	}
	if r.Public && (len(r.Scopes)+len(r.Roles) > 0 || r.Strategy != "" || r.Sensitive || r.OnUnavailable != "") {
		p.add(key+".public", "a public rule checks no token: remove scopes, roles, strategy, sensitive and on_unavailable")
	}
}

// checkRouteOrder reports duplicate route names and every rule that an
// earlier rule shadows: first match wins, so a rule whose methods, host and
// path are all covered by an earlier one never applies. The usual cause is a
// broad rule ("/api/", any method) above a narrow one ("/api/payments/",
// POST) that was meant to be stricter. The matching semantics are those of
// validator.Route (kept in step by a test in package validator).
func checkRouteOrder(p *problems, routes []Route) {
	type compiled struct {
		methods map[string]bool // nil: any
		host    string
		path    routePath
	}
	names := map[string]int{}
	var done []compiled
	var idx []int
	for i, r := range routes {
		key := fmt.Sprintf("routes[%d]", i)
		if r.Name != "" {
			if j, dup := names[r.Name]; dup {
				p.add(key+".name", "%q is already used by routes[%d]; names must be unique", r.Name, j)
			} else {
				names[r.Name] = i
			}
		}
		path, err := parseRoutePath(r.Path)
		if err != nil {
			continue // reported by Route.validate
		}
		host, err := routeHost(r.Host)
		if err != nil {
			continue
		}
		c := compiled{host: host, path: path}
		if len(r.Methods) > 0 {
			c.methods = map[string]bool{}
			for _, m := range r.Methods {
				m = strings.ToUpper(m)
				c.methods[m] = true
				if m == "GET" {
					c.methods["HEAD"] = true // servers answer HEAD with GET's handler
				}
			}
		}
		for k, e := range done {
			if methodsCover(e.methods, c.methods) && (e.host == "" || e.host == c.host) && e.path.covers(c.path) {
				j := idx[k]
				p.add(key, "%s is shadowed by %s: every method, host and path it matches is matched by the earlier rule first, "+
					"so it never applies; move it above routes[%d] or narrow routes[%d]",
					describeRoute(i, r.Name), describeRoute(j, routes[j].Name), j, j)
				break
			}
		}
		done = append(done, c)
		idx = append(idx, i)
	}
}

func methodsCover(a, b map[string]bool) bool {
	if a == nil {
		return true
	}
	if b == nil {
		return false
	}
	for m := range b {
		if !a[m] {
			return false
		}
	}
	return true
}

func describeRoute(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("routes[%d]", i)
	}
	return fmt.Sprintf("routes[%d] (%q)", i, name)
}

// routePath is a parsed route path: literal or "*" segments, and tail when
// everything below them matches too.
type routePath struct {
	segs []string
	tail bool
}

// covers reports whether every path q matches is matched by rp.
func (rp routePath) covers(q routePath) bool {
	if len(q.segs) < len(rp.segs) || (!rp.tail && (q.tail || len(q.segs) != len(rp.segs))) {
		return false
	}
	for i, s := range rp.segs {
		if s != "*" && s != q.segs[i] {
			return false
		}
	}
	return true
}

// parseRoutePath checks a route path. Requests are matched on their
// decoded, cleaned path, so a pattern that is not itself clean (//, ., ..,
// escapes, ;, \, a segment ending in a dot or space) could never match: a
// rule that silently never applies.
func parseRoutePath(s string) (routePath, error) {
	switch {
	case s == "":
		return routePath{}, fmt.Errorf("required (a prefix such as /api/ or a glob such as /api/*/admin)")
	case !strings.HasPrefix(s, "/"):
		return routePath{}, fmt.Errorf("%q must start with /", s)
	}
	body := strings.TrimSuffix(s[1:], "/")
	if body == "" {
		return routePath{tail: true}, nil
	}
	glob := strings.Contains(s, "*")
	parts := strings.Split(body, "/")
	var rp routePath
	for i, seg := range parts {
		switch {
		case seg == "**" && i == len(parts)-1:
			rp.tail = true
			continue
		case seg == "*":
		case strings.Contains(seg, "*"):
			return routePath{}, fmt.Errorf("%q: * and ** must be whole segments, and ** only the last", s)
		case seg == "" || seg == "." || seg == "..":
			return routePath{}, fmt.Errorf("%q: empty, . and .. segments never match a cleaned request path", s)
		case strings.ContainsAny(seg, "%;\\?#") || strings.ContainsFunc(seg, unicode.IsControl) || !utf8.ValidString(seg):
			return routePath{}, fmt.Errorf("%q: write the path decoded, without %%, ;, \\, ?, # or control characters", s)
		case strings.HasSuffix(seg, ".") || strings.HasSuffix(seg, " "):
			return routePath{}, fmt.Errorf("%q: a segment ending in a dot or space is refused in requests, so it never matches", s)
		}
		rp.segs = append(rp.segs, seg)
	}
	if !glob {
		rp.tail = true
	}
	return rp, nil
}

// routeHost normalises a route host: lower case, no trailing dot; no port,
// scheme, path or wildcard.
func routeHost(h string) (string, error) {
	if h == "" {
		return "", nil
	}
	if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return a.String(), nil
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "" || len(h) > 253 || strings.Trim(h, "abcdefghijklmnopqrstuvwxyz0123456789-._") != "" {
		return "", fmt.Errorf("must be a host name or IP address, without scheme, port or wildcard")
	}
	return h, nil
}

// isScopeToken: 1*NQCHAR, NQCHAR = %x21 / %x23-5B / %x5D-7E (RFC 6749 §3.3).
func isScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func checkAlg(p *problems, key, alg string) {
	switch {
	case slices.Contains(allowedAlgs, alg):
	case strings.EqualFold(alg, "none"):
		p.add(key, "\"none\" (unsigned tokens) is never accepted (RFC 8725 §3.1)")
	case strings.HasPrefix(strings.ToUpper(alg), "HS"):
		p.add(key, "%q is rejected: HMAC algorithms with keys from a public JWKS allow key confusion (RFC 8725 §2.1); use one of %s", alg, allowedAlgsForUsers)
	default:
		p.add(key, "%q is not one of %s", alg, allowedAlgsForUsers)
	}
}

// checkURL requires an absolute http(s) URL without credentials or fragment,
// and https unless the host is loopback. The URL is not echoed: it might
// carry credentials.
func checkURL(p *problems, key, raw string, isIssuer bool) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		p.add(key, "must be an absolute URL such as https://idp.example.com/realms/myrealm")
		return
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		p.add(key, "scheme %q is not https", u.Scheme)
		return
	}
	if u.User != nil {
		p.add(key, "must not contain credentials; use a secret")
	}
	if u.Fragment != "" || (isIssuer && u.RawQuery != "") {
		p.add(key, "must not contain a query or fragment")
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		p.add(key, "https is required (http is allowed only for loopback hosts: 127.0.0.0/8, ::1, localhost)")
	}
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

func checkHostPort(p *problems, key, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.add(key, "%q is not host:port (e.g. 127.0.0.1:8080)", addr)
		return
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		p.add(key, "%q: port must be a number 0..65535", addr)
	}
}

// checkSecret validates a secret reference; it never opens the file.
func checkSecret(p *problems, key string, s Secret) {
	switch {
	case s.File != "" && s.Env != "":
		p.add(key, "set either file or env, not both")
	case s.Env != "" && !envNameRE.MatchString(s.Env):
		p.add(key+".env", "%q is not an environment variable name", s.Env)
	}
}

func positive[T int | int64 | time.Duration](p *problems, key string, v T) {
	if v <= 0 {
		p.add(key, "must be positive")
	}
}

func nonEmptyEntries(p *problems, key string, l []string) {
	for i, s := range l {
		if strings.TrimSpace(s) == "" {
			p.add(fmt.Sprintf("%s[%d]", key, i), "empty value")
		}
	}
}

// isToken reports whether s is an RFC 9110 §5.6.2 token (method, header name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func hasStrategy(m map[string]Strategy, name string) bool {
	_, ok := m[name]
	return ok
}

func strategyList(m map[string]Strategy) string {
	if len(m) == 0 {
		return "none"
	}
	return strings.Join(slices.Sorted(maps.Keys(m)), ", ")
}
