package app_test

import (
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/tokenwarden/tokenwarden/internal/app"
	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/internal/config"
)

// serveFile loads the configuration at path, builds the service as `serve`
// does and serves its main handler on loopback; both stop at cleanup.
func serveFile(t *testing.T, path string, log *slog.Logger) (*app.App, *httptest.Server) {
	t.Helper()
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Build(cfg, log, clock.Real)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	srv := httptest.NewServer(a.Service().Handler())
	t.Cleanup(srv.Close)
	return a, srv
}
