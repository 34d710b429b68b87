package validator_test

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/internal/tokenhash"
	"github.com/tokenwarden/tokenwarden/validator"
)

func TestLogLines(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		t.Run(level.String(), func(t *testing.T) {
			var buf syncBuffer
			logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{
				Level: level,
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				},
			}))
			fx := newFixture(t, func(c *validator.Config) { c.Realm = "r" }, validator.WithLogger(logger), validator.WithClock(clock.NewManual(t0)))
			if fx.svc.Realm() != "r" {
				t.Errorf("Realm() = %q", fx.svc.Realm())
			}
			c := fx.srv.Client()
			do(t, c, fx.srv.URL, call{header: bearer("good")})
			do(t, c, fx.srv.URL, call{header: bearer("exp-tok")})
			do(t, c, fx.srv.URL, call{})
			do(t, c, fx.srv.URL, call{header: bearer("down")})

			var lines []map[string]any
			for l := range strings.Lines(buf.String()) {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("log line %q: %v", l, err)
				}
				lines = append(lines, m)
			}
			want := []string{
				`{"level":"INFO","msg":"token rejected","outcome":"inactive","reason":"exp","status":401,"strategy":"local","error":"inactive token: exp: token expired","took":0,"token_fp":"` + tokenhash.Fingerprint("exp-tok") + `"}`,
				`{"level":"INFO","msg":"token rejected","outcome":"missing","reason":"missing","status":401,"strategy":"local","error":"no bearer token","took":0}`,
				`{"level":"INFO","msg":"token rejected","outcome":"unavailable","reason":"idp_unavailable","status":503,"strategy":"local","error":"validation unavailable: idp_unavailable: identity provider unavailable","took":0,"token_fp":"` + tokenhash.Fingerprint("down") + `"}`,
			}
			if level == slog.LevelDebug {
				want = append([]string{`{"level":"DEBUG","msg":"token accepted","strategy":"local","decided_by":"local","cached":false,"degraded":false,"token_fp":"` + tokenhash.Fingerprint("good") + `","took":0}`}, want...)
			}
			if len(lines) != len(want) {
				t.Fatalf("%d log lines, want %d:\n%s", len(lines), len(want), buf.String())
			}
			for i, w := range want {
				var wm map[string]any
				if err := json.Unmarshal([]byte(w), &wm); err != nil {
					t.Fatal(err)
				}
				gb, _ := json.Marshal(lines[i])
				wb, _ := json.Marshal(wm)
				if string(gb) != string(wb) {
					t.Errorf("line %d =\n%s\nwant\n%s", i, gb, wb)
				}
			}
		})
	}
}
