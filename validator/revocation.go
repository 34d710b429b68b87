package validator

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/internal/tokenhash"
	"github.com/tokenwarden/tokenwarden/revocation"
)

// RevocationStore is what the revocation endpoints need from the store.
type RevocationStore interface {
	Add(ctx context.Context, e revocation.Event) error
	List() []revocation.Entry
}

// RevocationConfig configures the revocation sources served on the admin
// listener. Nil validators disable their endpoint (404).
type RevocationConfig struct {
	Store RevocationStore
	// Logout validates OIDC Back-Channel Logout tokens (POST /v1/backchannel-logout).
	Logout *revocation.LogoutValidator
	// NotBefore validates Keycloak PUSH_NOT_BEFORE actions (POST /k_push_not_before).
	NotBefore *revocation.NotBeforeValidator
	// AdminSecret authenticates /v1/revocations (Authorization: Bearer);
	// empty disables the admin API.
	AdminSecret []byte
	// DefaultIssuer is the issuer of admin events that name none.
	DefaultIssuer string
	// MaxBodyBytes bounds bodies (default 64 KiB).
	MaxBodyBytes int64
	Logger       *slog.Logger
	Clock        clock.Clock
}

// MountRevocation registers the revocation endpoints on the admin handler:
// POST /v1/backchannel-logout, POST /k_push_not_before, and GET/POST
// /v1/revocations. Call before serving.
func (s *Service) MountRevocation(cfg RevocationConfig) error {
	if cfg.Store == nil {
		return errors.New("validator: revocation store required")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.Logger == nil {
		cfg.Logger = s.log
	}
	cfg.Clock = clock.OrReal(cfg.Clock)
	h := &revocationHandlers{cfg: cfg, adminSecret: [][sha256.Size]byte{sha256.Sum256(cfg.AdminSecret)}}
	if cfg.Logout != nil {
		s.HandleAdmin("/v1/backchannel-logout", http.HandlerFunc(h.backchannelLogout))
	}
	if cfg.NotBefore != nil {
		s.HandleAdmin("/k_push_not_before", http.HandlerFunc(h.pushNotBefore))
	}
	if len(cfg.AdminSecret) > 0 {
		s.HandleAdmin("/v1/revocations", http.HandlerFunc(h.revocations))
	}
	return nil
}

type revocationHandlers struct {
	cfg RevocationConfig
	// adminSecret holds the digest of cfg.AdminSecret, made once.
	adminSecret [][sha256.Size]byte
}

type revocationError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// fail maps a revocation error: the sender's fault is 400, an outage (keys
// unavailable) or a full store is 503 so the sender may retry.
func (h *revocationHandlers) fail(w http.ResponseWriter, source string, err error) {
	status := http.StatusBadRequest
	body := revocationError{Error: "invalid_request", Reason: string(revocation.ReasonOf(err))}
	switch {
	case errors.Is(err, revocation.ErrKeysUnavailable), errors.Is(err, revocation.ErrFull):
		status = http.StatusServiceUnavailable
		body.Error = "temporarily_unavailable"
		w.Header().Set("Retry-After", "1")
	case errors.Is(err, revocation.ErrLogoutToken), errors.Is(err, revocation.ErrNotBeforeAction), errors.Is(err, revocation.ErrAdminEvent):
		var re *revocation.Error
		if errors.As(err, &re) {
			body.Description = re.Detail
		}
	}
	h.cfg.Logger.Info("revocation event refused", "source", source, "status", status, "reason", body.Reason)
	writeJSON(w, status, body)
}

func (h *revocationHandlers) add(ctx context.Context, w http.ResponseWriter, source string, events []revocation.Event) bool {
	for _, e := range events {
		if err := h.cfg.Store.Add(ctx, e); err != nil {
			h.fail(w, source, err)
			return false
		}
		h.cfg.Logger.Info("revocation event", "source", e.Source, "action", string(e.Action), "kind", string(e.Kind),
			"key_fp", tokenhash.Fingerprint(e.Value), "at", e.At.UTC().Format(time.RFC3339))
	}
	return true
}

func (h *revocationHandlers) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, revocationError{Error: "invalid_request", Reason: "too_large"})
		return nil, false
	}
	return b, true
}

// backchannelLogout is the OIDC Back-Channel Logout 1.0 §2.5 receiver: form
// logout_token; 200 on success, 400 with an error body otherwise (§2.8).
func (h *revocationHandlers) backchannelLogout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, revocationError{Error: "invalid_request"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, revocationError{Error: "invalid_request", Reason: "malformed"})
		return
	}
	toks := r.PostForm["logout_token"]
	if len(toks) != 1 || toks[0] == "" {
		writeJSON(w, http.StatusBadRequest, revocationError{Error: "invalid_request", Reason: "malformed", Description: "exactly one logout_token required"})
		return
	}
	claims, err := h.cfg.Logout.Validate(r.Context(), toks[0])
	if err != nil {
		h.fail(w, revocation.SourceBackchannelLogout, err)
		return
	}
	if h.add(r.Context(), w, revocation.SourceBackchannelLogout, h.cfg.Logout.Events(claims)) {
		w.WriteHeader(http.StatusOK)
	}
}

// pushNotBefore receives Keycloak's signed PUSH_NOT_BEFORE admin action.
func (h *revocationHandlers) pushNotBefore(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, revocationError{Error: "invalid_request"})
		return
	}
	body, ok := h.readBody(w, r)
	if !ok {
		return
	}
	nb, err := h.cfg.NotBefore.Validate(r.Context(), body)
	if err != nil {
		h.fail(w, revocation.SourceNotBeforePush, err)
		return
	}
	if h.add(r.Context(), w, revocation.SourceNotBeforePush, h.cfg.NotBefore.Events(nb)) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// authorized compares the bearer secret in constant time (over digests, so
// the length leaks nothing either).
func (h *revocationHandlers) authorized(r *http.Request) bool {
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 {
		return false
	}
	scheme, secret, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return secretMatches([]byte(strings.TrimSpace(secret)), h.adminSecret)
}

type entryJSON struct {
	Issuer  string     `json:"issuer"`
	Kind    string     `json:"kind"`
	Value   string     `json:"value"`
	Action  string     `json:"action"`
	At      time.Time  `json:"at"`
	Source  string     `json:"source"`
	Expires *time.Time `json:"expires,omitempty"`
}

// revocations is the admin API: POST an event, GET the live entries.
func (h *revocationHandlers) revocations(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(r) {
		// Never the presented secret, not even fingerprinted: it may be a
		// near miss of the real one.
		h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "admin API caller rejected",
			slog.String("remote", r.RemoteAddr), slog.String("method", r.Method))
		w.Header().Set("WWW-Authenticate", `Bearer realm="tokenwarden-admin"`)
		writeJSON(w, http.StatusUnauthorized, revocationError{Error: "unauthorized"})
		return
	}
	switch r.Method {
	case http.MethodGet:
		entries := h.cfg.Store.List()
		out := make([]entryJSON, 0, len(entries))
		for _, e := range entries {
			exp := e.Expires.UTC()
			out = append(out, entryJSON{Issuer: e.Issuer, Kind: string(e.Kind), Value: e.Value, Action: string(e.Action),
				At: e.At.UTC(), Source: e.Source, Expires: &exp})
		}
		writeJSON(w, http.StatusOK, map[string]any{"entries": out})
	case http.MethodPost:
		body, ok := h.readBody(w, r)
		if !ok {
			return
		}
		e, err := revocation.ParseAdminEvent(h.cfg.DefaultIssuer, body, h.cfg.Clock.Now())
		if err != nil {
			h.fail(w, revocation.SourceAdmin, err)
			return
		}
		if h.add(r.Context(), w, revocation.SourceAdmin, []revocation.Event{e}) {
			writeJSON(w, http.StatusCreated, entryJSON{Issuer: e.Issuer, Kind: string(e.Kind), Value: e.Value,
				Action: string(e.Action), At: e.At.UTC(), Source: e.Source})
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		writeJSON(w, http.StatusMethodNotAllowed, revocationError{Error: "invalid_request"})
	}
}
