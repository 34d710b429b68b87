package main

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

// errRestartRequired: the new configuration changes settings that cannot
// change in a running process (issuer connections, listeners, revocation).
var errRestartRequired = errors.New("restart required")

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

// reload applies cfg's live-reloadable settings. A configuration that fails
// to load, validate or build leaves the running one in place.
func (a *app) reload(cfg *config.Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if keys := staticDiff(a.cfg, cfg); len(keys) > 0 {
		return fmt.Errorf("%w: %s changed; the running configuration stays", errRestartRequired, strings.Join(keys, ", "))
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

// watch reloads path when its content changes (polled, so editors' renames
// and Kubernetes ConfigMap symlink swaps are seen) or when sighup fires,
// until ctx is done. loaded is the digest of the file the running
// configuration came from, so a change made before the watch starts is seen.
func (a *app) watch(ctx context.Context, path string, loaded [sha256.Size]byte, every time.Duration, sighup <-chan os.Signal) {
	last := loaded
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sighup:
			last = fileDigest(path)
			a.reloadFile(ctx, path, "sighup")
		case <-t.C:
			if d := fileDigest(path); d != last {
				last = d
				a.reloadFile(ctx, path, "file_change")
			}
		}
	}
}

func (a *app) reloadFile(ctx context.Context, path, cause string) {
	cfg, err := config.Load(path, a.flags)
	if err == nil {
		err = a.reload(cfg)
	}
	if err != nil {
		a.log.LogAttrs(ctx, slog.LevelError, "config reload refused; the running configuration stays",
			slog.String("cause", cause), slog.String("error", err.Error()))
		return
	}
	a.log.LogAttrs(ctx, slog.LevelInfo, "config reloaded", slog.String("cause", cause))
}

func fileDigest(path string) [sha256.Size]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return [sha256.Size]byte{}
	}
	return sha256.Sum256(b)
}
