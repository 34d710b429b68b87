package validator

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tokenwarden/tokenwarden/strategy"
)

// Route is one forward-auth rule of AuthConfig. Rules are tried in order and
// the first that matches the original request's method, host and path
// decides; when none matches, the default rule applies (the default strategy,
// no required scopes or roles, not sensitive).
//
// Matching is on the canonical path (CanonicalPath) and is case-sensitive and
// byte-exact. Path is a segment-wise pattern:
//
//	/api/payments/   prefix: /api/payments and everything below it
//	/api/payments    the same (a trailing slash makes no difference, so that
//	                 dropping or adding one cannot step around a rule); it
//	                 does not match /api/paymentsx
//	/                everything
//	/api/*/admin     * is exactly one whole segment: /api/v1/admin (and
//	                 /api/v1/admin/, which is the same canonical path) but not
//	                 /api/v1/admin/x
//	/api/*/admin/**  ** (last segment only) is any suffix, including none
//
// A pattern must already be canonical: no "//", ".", "..", '%', ';', '\',
// '?', '#', control characters, or segments ending in '.' or ' '; '*' only as
// a whole segment. Such a pattern could never match a canonical path, which
// would be a rule that silently never applies.
type Route struct {
	// Name labels the rule in logs and in the X-Auth-Rule response header;
	// [a-z0-9_-]+, unique, not "default". Empty: "routes[i]".
	Name string
	// Methods the rule applies to (case-insensitive); empty means any. GET
	// also matches HEAD: servers answer HEAD with the GET handler.
	Methods []string
	// Path is the path pattern (see above). Required.
	Path string
	// Host, when set, restricts the rule to this host: compared
	// case-insensitively with the request's X-Forwarded-Host, without port
	// and trailing dot. No wildcards.
	Host string
	// Scopes and Roles the token must grant; see strategy.Request.
	Scopes []string
	Roles  []string
	// Strategy names the strategy that judges the token (default:
	// AuthConfig.DefaultStrategy).
	Strategy string
	// Sensitive marks matching requests sensitive (strategy.Request).
	Sensitive bool
	// OnUnavailable overrides the strategy's policy when the IdP cannot be
	// asked: "fail_closed" or "local"; "" keeps the strategy's own. The
	// strategy must implement OnUnavailableOverrider.
	OnUnavailable string
	// Public rules need no token: the request is allowed without one and no
	// identity headers are set. A public rule has no scopes, roles, strategy,
	// sensitivity or on_unavailable.
	Public bool
}

// OnUnavailableOverrider is implemented by strategies (tiered) whose
// on_unavailable policy a route can override. WithOnUnavailable returns a
// strategy that behaves like the receiver except for that policy; it is
// called once per route when the auth handler is built. mode is
// "fail_closed" or "local".
type OnUnavailableOverrider interface {
	WithOnUnavailable(mode string) (strategy.Strategy, error)
}

// The on_unavailable values a route may set.
const (
	OnUnavailableFailClosed = "fail_closed"
	OnUnavailableLocal      = "local"
)

// DefaultRuleName is the X-Auth-Rule value when no route matched.
const DefaultRuleName = "default"

// ErrBadPath: the original request's path cannot be matched safely (see
// CanonicalPath). It also matches ErrInvalidRequest; StatusOf maps it to 400
// invalid_request.
var ErrBadPath = errors.New("request path not accepted")

// pathError is a refused path with a caller-safe reason; it matches
// ErrBadPath and ErrInvalidRequest, and reads as a 400 requestError to
// WriteError so the reason reaches error_description.
type pathError struct{ why string }

func (e *pathError) Error() string { return "request path not accepted: " + e.why }
func (e *pathError) Is(target error) bool {
	return target == ErrBadPath || target == ErrInvalidRequest
}
func (e *pathError) As(target any) bool {
	if p, ok := target.(**requestError); ok {
		*p = &requestError{status: http.StatusBadRequest, desc: e.Error()}
		return true
	}
	return false
}

// CanonicalPath returns the path of an origin-form request-target (RFC 9112
// §3.2.1) in the one form route rules are matched on: query and fragment
// removed, percent-escapes decoded exactly once, empty and "." segments
// dropped, ".." segments resolved (never above the root), and no trailing
// slash ("/" stays "/").
//
// Spellings that different servers read differently are refused with an
// error matching ErrBadPath instead of being guessed at, so that no spelling
// can reach a protected resource through a weaker rule:
//
//	not starting with "/" (absolute-form, authority-form, "*")
//	an invalid escape ("%zz", "%4")
//	%2F and %5C (an encoded separator: some upstreams split on it after decoding)
//	%25 (an encoded '%': an upstream that decodes twice would see another path)
//	%3F and %23 (an encoded '?' or '#': one that decodes first would cut the path)
//	'\' (a separator on Windows-hosted upstreams)
//	';' (path parameters, which Tomcat and Spring strip before routing)
//	NUL and other control characters, encoded or not
//	invalid UTF-8 after decoding
//	a segment ending in '.' or ' ' other than "." and ".." (Windows strips them)
//
// Upper and lower case stay distinct: upstreams behind the gateway must be
// case-sensitive, or rules must list every spelling. Safe for concurrent use.
func CanonicalPath(requestTarget string) (string, error) {
	if i := strings.IndexAny(requestTarget, "?#"); i >= 0 {
		requestTarget = requestTarget[:i]
	}
	if requestTarget == "" || requestTarget[0] != '/' {
		return "", &pathError{"not an origin-form path"}
	}
	// Fast path: most paths need neither decoding nor cleaning.
	if clean, ok := alreadyCanonical(requestTarget); ok {
		return clean, nil
	}
	dec := make([]byte, 0, len(requestTarget))
	for i := 0; i < len(requestTarget); i++ {
		c := requestTarget[i]
		if c == '%' {
			if i+2 >= len(requestTarget) || !isHex(requestTarget[i+1]) || !isHex(requestTarget[i+2]) {
				return "", &pathError{"invalid percent-escape"}
			}
			c = unhex(requestTarget[i+1])<<4 | unhex(requestTarget[i+2])
			i += 2
			switch c {
			case '/', '\\':
				return "", &pathError{"encoded path separator"}
			case '%':
				return "", &pathError{"encoded percent sign (double encoding)"}
			case '?', '#':
				// An upstream that decodes before splitting off the query
				// would see a shorter path.
				return "", &pathError{"encoded ? or #"}
			}
		}
		switch {
		case c < 0x20 || c == 0x7f:
			return "", &pathError{"control character"}
		case c == '\\':
			return "", &pathError{"backslash"}
		case c == ';':
			return "", &pathError{"path parameter (;)"}
		}
		dec = append(dec, c)
	}
	if !utf8.Valid(dec) {
		return "", &pathError{"invalid UTF-8"}
	}
	segs := make([]string, 0, 8)
	for seg := range strings.SplitSeq(string(dec[1:]), "/") {
		switch seg {
		case "", ".":
			continue
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
			continue
		}
		if last := seg[len(seg)-1]; last == '.' || last == ' ' {
			return "", &pathError{"segment ending in a dot or space"}
		}
		segs = append(segs, seg)
	}
	return "/" + strings.Join(segs, "/"), nil
}

// alreadyCanonical reports whether p (starting with '/', no query) is
// canonical apart from at most one trailing slash, and returns it without
// that slash. Only unreserved characters and a few sub-delims qualify.
func alreadyCanonical(p string) (string, bool) {
	segStart := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) {
			c := p[i]
			if c != '/' {
				if !canonicalByte(c) {
					return "", false
				}
				continue
			}
		}
		seg := p[segStart:i]
		if i == len(p) && seg == "" {
			break // trailing slash (or the root)
		}
		if seg == "" || seg == "." || seg == ".." || seg[len(seg)-1] == '.' {
			return "", false
		}
		segStart = i + 1
	}
	if len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
		if p[len(p)-1] == '/' {
			return "", false
		}
	}
	return p, true
}

func canonicalByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,=:@", c) >= 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// pathPattern is a compiled Route.Path: literal or "*" segments, and tail
// when the pattern also matches everything below them.
type pathPattern struct {
	segs []string
	tail bool
}

func parsePathPattern(s string) (pathPattern, error) {
	if s == "" || s[0] != '/' {
		return pathPattern{}, errors.New("must start with /")
	}
	if strings.ContainsAny(s, "?#") {
		return pathPattern{}, errors.New("must not contain ? or #")
	}
	body := strings.TrimSuffix(s[1:], "/")
	var p pathPattern
	if body == "" {
		return pathPattern{tail: true}, nil
	}
	glob := strings.Contains(s, "*")
	parts := strings.Split(body, "/")
	for i, seg := range parts {
		switch {
		case seg == "**" && i == len(parts)-1:
			p.tail = true
			continue
		case seg == "*":
		case strings.Contains(seg, "*"):
			return pathPattern{}, errors.New("* and ** must be whole segments, ** only the last")
		default:
			if c, err := CanonicalPath("/" + seg); err != nil || seg == "" || c != "/"+seg {
				return pathPattern{}, fmt.Errorf("segment %q is not canonical (no empty, . or .. segments, %%, ;, \\, control characters, or trailing dot or space)", seg)
			}
		}
		p.segs = append(p.segs, seg)
	}
	if !glob {
		p.tail = true
	}
	return p, nil
}

// match reports whether the canonical path's segments match p.
func (p *pathPattern) match(segs []string) bool {
	if len(segs) < len(p.segs) || (!p.tail && len(segs) != len(p.segs)) {
		return false
	}
	for i, ps := range p.segs {
		if ps != "*" && ps != segs[i] {
			return false
		}
	}
	return true
}

// covers reports whether every path q matches is matched by p.
func (p *pathPattern) covers(q *pathPattern) bool {
	if len(q.segs) < len(p.segs) {
		return false
	}
	if !p.tail && (q.tail || len(q.segs) != len(p.segs)) {
		return false
	}
	for i, ps := range p.segs {
		if ps != "*" && ps != q.segs[i] {
			return false // a literal never covers "*" or another literal
		}
	}
	return true
}

// splitPath splits a canonical path into segments ("/" has none).
func splitPath(p string) []string {
	if p == "/" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

// CanonicalHost returns the host of a Host or X-Forwarded-Host value as
// route rules compare it: lower case, without port, brackets and one
// trailing dot. A list ("a, b"), userinfo or characters outside a DNS name
// or IP literal are refused. "" stays "". Safe for concurrent use.
func CanonicalHost(h string) (string, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return "", nil
	}
	bad := errors.New("malformed host")
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", bad
		}
		rest := h[end+1:]
		if rest != "" && (rest[0] != ':' || !allDigits(rest[1:])) {
			return "", bad
		}
		a, err := netip.ParseAddr(h[1:end])
		if err != nil || !a.Is6() {
			return "", bad
		}
		return a.String(), nil
	}
	if strings.Count(h, ":") > 1 {
		a, err := netip.ParseAddr(h)
		if err != nil {
			return "", bad
		}
		return a.String(), nil
	}
	if i := strings.IndexByte(h, ':'); i >= 0 {
		if !allDigits(h[i+1:]) {
			return "", bad
		}
		h = h[:i]
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "" || len(h) > 253 {
		return "", bad
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return "", bad
		}
	}
	return h, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// compiledRoute is a validated Route ready to match.
type compiledRoute struct {
	label    string          // Name or "routes[i]"
	methods  map[string]bool // nil: any
	host     string
	path     pathPattern
	strategy string // resolved name
	st       strategy.Strategy
	scopes   []string
	roles    []string
	sense    bool
	public   bool
}

func (c *compiledRoute) matches(method, host string, segs []string) bool {
	if c.methods != nil && !c.methods[method] {
		return false
	}
	if c.host != "" && c.host != host {
		return false
	}
	return c.path.match(segs)
}

// shadows reports whether c matches every request d matches.
func (c *compiledRoute) shadows(d *compiledRoute) bool {
	if c.methods != nil {
		if d.methods == nil {
			return false
		}
		for m := range d.methods {
			if !c.methods[m] {
				return false
			}
		}
	}
	if c.host != "" && c.host != d.host {
		return false
	}
	return c.path.covers(&d.path)
}

// compileRoutes validates rs against the strategies and the default
// strategy's name, and rejects a rule an earlier rule shadows.
func compileRoutes(rs []Route, strategies map[string]strategy.Strategy, defaultName string) ([]*compiledRoute, error) {
	out := make([]*compiledRoute, 0, len(rs))
	names := map[string]int{}
	for i, r := range rs {
		key := fmt.Sprintf("routes[%d]", i)
		c := &compiledRoute{label: key, public: r.Public, sense: r.Sensitive}
		if r.Name != "" {
			if !isRouteName(r.Name) || r.Name == DefaultRuleName {
				return nil, fmt.Errorf("validator: %s: name %q must match [a-z0-9_-]+ (at most 64 characters) and not be %q", key, r.Name, DefaultRuleName)
			}
			if j, dup := names[r.Name]; dup {
				return nil, fmt.Errorf("validator: %s: name %q is already used by routes[%d]", key, r.Name, j)
			}
			names[r.Name] = i
			c.label = r.Name
		}
		p, err := parsePathPattern(r.Path)
		if err != nil {
			return nil, fmt.Errorf("validator: %s.path %q: %v", key, r.Path, err)
		}
		c.path = p
		if r.Host != "" {
			h, err := CanonicalHost(r.Host)
			if err != nil || strings.Contains(r.Host, "]:") || strings.Contains(r.Host, ":") && !strings.Contains(h, ":") {
				return nil, fmt.Errorf("validator: %s.host %q: a host name or IP address without port", key, r.Host)
			}
			c.host = h
		}
		if len(r.Methods) > 0 {
			c.methods = map[string]bool{}
			for _, m := range r.Methods {
				m = strings.ToUpper(m)
				if !isToken(m) {
					return nil, fmt.Errorf("validator: %s.methods: %q is not an HTTP method", key, m)
				}
				c.methods[m] = true
				if m == "GET" {
					c.methods["HEAD"] = true
				}
			}
		}
		for _, s := range r.Scopes {
			if !validScopeToken(s) {
				return nil, fmt.Errorf("validator: %s.scopes: %q is not a scope-token (RFC 6749 §3.3)", key, s)
			}
		}
		for _, role := range r.Roles {
			if role == "" {
				return nil, fmt.Errorf("validator: %s.roles: empty role", key)
			}
		}
		c.scopes, c.roles = slices.Clone(r.Scopes), slices.Clone(r.Roles)
		switch r.OnUnavailable {
		case "", OnUnavailableFailClosed, OnUnavailableLocal:
		default:
			return nil, fmt.Errorf("validator: %s.on_unavailable: %q is not one of %s, %s", key, r.OnUnavailable, OnUnavailableFailClosed, OnUnavailableLocal)
		}
		if r.Public {
			if len(r.Scopes)+len(r.Roles) > 0 || r.Strategy != "" || r.Sensitive || r.OnUnavailable != "" {
				return nil, fmt.Errorf("validator: %s: a public rule checks no token, so it takes no scopes, roles, strategy, sensitive or on_unavailable", key)
			}
		} else {
			c.strategy = r.Strategy
			if c.strategy == "" {
				c.strategy = defaultName
			}
			st, ok := strategies[c.strategy]
			if !ok {
				return nil, fmt.Errorf("validator: %s.strategy: %q is not one of the strategies %v", key, c.strategy, sortedKeys(strategies))
			}
			if r.OnUnavailable != "" {
				o, ok := st.(OnUnavailableOverrider)
				if !ok {
					return nil, fmt.Errorf("validator: %s.on_unavailable: strategy %q cannot override its on_unavailable policy", key, c.strategy)
				}
				if st, err = o.WithOnUnavailable(r.OnUnavailable); err != nil || st == nil {
					return nil, fmt.Errorf("validator: %s.on_unavailable: strategy %q: %v", key, c.strategy, err)
				}
			}
			c.st = st
		}
		for j, earlier := range out {
			if earlier.shadows(c) {
				return nil, fmt.Errorf("validator: %s is shadowed by %s: it matches every method, host and path of the later rule, which would never apply",
					describeRoute(i, r.Name), describeRoute(j, rs[j].Name))
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// describeRoute renders routes[i] ("name") as config errors do.
func describeRoute(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("routes[%d]", i)
	}
	return fmt.Sprintf("routes[%d] (%q)", i, name)
}

func isRouteName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// isToken reports whether s is an RFC 9110 §5.6.2 token (method, header name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
