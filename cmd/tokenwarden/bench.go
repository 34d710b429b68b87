package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenwarden/tokenwarden/bench"
)

func newBenchCmd() *cobra.Command {
	var (
		scenario, strategies, out string
		quick, viaHTTP, asJSON    bool
		concurrency               int
		timeout                   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "bench --scenario NAME|FILE [--strategies a,b,...] [--out DIR] [--quick] [--http] [--json]",
		Short: "Replay a scripted workload through every strategy and compare latency, IdP load and revocation exposure",
		Long: `Replay one generated workload (fixed by the scenario's seed) through each
strategy in turn, each against a fresh in-process Keycloak-compatible IdP
(idpsim) and a freshly built tokenwarden, on a compressed virtual clock.

It answers: validating locally, how long does a revoked token keep working?
Introspecting, how many IdP calls and how much latency? What does tiered buy?

Shipped scenarios (configs/bench): ` + strings.Join(bench.ScenarioNames(), ", ") + `.
Strategies: local (with pushed revocation), local-pure (no revocation store),
introspection, tiered, and the scenario's tiered variants.

Exposure figures are virtual time; latency, throughput and CPU are real time
on this machine (the IdP runs in the same process). --quick scales the
scenario down; --http validates through POST /v1/validate on loopback.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sc, err := bench.LoadScenario(scenario)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if quick {
				sc = sc.Scaled()
			}
			wl, err := bench.Generate(sc)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			var names []string
			if strategies != "" {
				names = strings.Split(strategies, ",")
			}
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			rep, err := bench.Run(ctx, wl, bench.Options{
				Strategies: names, HTTP: viaHTTP, Concurrency: concurrency, Progress: cmd.ErrOrStderr(),
			})
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if out != "" {
				if err := rep.WriteDir(out); err != nil {
					return &exitError{code: 2, err: err}
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "bench: wrote %s/report.md, results.json, results.csv\n", out)
			}
			if asJSON {
				return rep.WriteJSON(cmd.OutOrStdout())
			}
			return rep.WriteTable(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&scenario, "scenario", "", "scenario name (configs/bench/NAME.yaml, built in) or YAML file")
	f.StringVar(&strategies, "strategies", "", "comma-separated strategies (default: all of the scenario)")
	f.StringVar(&out, "out", "", "directory for report.md, results.json, results.csv")
	f.BoolVar(&quick, "quick", false, "scale the scenario down (quick_scale, default 0.1)")
	f.BoolVar(&viaHTTP, "http", false, "validate through the service's POST /v1/validate on loopback")
	f.BoolVar(&asJSON, "json", false, "print results.json to stdout instead of the table")
	f.IntVar(&concurrency, "concurrency", 1, "validations in flight")
	f.DurationVar(&timeout, "timeout", 15*time.Minute, "bound on the whole run (0: none)")
	_ = cmd.MarkFlagRequired("scenario")
	return cmd
}
