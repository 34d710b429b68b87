package validator

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/tokenhash"
	"github.com/tokenwarden/tokenwarden/strategy"
)

// ValidateRequest is the optional JSON body of POST /v1/validate. Unknown
// fields and trailing data are rejected.
type ValidateRequest struct {
	// Token, when the Authorization header carries none. Never both.
	Token string `json:"token,omitempty"`
	// Scopes required; all must be granted.
	Scopes []string `json:"scopes,omitempty"`
	// Roles required: "role" (realm) or "client:role".
	Roles []string `json:"roles,omitempty"`
	// Sensitive asks a tiered strategy to consult the IdP.
	Sensitive bool `json:"sensitive,omitempty"`
	// Strategy names the strategy; only with Config.AllowStrategyOverride.
	Strategy string `json:"strategy,omitempty"`
}

// ValidateResponse is the 200 body of POST /v1/validate. Every field is
// always present except sid, exp and iat, which are omitted when the token
// has none. The token itself is never returned.
type ValidateResponse struct {
	Active      bool                       `json:"active"` // always true
	Subject     string                     `json:"sub"`
	ClientID    string                     `json:"client_id"`
	SessionID   string                     `json:"sid,omitempty"`
	Scope       string                     `json:"scope"` // space-separated (RFC 7662 §2.2)
	RealmRoles  []string                   `json:"realm_roles"`
	ClientRoles map[string][]string        `json:"client_roles"`
	ExpiresAt   int64                      `json:"exp,omitempty"` // NumericDate
	IssuedAt    int64                      `json:"iat,omitempty"` // NumericDate
	Issuer      string                     `json:"iss"`
	Strategy    string                     `json:"strategy"`
	DecidedBy   strategy.DecidedBy         `json:"decided_by"`
	Cached      bool                       `json:"cached"`
	Triggers    []strategy.Trigger         `json:"triggers"`
	Degraded    bool                       `json:"degraded"`
	Claims      map[string]json.RawMessage `json:"claims"` // only Config.ExposeClaims
}

func (s *Service) handleValidate(w http.ResponseWriter, r *http.Request) {
	start := s.clock.Now()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "invalid_request", Description: "method not allowed"})
		return
	}
	if !s.callerAllowed(r.Header) {
		// The key is never logged, not even as a fingerprint: it is long-lived.
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "caller rejected", slog.String("remote", r.RemoteAddr))
		WriteError(w, ErrUnauthorizedCaller, s.realm)
		return
	}

	// One policy for the whole request, even if a reload swaps it meanwhile.
	p := s.pol.Load()
	name, req, err := s.parse(w, r, p)
	if err != nil {
		s.reject(r, w, err, name, req, start)
		return
	}
	res, err := p.strategies[name].Validate(r.Context(), req)
	if err == nil && res == nil {
		// A strategy broke its contract; refuse rather than accept.
		err = errors.New("strategy returned neither result nor error")
	}
	if err != nil {
		s.reject(r, w, err, name, req, start)
		return
	}
	s.log.LogAttrs(r.Context(), slog.LevelDebug, "token accepted",
		slog.String("strategy", name),
		slog.String("decided_by", string(res.DecidedBy)),
		slog.Bool("cached", res.Cached),
		slog.Bool("degraded", res.Degraded),
		slog.String("token_fp", tokenhash.Fingerprint(req.Token)),
		slog.Duration("took", s.clock.Now().Sub(start)),
	)
	writeJSON(w, http.StatusOK, s.response(name, res, p))
}

// reject logs one line for a refused request and writes the refusal.
func (s *Service) reject(r *http.Request, w http.ResponseWriter, err error, name string, req strategy.Request, start time.Time) {
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
		slog.String("strategy", name),
		slog.Int("status", status),
		slog.String("error", redact(err.Error(), req.Token)),
		slog.Duration("took", s.clock.Now().Sub(start)),
	}
	if req.Token != "" {
		attrs = append(attrs, slog.String("token_fp", tokenhash.Fingerprint(req.Token)))
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "token rejected", attrs...)
	WriteError(w, err, s.realm, WithScope(req.Scopes...), WithRedact(req.Token))
}

// redact removes tok from a message: error texts must never carry the token,
// and this holds even for a strategy that breaks that rule.
func redact(msg, tok string) string {
	if tok == "" {
		return msg
	}
	return strings.ReplaceAll(msg, tok, "[redacted]")
}

// parse reads the token from the Authorization header (RFC 6750 §2.1) or the
// JSON body, and the requirements from the body. It returns the strategy
// name to use. On error, req holds what was read so far (for the log line).
func (s *Service) parse(w http.ResponseWriter, r *http.Request, p *policy) (string, strategy.Request, error) {
	name := p.defaultStrategy
	var req strategy.Request
	headerTok, err := BearerToken(r.Header)
	if err != nil && !errors.Is(err, ErrNoToken) {
		return name, req, err
	}
	req.Token = headerTok

	body, err := s.readBody(w, r)
	if err != nil {
		return name, req, err
	}
	if body != nil {
		if body.Token != "" {
			if headerTok != "" {
				return name, req, invalidRequest("token in both Authorization header and body")
			}
			if !IsB64Token(body.Token) {
				return name, req, invalidRequest("malformed token")
			}
			req.Token = body.Token
		}
		for _, sc := range body.Scopes {
			if !validScopeToken(sc) {
				return name, req, invalidRequest("scopes must be scope-tokens (RFC 6749 §3.3)")
			}
		}
		for _, role := range body.Roles {
			if role == "" {
				return name, req, invalidRequest("roles must not be empty")
			}
		}
		req.Scopes, req.Roles, req.Sensitive = body.Scopes, body.Roles, body.Sensitive
		if body.Strategy != "" {
			if !p.allowOverride {
				return name, req, invalidRequest("strategy override disabled")
			}
			if _, ok := p.strategies[body.Strategy]; !ok {
				return name, req, invalidRequest("unknown strategy")
			}
			name = body.Strategy
		}
	}
	if req.Token == "" {
		return name, req, ErrNoToken
	}
	return name, req, nil
}

// readBody decodes the optional body; nil means there was none. The body
// is bounded by MaxBodyBytes before a byte is read.
func (s *Service) readBody(w http.ResponseWriter, r *http.Request) (*ValidateRequest, error) {
	tooLarge := &requestError{status: http.StatusRequestEntityTooLarge, desc: "request body too large"}
	if r.ContentLength > s.maxBody {
		return nil, tooLarge
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, invalidRequest("cannot read request body")
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, &requestError{status: http.StatusUnsupportedMediaType, desc: "request body must be application/json"}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var body ValidateRequest
	if err := dec.Decode(&body); err != nil {
		// json's messages name fields and types, never values; a field name
		// is the caller's and may be long, so bound what we echo and log.
		msg := strings.TrimPrefix(err.Error(), "json: ")
		if len(msg) > 160 {
			msg = msg[:160] + "..."
		}
		return nil, invalidRequest("malformed JSON body: " + strings.ToValidUTF8(msg, "?"))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalidRequest("trailing data after JSON body")
	}
	return &body, nil
}

// response builds the 200 body. Slices and maps are copied out of res, which
// may be shared with a cache, and nil ones become empty so the shape is fixed.
func (s *Service) response(name string, res *strategy.Result, p *policy) ValidateResponse {
	out := ValidateResponse{
		Active:      true,
		Subject:     res.Subject,
		ClientID:    res.ClientID,
		SessionID:   res.SessionID,
		Scope:       strings.Join(res.Scopes, " "),
		RealmRoles:  append([]string{}, res.RealmRoles...),
		ClientRoles: make(map[string][]string, len(res.ClientRoles)),
		Issuer:      res.Issuer,
		Strategy:    res.Strategy,
		DecidedBy:   res.DecidedBy,
		Cached:      res.Cached,
		Triggers:    append([]strategy.Trigger{}, res.Triggers...),
		Degraded:    res.Degraded,
		Claims:      map[string]json.RawMessage{},
	}
	if out.Strategy == "" {
		out.Strategy = name
	}
	if !res.ExpiresAt.IsZero() {
		out.ExpiresAt = res.ExpiresAt.Unix()
	}
	if !res.IssuedAt.IsZero() {
		out.IssuedAt = res.IssuedAt.Unix()
	}
	for c, roles := range res.ClientRoles {
		out.ClientRoles[c] = append([]string{}, roles...)
	}
	if len(p.expose) > 0 && len(res.Claims) > 0 {
		var all map[string]json.RawMessage
		if err := json.Unmarshal(res.Claims, &all); err != nil {
			s.log.Warn("claims of an accepted token are not a JSON object; exposing none", slog.String("strategy", name))
			return out
		}
		for _, c := range p.expose {
			if v, ok := all[c]; ok {
				out.Claims[c] = v
			}
		}
	}
	return out
}
