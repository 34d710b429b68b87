package app

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/tokenwarden/tokenwarden/internal/config"
	"github.com/tokenwarden/tokenwarden/strategy"
	"github.com/tokenwarden/tokenwarden/validator"
)

// newAuthHandler builds forward-auth (/v1/auth) for cfg's routes over the
// instrumented strategies.
func newAuthHandler(cfg *config.Config, strategies map[string]strategy.Strategy, svc *validator.Service, log *slog.Logger) (http.Handler, error) {
	var proxies []netip.Prefix
	for i, c := range cfg.Server.TrustedProxies {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("server.trusted_proxies[%d]: %w", i, err)
		}
		proxies = append(proxies, p)
	}
	routes := make([]validator.Route, len(cfg.Routes))
	for i, r := range cfg.Routes {
		routes[i] = validator.Route{Name: r.Name, Methods: r.Methods, Path: r.Path, Host: r.Host, Scopes: r.Scopes,
			Roles: r.Roles, Strategy: r.Strategy, Sensitive: r.Sensitive, OnUnavailable: r.OnUnavailable, Public: r.Public}
	}
	return validator.NewAuthHandler(strategies, validator.AuthConfig{
		Routes: routes, DefaultStrategy: cfg.DefaultStrategy, TrustedProxies: proxies,
		HeaderPrefix: cfg.Server.AuthHeaderPrefix, Realm: svc.Realm(),
	}, validator.WithLogger(log))
}
