package revocation_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/revocation"
)

func TestParseAdminEvent(t *testing.T) {
	now := t0
	at := time.Date(2025, 1, 1, 0, 5, 0, 0, time.UTC)
	tests := []struct {
		name   string
		body   string
		want   revocation.Event
		reason revocation.Reason
	}{
		{name: "deny sid", body: `{"sid":"s1","action":"deny"}`,
			want: revocation.Event{Issuer: iss, Kind: revocation.KindSession, Value: "s1", Action: revocation.ActionDeny, At: now, Source: revocation.SourceAdmin}},
		{name: "watch sub with at", body: `{"sub":"alice","action":"watch","at":"2025-01-01T00:05:00Z"}`,
			want: revocation.Event{Issuer: iss, Kind: revocation.KindSubject, Value: "alice", Action: revocation.ActionWatch, At: at, Source: revocation.SourceAdmin}},
		{name: "deny jti, other issuer", body: ` {"jti":"j1","action":"deny","issuer":"https://other.example"} `,
			want: revocation.Event{Issuer: "https://other.example", Kind: revocation.KindToken, Value: "j1", Action: revocation.ActionDeny, At: now, Source: revocation.SourceAdmin}},
		{name: "deny client", body: `{"client_id":"demo","action":"deny"}`,
			want: revocation.Event{Issuer: iss, Kind: revocation.KindClient, Value: "demo", Action: revocation.ActionDeny, At: now, Source: revocation.SourceAdmin}},
		{name: "two keys", body: `{"sid":"s1","sub":"alice","action":"deny"}`, reason: revocation.ReasonKey},
		{name: "no key", body: `{"action":"deny"}`, reason: revocation.ReasonKey},
		{name: "empty key", body: `{"sid":"","action":"deny"}`, reason: revocation.ReasonKey},
		{name: "key too long", body: `{"sid":"` + strings.Repeat("x", revocation.MaxValueBytes+1) + `","action":"deny"}`, reason: revocation.ReasonKey},
		{name: "no action", body: `{"sid":"s1"}`, reason: revocation.ReasonValue},
		{name: "bad action", body: `{"sid":"s1","action":"allow"}`, reason: revocation.ReasonValue},
		{name: "bad at", body: `{"sid":"s1","action":"deny","at":"yesterday"}`, reason: revocation.ReasonValue},
		{name: "empty issuer", body: `{"sid":"s1","action":"deny","issuer":""}`, reason: revocation.ReasonValue},
		{name: "unknown field", body: `{"sid":"s1","action":"deny","email":"a@b"}`, reason: revocation.ReasonMalformed},
		{name: "not_before is not an admin key", body: `{"not_before":"","action":"deny"}`, reason: revocation.ReasonMalformed},
		{name: "wrong type", body: `{"sid":1,"action":"deny"}`, reason: revocation.ReasonMalformed},
		{name: "trailing data", body: `{"sid":"s1","action":"deny"}{}`, reason: revocation.ReasonMalformed},
		{name: "array", body: `[{"sid":"s1","action":"deny"}]`, reason: revocation.ReasonMalformed},
		{name: "empty", body: ``, reason: revocation.ReasonMalformed},
		{name: "null", body: `null`, reason: revocation.ReasonMalformed},
		{name: "too large", body: `{"sid":"` + strings.Repeat("x", revocation.MaxAdminBodyBytes) + `"}`, reason: revocation.ReasonTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := revocation.ParseAdminEvent(iss, []byte(tt.body), now)
			if tt.reason != "" {
				wantErr(t, err, revocation.ErrAdminEvent, tt.reason)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.At.Equal(tt.want.At) {
				t.Fatalf("At = %v, want %v", got.At, tt.want.At)
			}
			got.At = tt.want.At
			if got != tt.want {
				t.Fatalf("event = %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := revocation.ParseAdminEvent("", []byte(`{"sid":"s1","action":"deny"}`), now); revocation.ReasonOf(err) != revocation.ReasonValue {
		t.Fatalf("no issuer anywhere: %v", err)
	}
}

func TestLearnedInactive(t *testing.T) {
	e := revocation.LearnedInactive(iss, "j1", t0)
	want := revocation.Event{Issuer: iss, Kind: revocation.KindToken, Value: "j1", Action: revocation.ActionDeny, At: t0, Source: revocation.SourceLearned}
	if e != want {
		t.Fatalf("event = %+v", e)
	}
}
