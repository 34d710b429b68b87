package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenwarden/tokenwarden/internal/app"
	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/internal/config"
	"github.com/tokenwarden/tokenwarden/strategy"
)

// checkOutput is what check prints: the Result, or the refusal.
type checkOutput struct {
	Active   bool             `json:"active"`
	Result   *strategy.Result `json:"result,omitempty"`
	Error    string           `json:"error,omitempty"`
	Kind     string           `json:"kind,omitempty"`
	Reason   strategy.Reason  `json:"reason,omitempty"`
	Detail   string           `json:"detail,omitempty"`
	Strategy string           `json:"strategy"`
}

func newCheckCmd() *cobra.Command {
	var (
		file, strat string
		scopes      []string
		roles       []string
		sensitive   bool
		timeout     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "check [--config FILE] [TOKEN|-]",
		Short: "Validate one token and print the result as JSON",
		Long: `Validate one token with the configured strategy and print the Result, or the
refusal, as JSON. TOKEN "-" or no TOKEN reads it from standard input.

Without --config, check uses the dev configuration (the issuer that
"tokenwarden dev" or "tokenwarden idp" runs on 127.0.0.1:8180).

Exit status: 0 accepted, 1 rejected, 2 unavailable or usage error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			token := ""
			if len(args) == 1 && args[0] != "-" {
				token = args[0]
			} else {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				token = strings.TrimSpace(firstLine(string(b)))
			}
			if token == "" {
				return &exitError{code: 2, err: errors.New("no token given")}
			}
			cfg, err := loadCheckConfig(file, cmd)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			log := slog.New(slog.DiscardHandler)
			a, err := app.Build(cfg, log, clock.Real)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			defer a.Close()
			name := strat
			if name == "" {
				name = cfg.DefaultStrategy
			}
			s, ok := a.Strategy(name)
			if !ok {
				return &exitError{code: 2, err: fmt.Errorf("unknown strategy %q", name)}
			}
			ctx, cancel := contextWithTimeout(cmd, timeout)
			defer cancel()
			res, verr := s.Validate(ctx, strategy.Request{Token: token, Scopes: scopes, Roles: roles, Sensitive: sensitive})
			out := checkOutput{Active: verr == nil, Result: res, Strategy: name}
			code := 0
			if verr != nil {
				out.Kind = strategy.Outcome(verr)
				out.Reason = strategy.ReasonOf(verr)
				var se *strategy.Error
				if errors.As(verr, &se) {
					out.Detail = se.Detail
				}
				out.Error = out.Kind
				code = 1
				if errors.Is(verr, strategy.ErrUnavailable) {
					code = 2
				}
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			if err := enc.Encode(out); err != nil {
				return &exitError{code: 2, err: err}
			}
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "config", "c", "", "configuration file (default: the dev configuration)")
	f.StringVar(&strat, "strategy", "", "strategy name (default: default_strategy)")
	f.StringSliceVar(&scopes, "scope", nil, "required scope (repeatable)")
	f.StringSliceVar(&roles, "role", nil, "required role: realm role or client:role (repeatable)")
	f.BoolVar(&sensitive, "sensitive", false, "mark the request sensitive")
	f.DurationVar(&timeout, "timeout", 10*time.Second, "give up after this long")
	return cmd
}

func firstLine(s string) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	if sc.Scan() {
		return sc.Text()
	}
	return ""
}

func loadCheckConfig(file string, cmd *cobra.Command) (*config.Config, error) {
	if file != "" {
		return config.Load(file, cmd.Flags())
	}
	return loadDevConfig(devAddrs{})
}

func contextWithTimeout(cmd *cobra.Command, d time.Duration) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, d)
}
