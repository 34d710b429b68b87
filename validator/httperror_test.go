package validator_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/strategy"
	"github.com/tokenwarden/tokenwarden/validator"
)

func TestStatusOf(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 200},
		{validator.ErrNoToken, 401},
		{validator.ErrUnauthorizedCaller, 401},
		{validator.ErrMalformedAuthorization, 400},
		{fmt.Errorf("x: %w", validator.ErrMultipleAuthorization), 400},
		{validator.ErrInvalidRequest, 400},
		{strategy.NewError(strategy.ErrInvalid, strategy.ReasonAlg, "", nil), 401},
		{strategy.NewError(strategy.ErrInactive, strategy.ReasonExpired, "", nil), 401},
		{strategy.NewError(strategy.ErrNotApplicable, strategy.ReasonOpaque, "", nil), 401},
		{strategy.NewError(strategy.ErrForbidden, strategy.ReasonScope, "", nil), 403},
		{strategy.NewError(strategy.ErrUnavailable, strategy.ReasonKeysUnavailable, "", nil), 503},
		{fmt.Errorf("wrapped: %w", strategy.ErrUnavailable), 503},
		{errors.New("anything"), 401},
	}
	for _, tt := range tests {
		if got := validator.StatusOf(tt.err); got != tt.want {
			t.Errorf("StatusOf(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		realm      string
		opts       []validator.ErrorOption
		wantStatus int
		wantHeader map[string]string
		wantBody   string
	}{
		{
			name:       "nil error is never a 200",
			err:        nil,
			wantStatus: 401,
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="tokenwarden", error="invalid_token", error_description="the access token is invalid"`},
			wantBody:   `{"active":false,"error":"invalid_token","error_description":"the access token is invalid"}`,
		},
		{
			name:       "forward-auth adds scopes; invalid ones dropped",
			err:        strategy.NewError(strategy.ErrForbidden, strategy.ReasonScope, "", nil),
			realm:      "api",
			opts:       []validator.ErrorOption{validator.WithScope("read", "bad\"scope", "", "write")},
			wantStatus: 403,
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="api", error="insufficient_scope", error_description="the access token lacks a required scope or role", scope="read write"`},
			wantBody:   `{"active":false,"error":"insufficient_scope","error_description":"the access token lacks a required scope or role","reason":"scope","scope":"read write"}`,
		},
		{
			name:       "scopes ignored for other kinds",
			err:        strategy.NewError(strategy.ErrInvalid, strategy.ReasonAudience, "wrong audience", nil),
			opts:       []validator.ErrorOption{validator.WithScope("read")},
			wantStatus: 401,
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="tokenwarden", error="invalid_token", error_description="wrong audience"`},
			wantBody:   `{"active":false,"error":"invalid_token","error_description":"wrong audience","reason":"aud"}`,
		},
		{
			name:       "Retry-After rounds up",
			err:        &strategy.Error{Kind: strategy.ErrUnavailable, Reason: strategy.ReasonIDPUnavailable, RetryAfter: 10*time.Second + time.Millisecond},
			wantStatus: 503,
			wantHeader: map[string]string{"Retry-After": "11", "WWW-Authenticate": ""},
			wantBody:   `{"active":false,"error":"temporarily_unavailable","error_description":"token validation is temporarily unavailable","reason":"idp_unavailable"}`,
		},
		{
			name:       "Retry-After whole seconds stay",
			err:        &strategy.Error{Kind: strategy.ErrUnavailable, Reason: strategy.ReasonIDPUnavailable, RetryAfter: 3 * time.Second},
			wantStatus: 503,
			wantHeader: map[string]string{"Retry-After": "3"},
			wantBody:   `{"active":false,"error":"temporarily_unavailable","error_description":"token validation is temporarily unavailable","reason":"idp_unavailable"}`,
		},
		{
			name:       "Retry-After capped",
			err:        &strategy.Error{Kind: strategy.ErrUnavailable, Reason: strategy.ReasonIDPUnavailable, RetryAfter: 1000 * time.Hour},
			wantStatus: 503,
			wantHeader: map[string]string{"Retry-After": "86400"},
			wantBody:   `{"active":false,"error":"temporarily_unavailable","error_description":"token validation is temporarily unavailable","reason":"idp_unavailable"}`,
		},
		{
			name:       "Detail holding the token is not shown",
			err:        strategy.NewError(strategy.ErrInvalid, strategy.ReasonMalformed, "bad token eyJsecret", nil),
			opts:       []validator.ErrorOption{validator.WithRedact("eyJsecret")},
			wantStatus: 401,
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="tokenwarden", error="invalid_token", error_description="the access token is invalid"`},
			wantBody:   `{"active":false,"error":"invalid_token","error_description":"the access token is invalid","reason":"malformed"}`,
		},
		{
			name:       "long Detail bounded in the header",
			err:        strategy.NewError(strategy.ErrInvalid, strategy.ReasonClaims, strings.Repeat("x", 300), nil),
			wantStatus: 401,
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="tokenwarden", error="invalid_token", error_description="` + strings.Repeat("x", 200) + `"`},
			wantBody:   `{"active":false,"error":"invalid_token","error_description":"` + strings.Repeat("x", 300) + `","reason":"claims"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			validator.WriteError(rec, tt.err, tt.realm, tt.opts...)
			res := rec.Result()
			got := answer{status: res.StatusCode, header: res.Header, body: strings.TrimSuffix(rec.Body.String(), "\n")}
			checkAnswer(t, got, tt.wantStatus, tt.wantHeader, tt.wantBody)
			if res.StatusCode == http.StatusOK {
				t.Fatal("WriteError wrote 200")
			}
		})
	}
}
