package app

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/tokenwarden/tokenwarden/internal/config"
)

// ErrRestartRequired: the new configuration changes settings that cannot
// change in a running process (issuer connections, listeners, revocation).
var ErrRestartRequired = errors.New("restart required")

// staticDiff names the keys whose change needs a restart. Everything else —
// strategies and their policies, default_strategy, routes, expose_claims,
// allow_strategy_override, trusted_proxies and log.level — reloads live.
func staticDiff(old, cur *config.Config) []string {
	var keys []string
	if !reflect.DeepEqual(old.Issuers, cur.Issuers) {
		keys = append(keys, "issuers")
	}
	if !reflect.DeepEqual(old.Revocation, cur.Revocation) {
		keys = append(keys, "revocation")
	}
	o, c := old.Server, cur.Server
	o.AllowStrategyOverride, c.AllowStrategyOverride = false, false
	o.ExposeClaims, c.ExposeClaims = nil, nil
	o.TrustedProxies, c.TrustedProxies = nil, nil
	if !reflect.DeepEqual(o, c) {
		keys = append(keys, "server (listeners, limits, timeouts, api_keys)")
	}
	if old.Log.Format != cur.Log.Format {
		keys = append(keys, "log.format")
	}
	return keys
}

// Reload applies cfg's live-reloadable settings. A configuration that fails
// to validate or build, or changes what needs a restart (ErrRestartRequired),
// leaves the running one in place. Safe to call while requests are served.
func (a *App) Reload(cfg *config.Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if keys := staticDiff(a.cfg, cfg); len(keys) > 0 {
		return fmt.Errorf("%w: %s changed; the running configuration stays", ErrRestartRequired, strings.Join(keys, ", "))
	}
	strategies, err := a.buildStrategies(cfg)
	if err != nil {
		return err
	}
	if err := a.service.Update(a.validatorConfig(cfg, strategies)); err != nil {
		return err
	}
	if err := a.updateAuth(cfg, strategies); err != nil {
		return err
	}
	a.strategies = strategies
	a.cfg = cfg
	if a.level != nil {
		_ = a.level.UnmarshalText([]byte(cfg.Log.Level))
	}
	return nil
}

// Watch reloads path when its content changes (polled, so editors' renames
// and Kubernetes ConfigMap symlink swaps are seen) or when sighup fires,
// until ctx is done. loaded is the digest of the file the running
// configuration came from, so a change made before the watch starts is seen.
func (a *App) Watch(ctx context.Context, path string, loaded [sha256.Size]byte, every time.Duration, sighup <-chan os.Signal) {
	last := loaded
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sighup:
			last = FileDigest(path)
			a.reloadFile(ctx, path, "sighup")
		case <-t.C:
			if d := FileDigest(path); d != last {
				last = d
				a.reloadFile(ctx, path, "file_change")
			}
		}
	}
}

func (a *App) reloadFile(ctx context.Context, path, cause string) {
	cfg, err := config.Load(path, a.flags)
	if err == nil {
		err = a.Reload(cfg)
	}
	if err != nil {
		a.log.LogAttrs(ctx, slog.LevelError, "config reload refused; the running configuration stays",
			slog.String("cause", cause), slog.String("error", err.Error()))
		return
	}
	a.log.LogAttrs(ctx, slog.LevelInfo, "config reloaded", slog.String("cause", cause))
}

// FileDigest is the SHA-256 of path's content (zero if it cannot be read),
// for Watch's loaded argument: take it before loading the file.
func FileDigest(path string) [sha256.Size]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return [sha256.Size]byte{}
	}
	return sha256.Sum256(b)
}
