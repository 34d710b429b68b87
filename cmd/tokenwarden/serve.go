package main

import (
	"context"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenwarden/tokenwarden/internal/app"
	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/internal/config"
	"github.com/tokenwarden/tokenwarden/validator"
)

func newServeCmd() *cobra.Command {
	var (
		file        string
		reloadEvery time.Duration
	)
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run the validate service (POST /v1/validate, /healthz, /readyz; admin: /metrics)",
		Long: `Run the validate service with the configuration in FILE.

Environment variables TOKENWARDEN_<SECTION>_<KEY> override file keys
(e.g. TOKENWARDEN_SERVER_ADDR); flags override both.

Policies reload live when FILE changes or on SIGHUP: strategies and their
policies, default_strategy, routes, expose_claims, allow_strategy_override,
trusted_proxies and log.level. A new file that does not load is logged and
ignored; changes to issuers, revocation or listeners are refused with
"restart required" (nothing is half-applied).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			loaded := app.FileDigest(file)
			cfg, err := config.Load(file, cmd.Flags())
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			log, level := app.NewLogger(cfg.Log)
			a, err := app.Build(cfg, log, clock.Real, app.WithLevelVar(level), app.WithFlags(cmd.Flags()))
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			defer a.Close()
			ctx := cmd.Context()
			a.Start(ctx)

			// Live reload of policies on file change and on SIGHUP.
			sighup := make(chan os.Signal, 1)
			signal.Notify(sighup, syscall.SIGHUP)
			defer signal.Stop(sighup)
			wctx, stopWatch := context.WithCancel(ctx)
			watched := make(chan struct{})
			go func() {
				defer close(watched)
				a.Watch(wctx, file, loaded, reloadEvery, sighup)
			}()
			defer func() { stopWatch(); <-watched }()

			return validator.Serve(ctx, app.ServerConfig(cfg.Server), a.Service().Handler(), a.Service().AdminHandler(), log,
				func(main, admin net.Addr) {
					log.Info("tokenwarden serving", "addr", main.String(), "admin_addr", admin.String(), "default_strategy", cfg.DefaultStrategy)
				})
		},
	}
	cmd.Flags().DurationVar(&reloadEvery, "reload-interval", 2*time.Second, "how often the config file is checked for changes (SIGHUP reloads at once)")
	cmd.Flags().StringVarP(&file, "config", "c", "", "configuration file (YAML)")
	_ = cmd.MarkFlagRequired("config")
	config.AddFlags(cmd.Flags())
	return cmd
}
