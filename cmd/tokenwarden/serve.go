package main

import (
	"net"

	"github.com/spf13/cobra"

	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/internal/config"
	"github.com/tokenwarden/tokenwarden/validator"
)

func newServeCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run the validate service (POST /v1/validate, /healthz, /readyz; admin: /metrics)",
		Long: `Run the validate service with the configuration in FILE.

Environment variables TOKENWARDEN_<SECTION>_<KEY> override file keys
(e.g. TOKENWARDEN_SERVER_ADDR); flags override both.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(file, cmd.Flags())
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			log := newLogger(cfg.Log)
			a, err := build(cfg, log, clock.Real)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			defer a.close()
			ctx := cmd.Context()
			a.start(ctx)
			return validator.Serve(ctx, serverConfig(cfg.Server), a.service.Handler(), a.service.AdminHandler(), log,
				func(main, admin net.Addr) {
					log.Info("tokenwarden serving", "addr", main.String(), "admin_addr", admin.String(), "default_strategy", cfg.DefaultStrategy)
				})
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "configuration file (YAML)")
	_ = cmd.MarkFlagRequired("config")
	config.AddFlags(cmd.Flags())
	return cmd
}
