package validator

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/internal/tokenhash"
	"github.com/tokenwarden/tokenwarden/strategy"
)

// DefaultAuthHeaderPrefix prefixes the identity headers of a forward-auth 200
// when AuthConfig.HeaderPrefix is empty.
const DefaultAuthHeaderPrefix = "X-Auth-"

// DecidedByPublic is the X-Auth-Decided-By value of a public rule's 200.
const DecidedByPublic = "public"

// The request headers through which a gateway describes the original
// request. They are read only from a peer within AuthConfig.TrustedProxies.
const (
	HeaderOriginalMethod  = "X-Original-Method"  // nginx auth_request (set in the gateway config)
	HeaderOriginalURI     = "X-Original-Uri"     // nginx auth_request: $request_uri
	HeaderForwardedMethod = "X-Forwarded-Method" // Traefik ForwardAuth, Caddy forward_auth
	HeaderForwardedURI    = "X-Forwarded-Uri"    // Traefik ForwardAuth, Caddy forward_auth
	HeaderForwardedHost   = "X-Forwarded-Host"   // all of them
	HeaderOriginalURL     = "X-Original-Url"     // ingress-nginx auth-url: $scheme://$http_host$request_uri
)

// AuthConfig configures the forward-auth handler (NewAuthHandler). Like
// Config it is built by the caller; validator reads no files.
type AuthConfig struct {
	// Routes are the rules, first match wins (see Route). None: every
	// request gets the default rule.
	Routes []Route
	// DefaultStrategy names the strategy of the default rule and of routes
	// that name none. May be empty when there is exactly one strategy.
	DefaultStrategy string
	// TrustedProxies are the peers (by the connection's remote address,
	// never by X-Forwarded-For) whose X-Original-*/X-Forwarded-* headers
	// are believed. From any other peer they are ignored and the default
	// rule applies, so that a caller cannot pick a weaker rule by naming
	// another path.
	TrustedProxies []netip.Prefix
	// HeaderPrefix prefixes the identity headers of a 200 (default
	// "X-Auth-"): Subject, Client-Id, Scope, Roles, Decided-By, Rule.
	HeaderPrefix string
	// Realm of WWW-Authenticate challenges (default "tokenwarden");
	// printable ASCII without '"' or '\'.
	Realm string
}

// authHandler serves forward-auth. Immutable once built.
type authHandler struct {
	routes     []*compiledRoute
	def        *compiledRoute
	trusted    []netip.Prefix
	hostRoutes bool
	realm      string

	hSubject, hClientID, hScope, hRoles, hDecidedBy, hRule string

	log   *slog.Logger
	clock clock.Clock
}

// NewAuthHandler builds the forward-auth handler that tokenwarden serves at
// /v1/auth for gateways: nginx auth_request, Traefik ForwardAuth, Caddy
// forward_auth, ingress-nginx auth-url. It answers any method, never reads
// the body, and decides by the route rules on the original request the
// gateway describes:
//
//	nginx          X-Original-Method, X-Original-URI (+ X-Forwarded-Host)
//	ingress-nginx  X-Original-Method, X-Original-URL (absolute: host and URI)
//	Traefik, Caddy X-Forwarded-Method, X-Forwarded-Uri, X-Forwarded-Host
//
// Those headers are believed only from TrustedProxies. Several conventions
// may be present but must then agree: nginx passes a client's own
// X-Forwarded-Uri through to the auth request, Traefik a client's
// X-Original-URI, so a disagreement is a forgery and is refused (400). So is
// a header given twice, a method without a URI or the reverse, a malformed
// host, and any path CanonicalPath refuses. A trusted request with neither
// method nor URI gets the default rule. When a route names a host, a
// trusted request without X-Forwarded-Host is refused rather than matched
// against host-less rules only.
//
// A 200 carries the identity headers (prefix configurable):
//
//	X-Auth-Subject     sub, percent-encoded (every byte but RFC 3986 unreserved)
//	X-Auth-Client-Id   azp/client_id, encoded the same way
//	X-Auth-Scope       the granted scopes, space-separated (invalid scope-tokens left out)
//	X-Auth-Roles       EncodeRoles: realm roles "name", client roles "client:role"
//	X-Auth-Decided-By  local | introspection | public
//	X-Auth-Rule        the route's name, routes[i], or "default"
//
// Every header is always present on a 200 (empty when there is no value), so
// a gateway copying them replaces whatever the client sent under those
// names. Refusals use WriteError: 401 with a Bearer challenge (error=
// "invalid_token" only when a token was presented), 403 insufficient_scope
// with scope="…" (the rule's scopes), 503 with Retry-After, 400 for the
// malformed requests above.
//
// opts are the Service options; WithLogger and WithClock apply. Rejections
// are logged at info with reason, rule, strategy and the token's
// fingerprint; acceptances at debug. The handler is safe for concurrent use.
func NewAuthHandler(strategies map[string]strategy.Strategy, cfg AuthConfig, opts ...Option) (http.Handler, error) {
	// The Service options only set collaborators; apply them to a scratch
	// Service to read the logger and clock back.
	s := &Service{log: slog.New(slog.DiscardHandler), clock: clock.Real}
	for _, o := range opts {
		o(s)
	}
	h := &authHandler{log: s.log, clock: s.clock, realm: cfg.Realm}
	if len(strategies) == 0 {
		return nil, errors.New("validator: no strategies")
	}
	for name, st := range strategies {
		if name == "" || st == nil {
			return nil, fmt.Errorf("validator: strategy %q is empty or nil", name)
		}
	}
	defName := cfg.DefaultStrategy
	if defName == "" && len(strategies) == 1 {
		for name := range strategies {
			defName = name
		}
	}
	if _, ok := strategies[defName]; !ok {
		return nil, fmt.Errorf("validator: default strategy %q is not one of the strategies %v", defName, sortedKeys(strategies))
	}
	h.def = &compiledRoute{label: DefaultRuleName, strategy: defName, st: strategies[defName]}
	routes, err := compileRoutes(cfg.Routes, strategies, defName)
	if err != nil {
		return nil, err
	}
	h.routes = routes
	for _, r := range routes {
		if r.host != "" {
			h.hostRoutes = true
		}
	}
	for _, p := range cfg.TrustedProxies {
		if !p.IsValid() {
			return nil, errors.New("validator: invalid trusted proxy prefix")
		}
		h.trusted = append(h.trusted, p.Masked())
	}
	if h.realm == "" {
		h.realm = DefaultRealm
	}
	for i := 0; i < len(h.realm); i++ {
		if c := h.realm[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return nil, fmt.Errorf("validator: realm %q must be printable ASCII without quotes or backslashes", h.realm)
		}
	}
	prefix := cfg.HeaderPrefix
	if prefix == "" {
		prefix = DefaultAuthHeaderPrefix
	}
	if !isToken(prefix) {
		return nil, fmt.Errorf("validator: header prefix %q is not a header-name token", prefix)
	}
	name := func(s string) string { return http.CanonicalHeaderKey(prefix + s) }
	h.hSubject, h.hClientID, h.hScope = name("Subject"), name("Client-Id"), name("Scope")
	h.hRoles, h.hDecidedBy, h.hRule = name("Roles"), name("Decided-By"), name("Rule")
	if len(h.routes) > 0 && len(h.trusted) == 0 {
		h.log.Warn("forward-auth routes are configured but no trusted proxies: every request gets the default rule")
	}
	return h, nil
}

// origin is the original request as the gateway described it.
type origin struct {
	method, host, path string
	forwarded          bool // described by a trusted peer
}

func (h *authHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.clock.Now()
	w.Header().Set("Cache-Control", "no-store")
	o, err := h.origin(r)
	if err != nil {
		h.reject(w, r, err, nil, o, "", start)
		return
	}
	rt := h.def
	if o.forwarded {
		segs := splitPath(o.path)
		for _, c := range h.routes {
			if c.matches(o.method, o.host, segs) {
				rt = c
				break
			}
		}
	}
	if rt.public {
		h.log.LogAttrs(r.Context(), slog.LevelDebug, "forward-auth allowed (public rule)",
			slog.String("rule", rt.label), slog.String("method", o.method), slog.String("path", logPath(o.path)))
		h.writeAllowed(w, &strategy.Result{}, DecidedByPublic, rt.label)
		return
	}
	tok, err := BearerToken(r.Header)
	if err != nil {
		h.reject(w, r, err, rt, o, "", start)
		return
	}
	req := strategy.Request{Token: tok, Scopes: slices.Clip(rt.scopes), Roles: slices.Clip(rt.roles), Sensitive: rt.sense}
	res, err := rt.st.Validate(r.Context(), req)
	if err == nil && res == nil {
		err = errors.New("strategy returned neither result nor error")
	}
	if err != nil {
		h.reject(w, r, err, rt, o, tok, start)
		return
	}
	h.log.LogAttrs(r.Context(), slog.LevelDebug, "forward-auth allowed",
		slog.String("rule", rt.label),
		slog.String("strategy", rt.strategy),
		slog.String("decided_by", string(res.DecidedBy)),
		slog.Bool("cached", res.Cached),
		slog.Bool("degraded", res.Degraded),
		slog.String("method", o.method),
		slog.String("path", logPath(o.path)),
		slog.String("token_fp", tokenhash.Fingerprint(tok)),
		slog.Duration("took", h.clock.Now().Sub(start)),
	)
	h.writeAllowed(w, res, string(res.DecidedBy), rt.label)
}

func (h *authHandler) writeAllowed(w http.ResponseWriter, res *strategy.Result, decidedBy, rule string) {
	hd := w.Header()
	hd.Set(h.hSubject, escapeValue(res.Subject))
	hd.Set(h.hClientID, escapeValue(res.ClientID))
	hd.Set(h.hScope, scopeValue(res.Scopes))
	hd.Set(h.hRoles, EncodeRoles(res.RealmRoles, res.ClientRoles))
	hd.Set(h.hDecidedBy, escapeValue(decidedBy))
	hd.Set(h.hRule, rule)
	hd.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// origin reads the original request from a trusted peer's headers. From an
// untrusted peer it returns the zero origin (default rule) and no error.
func (h *authHandler) origin(r *http.Request) (origin, error) {
	if !h.trustedPeer(r.RemoteAddr) {
		if r.Header.Get(HeaderOriginalURI) != "" || r.Header.Get(HeaderForwardedURI) != "" || r.Header.Get(HeaderOriginalURL) != "" {
			h.log.LogAttrs(r.Context(), slog.LevelDebug, "forward-auth headers from an untrusted peer ignored",
				slog.String("remote", r.RemoteAddr))
		}
		return origin{}, nil
	}
	method, err := agreeing(r.Header, HeaderOriginalMethod, HeaderForwardedMethod)
	if err != nil {
		return origin{}, err
	}
	uri, err := agreeing(r.Header, HeaderOriginalURI, HeaderForwardedURI)
	if err != nil {
		return origin{}, err
	}
	rawHost, err := single(r.Header, HeaderForwardedHost)
	if err != nil {
		return origin{}, err
	}
	rawURL, err := singleURI(r.Header, HeaderOriginalURL)
	if err != nil {
		return origin{}, err
	}
	if rawURL != "" {
		urlHost, target, err := splitAbsoluteURL(rawURL)
		if err != nil {
			return origin{}, err
		}
		if uri != "" && uri != target {
			return origin{}, invalidRequest(HeaderOriginalURL + " and the forwarded URI disagree")
		}
		uri = target
		if rawHost != "" {
			a, errA := CanonicalHost(rawHost)
			b, errB := CanonicalHost(urlHost)
			if errA != nil || errB != nil || a != b {
				return origin{}, invalidRequest(HeaderOriginalURL + " and " + HeaderForwardedHost + " disagree")
			}
		}
		rawHost = urlHost
	}
	if method == "" && uri == "" {
		return origin{}, nil
	}
	if method == "" || uri == "" {
		return origin{}, invalidRequest("the original method and URI must be forwarded together")
	}
	method = strings.ToUpper(method)
	if !isToken(method) {
		return origin{}, invalidRequest("malformed forwarded method")
	}
	o := origin{method: method, forwarded: true}
	if o.path, err = CanonicalPath(uri); err != nil {
		return o, err
	}
	if o.host, err = CanonicalHost(rawHost); err != nil {
		return o, invalidRequest("malformed forwarded host")
	}
	if o.host == "" && h.hostRoutes {
		return o, invalidRequest("X-Forwarded-Host is required: route rules match on the host")
	}
	return o, nil
}

func (h *authHandler) trustedPeer(remote string) bool {
	if len(h.trusted) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap()
	for _, p := range h.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// splitAbsoluteURL splits an absolute http(s) URL, as ingress-nginx sends
// it, into its authority and its request-target (path and query, raw: the
// path is decoded later, once, by CanonicalPath).
func splitAbsoluteURL(u string) (host, target string, err error) {
	bad := invalidRequest("malformed " + HeaderOriginalURL)
	var rest string
	switch {
	case len(u) > 7 && strings.EqualFold(u[:7], "http://"):
		rest = u[7:]
	case len(u) > 8 && strings.EqualFold(u[:8], "https://"):
		rest = u[8:]
	default:
		return "", "", bad
	}
	i := strings.IndexAny(rest, "/?#")
	if i < 0 {
		i = len(rest)
	}
	host, target = rest[:i], rest[i:]
	if host == "" || strings.ContainsAny(host, "@\\") {
		return "", "", bad
	}
	if !strings.HasPrefix(target, "/") {
		target = "/" + target
	}
	return host, target, nil
}

// single returns the one value of header name ("" when absent); a repeated
// header or a list is refused: which element a gateway meant is a guess.
func single(hd http.Header, name string) (string, error) {
	vals := hd.Values(name)
	switch {
	case len(vals) == 0:
		return "", nil
	case len(vals) > 1 || strings.Contains(vals[0], ","):
		return "", invalidRequest(name + " must be a single value")
	}
	return strings.TrimSpace(vals[0]), nil
}

// agreeing returns the value of header a or b; both present and different
// is a forgery by the client through a gateway that sets only one of them.
func agreeing(hd http.Header, a, b string) (string, error) {
	va, err := singleURI(hd, a)
	if err != nil {
		return "", err
	}
	vb, err := singleURI(hd, b)
	if err != nil {
		return "", err
	}
	if va != "" && vb != "" && va != vb {
		return "", invalidRequest(a + " and " + b + " disagree")
	}
	if va != "" {
		return va, nil
	}
	return vb, nil
}

// singleURI is single without the list check: commas are legal in paths.
func singleURI(hd http.Header, name string) (string, error) {
	vals := hd.Values(name)
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
		return strings.TrimSpace(vals[0]), nil
	}
	return "", invalidRequest(name + " must be a single value")
}

// reject logs one line for a refused forward-auth request and writes the
// refusal. rt is nil when the request was refused before a rule matched.
func (h *authHandler) reject(w http.ResponseWriter, r *http.Request, err error, rt *compiledRoute, o origin, tok string, start time.Time) {
	status := StatusOf(err)
	reason := string(strategy.ReasonOf(err))
	outcome := strategy.Outcome(err)
	switch {
	case errors.Is(err, ErrNoToken):
		outcome, reason = "missing", string(strategy.ReasonMissing)
	case errors.Is(err, ErrInvalidRequest):
		outcome, reason = "bad_request", string(strategy.ReasonMalformed)
	}
	attrs := []slog.Attr{
		slog.String("outcome", outcome),
		slog.String("reason", reason),
		slog.Int("status", status),
		slog.String("method", o.method),
		slog.String("path", logPath(o.path)),
		slog.String("error", redact(err.Error(), tok)),
		slog.Duration("took", h.clock.Now().Sub(start)),
	}
	var scopes []string
	if rt != nil {
		attrs = append(attrs, slog.String("rule", rt.label), slog.String("strategy", rt.strategy))
		scopes = rt.scopes
	}
	if tok != "" {
		attrs = append(attrs, slog.String("token_fp", tokenhash.Fingerprint(tok)))
	}
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "forward-auth rejected", attrs...)
	WriteError(w, err, h.realm, WithScope(scopes...), WithRedact(tok))
}

// logPath bounds a logged path.
func logPath(p string) string {
	const max = 256
	if len(p) > max {
		return p[:max] + "..."
	}
	return p
}
