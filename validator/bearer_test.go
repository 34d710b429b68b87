package validator_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/validator"
)

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name    string
		values  []string // Authorization field values; nil: no header
		want    string
		wantErr error
	}{
		{name: "none", values: nil, wantErr: validator.ErrNoToken},
		{name: "empty", values: []string{""}, wantErr: validator.ErrNoToken},
		{name: "blank", values: []string{"  \t"}, wantErr: validator.ErrNoToken},
		{name: "other scheme", values: []string{"Basic dXNlcjpwYXNz"}, wantErr: validator.ErrNoToken},
		{name: "scheme prefix is not the scheme", values: []string{"Bearerabc"}, wantErr: validator.ErrNoToken},
		{name: "bearer", values: []string{"Bearer abc.def.ghi"}, want: "abc.def.ghi"},
		{name: "lowercase", values: []string{"bearer abc"}, want: "abc"},
		{name: "uppercase", values: []string{"BEARER abc"}, want: "abc"},
		{name: "several spaces", values: []string{"Bearer   abc"}, want: "abc"},
		{name: "tab", values: []string{"Bearer\tabc"}, want: "abc"},
		{name: "surrounding whitespace", values: []string{" Bearer abc "}, want: "abc"},
		{name: "all b64token chars", values: []string{"Bearer AZaz09-._~+/=="}, want: "AZaz09-._~+/=="},
		{name: "scheme only", values: []string{"Bearer"}, wantErr: validator.ErrMalformedAuthorization},
		{name: "scheme and space", values: []string{"Bearer "}, wantErr: validator.ErrMalformedAuthorization},
		{name: "two tokens", values: []string{"Bearer abc def"}, wantErr: validator.ErrMalformedAuthorization},
		{name: "padding in the middle", values: []string{"Bearer ab=c"}, wantErr: validator.ErrMalformedAuthorization},
		{name: "only padding", values: []string{"Bearer =="}, wantErr: validator.ErrMalformedAuthorization},
		{name: "comma list", values: []string{"Bearer abc, Basic x"}, wantErr: validator.ErrMalformedAuthorization},
		{name: "quoted", values: []string{`Bearer "abc"`}, wantErr: validator.ErrMalformedAuthorization},
		{name: "non-ASCII", values: []string{"Bearer abcé"}, wantErr: validator.ErrMalformedAuthorization},
		{name: "two headers", values: []string{"Bearer a", "Bearer b"}, wantErr: validator.ErrMultipleAuthorization},
		{name: "two headers, one empty", values: []string{"Bearer a", ""}, wantErr: validator.ErrMultipleAuthorization},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.values {
				h.Add("Authorization", v)
			}
			got, err := validator.BearerToken(h)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("token = %q, want %q", got, tt.want)
			}
			if err != nil && len(tt.values) > 0 && tt.values[0] != "" && strings.Contains(err.Error(), tt.values[0]) {
				t.Fatalf("error %q contains the header value", err)
			}
		})
	}
}

func TestBearerTokenErrorKinds(t *testing.T) {
	for _, err := range []error{validator.ErrMalformedAuthorization, validator.ErrMultipleAuthorization} {
		if !errors.Is(err, validator.ErrInvalidRequest) || validator.StatusOf(err) != http.StatusBadRequest {
			t.Errorf("%v: want invalid request, 400", err)
		}
	}
	if errors.Is(validator.ErrNoToken, validator.ErrInvalidRequest) || validator.StatusOf(validator.ErrNoToken) != http.StatusUnauthorized {
		t.Errorf("ErrNoToken: want 401 and not invalid request")
	}
}

func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer a.b.c", "Bearer  x==", "Basic abc", "Bearer", "Bearer a b", "Bearer\t\tz", "", " Bearer y "} {
		f.Add(s, false)
	}
	f.Add("Bearer a", true)
	f.Fuzz(func(t *testing.T, v string, twice bool) {
		h := http.Header{"Authorization": {v}}
		if twice {
			h["Authorization"] = append(h["Authorization"], v)
		}
		tok, err := validator.BearerToken(h)
		if err != nil {
			if tok != "" {
				t.Fatalf("token %q returned with error %v", tok, err)
			}
			if !errors.Is(err, validator.ErrNoToken) && !errors.Is(err, validator.ErrMalformedAuthorization) && !errors.Is(err, validator.ErrMultipleAuthorization) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if twice {
			t.Fatal("accepted two Authorization headers")
		}
		if tok == "" || strings.ContainsAny(tok, " \t\r\n,\"") || !validator.IsB64Token(tok) {
			t.Fatalf("accepted token %q", tok)
		}
		if !strings.HasSuffix(strings.TrimRight(v, " \t"), tok) {
			t.Fatalf("token %q is not the end of %q", tok, v)
		}
	})
}
