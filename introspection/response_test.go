package introspection

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/numericdate"
)

func TestDecodeResponse(t *testing.T) {
	exp := time.Unix(1700000300, 0).UTC()
	iat := time.Unix(1700000000, 500_000_000).UTC()
	tests := []struct {
		name    string
		body    string
		want    *Response // Raw is not compared
		wantErr error
	}{
		{
			name: "Keycloak active answer",
			body: `{"exp":1700000300,"iat":1700000000.5,"jti":"j1","iss":"https://kc/realms/dev","aud":"api","sub":"u1","typ":"Bearer",
				"azp":"demo","sid":"s1","scope":"openid profile","preferred_username":"alice","client_id":"demo","username":"alice",
				"token_type":"Bearer","active":true,"realm_access":{"roles":["user"]},"resource_access":{"demo":{"roles":["reader"]}},
				"cnf":{"jkt":"abc"},"act":{"sub":"x"}}`,
			want: &Response{Active: true, Scope: "openid profile", ClientID: "demo", Username: "alice", TokenType: "Bearer",
				Exp: &exp, Iat: &iat, Sub: "u1", Aud: []string{"api"}, Iss: "https://kc/realms/dev", Jti: "j1", Typ: "Bearer",
				Azp: "demo", Sid: "s1", PreferredUsername: "alice", RealmAccess: Access{Roles: []string{"user"}},
				ResourceAccess: map[string]Access{"demo": {Roles: []string{"reader"}}}, Cnf: json.RawMessage(`{"jkt":"abc"}`)},
		},
		{name: "aud array", body: `{"active":true,"aud":["a","b"]}`, want: &Response{Active: true, Aud: []string{"a", "b"}}},
		{name: "Hydra token_use", body: `{"active":true,"token_use":"refresh_token"}`, want: &Response{Active: true, TokenUse: "refresh_token"}},
		{name: "token_use not a string is ignored", body: `{"active":true,"token_use":7}`, want: &Response{Active: true}},
		{name: "nulls are absent", body: `{"active":true,"exp":null,"aud":null,"scope":null,"cnf":null}`, want: &Response{Active: true}},
		{name: "inactive keeps nothing", body: `{"active":false,"sub":"u1"}`, want: &Response{}},
		{name: "whitespace", body: " \n{ \"active\" : true } \n", want: &Response{Active: true}},
		{name: "escaped member name", body: `{"\u0061ctive":true}`, want: &Response{Active: true}},
		{name: "escaped duplicate", body: `{"active":false,"\u0061ctive":true}`, wantErr: ErrMalformedResponse},
		{name: "empty", body: ``, wantErr: ErrMalformedResponse},
		{name: "null", body: `null`, wantErr: ErrMalformedResponse},
		{name: "string", body: `"active"`, wantErr: ErrMalformedResponse},
		{name: "truncated", body: `{"active":true`, wantErr: ErrMalformedResponse},
		{name: "exp string", body: `{"active":true,"exp":"1700000000"}`, wantErr: ErrMalformedResponse},
		{name: "exp negative", body: `{"active":true,"exp":-1}`, wantErr: ErrMalformedResponse},
		{name: "exp huge", body: `{"active":true,"exp":1e300}`, wantErr: ErrMalformedResponse},
		{name: "aud number", body: `{"active":true,"aud":1}`, wantErr: ErrMalformedResponse},
		{name: "aud mixed array", body: `{"active":true,"aud":["a",1]}`, wantErr: ErrMalformedResponse},
		{name: "scope array", body: `{"active":true,"scope":["a"]}`, wantErr: ErrMalformedResponse},
		{name: "realm_access roles string", body: `{"active":true,"realm_access":{"roles":"admin"}}`, wantErr: ErrMalformedResponse},
		{name: "cnf string", body: `{"active":true,"cnf":"x"}`, wantErr: ErrMalformedResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeResponse([]byte(tt.body))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !errors.Is(err, ErrUnavailable) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Raw, []byte(tt.body)) {
				t.Errorf("Raw = %q", got.Raw)
			}
			got.Raw = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// FuzzDecodeResponse: no panic on any body, and Active only when "active" is
// the JSON literal true (checked with the standard library, whose
// last-member-wins rule agrees because duplicates are refused).
func FuzzDecodeResponse(f *testing.F) {
	for _, s := range []string{
		`{"active":true}`, `{"active":"true"}`, `{"active":1}`, `{}`, `{"active":true,"exp":1.5,"aud":["a"]}`,
		`{"active":true,"realm_access":{"roles":["a"]},"resource_access":{"c":{"roles":[]}}}`,
		`{"active":false,"active":true}`, `[true]`, `{"active":true,"cnf":{"jkt":"x"}}`, `{"active":true,"exp":"1"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := decodeResponse(body)
		if err != nil {
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("error %v does not wrap ErrMalformedResponse", err)
			}
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) != nil {
			t.Fatalf("accepted a body encoding/json refuses: %q", body)
		}
		isTrue := string(bytes.TrimSpace(m["active"])) == "true"
		if r.Active != isTrue {
			t.Fatalf("Active = %v for %q", r.Active, body)
		}
		if !r.Active && (r.Sub != "" || r.Exp != nil || r.Aud != nil) {
			t.Fatalf("inactive response carries members: %+v", r)
		}
		if r.Exp != nil && (r.Exp.Unix() < 0 || r.Exp.Unix() > numericdate.Max) {
			t.Fatalf("exp out of range: %v", r.Exp)
		}
	})
}
