package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tokenwarden/tokenwarden/bench"
	"github.com/tokenwarden/tokenwarden/internal/config"
)

// The environment variables real-issuer mode reads secrets from (a secret
// is never a flag: flags show up in ps and shell history).
const (
	envBenchClientSecret = "TOKENWARDEN_BENCH_CLIENT_SECRET"
	envBenchPassword     = "TOKENWARDEN_BENCH_PASSWORD"
)

// issuerWarningDelay is how long real-issuer mode waits after its warning
// (interruptible) unless --yes.
const issuerWarningDelay = 3 * time.Second

type benchFlags struct {
	scenario, strategies, out string
	quick, viaHTTP, asJSON    bool
	noGrid                    bool
	concurrency               int
	timeout                   time.Duration
	cons                      bench.ConstraintSpec

	issuer, clientID, clientSecretFile string
	grant, username, passwordFile      string
	scope, tokenProfile                string
	audiences                          []string
	rate                               float64
	tokens, requests, revoke           int
	yes                                bool
}

func newBenchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench --scenario NAME|FILE [--strategies a,b,...] [--out DIR] [--quick] [--http] [--json] | bench --issuer URL --client-id ID [...]",
		Short: "Replay a scripted workload through every strategy and compare latency, IdP load and revocation exposure",
		Long: `Replay one generated workload (fixed by the scenario's seed) through each
strategy in turn, each against a fresh in-process Keycloak-compatible IdP
(idpsim) and a freshly built tokenwarden, on a compressed virtual clock.

It answers: validating locally, how long does a revoked token keep working?
Introspecting, how many IdP calls and how much latency? What does tiered buy?

Shipped scenarios (configs/bench): ` + strings.Join(bench.ScenarioNames(), ", ") + `.
Strategies: local (with pushed revocation), local-pure (no revocation store),
introspection, tiered, the scenario's tiered variants, and its grid of tiered
settings (g01, g02, ...; --no-grid skips them).

Verdict: the cheapest tiered configuration (fewest IdP calls) meeting every
constraint, with the YAML to paste, or the constraint that binds. Constraints
come from the scenario and these flags:
  --max-idp-rps N     IdP calls per second under the scenario's declared
                      (un-scaled) request rate
  --max-exposure X    60s: a revoked token keeps working at most this long
                      (max over revoked tokens); 5req: at most 5 requests
                      accepted after revocation in the run; 2%: at most 2 %
                      of post-revocation requests accepted
  --max-p99 D         99th percentile latency, e.g. 2ms

Exposure figures are virtual time; latency, throughput and CPU are real time
on this machine (the IdP runs in the same process). --quick scales the
scenario down; --http validates through POST /v1/validate on loopback.
--out writes report.md (verdict first, figures embedded), PNG and SVG
figures, results.json and results.csv.

Real-issuer mode (--issuer URL) measures local, introspection and tiered
against a real IdP in real time: it mints a pool of tokens per strategy at
the IdP's token endpoint (client_credentials, or password with --username),
validates --requests requests with them, and, where discovery names an
RFC 7009 revocation_endpoint, revokes some halfway and counts what each
strategy still accepts. Every request to the IdP, minting included, waits
for --rate per second. Secrets: --client-secret-file or
` + envBenchClientSecret + `; --password-file or ` + envBenchPassword + `.
Strategy settings come from --scenario (default keycloak-default). It prints
what it will do and waits 3 s unless --yes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.issuer != "" {
				return runBenchIssuer(cmd, &f)
			}
			if f.scenario == "" {
				return &exitError{code: 2, err: errors.New("bench: --scenario is required (or --issuer for real-issuer mode)")}
			}
			return runBenchScenario(cmd, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.scenario, "scenario", "", "scenario name (configs/bench/NAME.yaml, built in) or YAML file")
	fl.StringVar(&f.strategies, "strategies", "", "comma-separated strategies (default: all of the scenario)")
	fl.StringVar(&f.out, "out", "", "directory for report.md, figures (PNG, SVG), results.json, results.csv")
	fl.BoolVar(&f.quick, "quick", false, "scale the scenario down (quick_scale, default 0.1)")
	fl.BoolVar(&f.viaHTTP, "http", false, "validate through the service's POST /v1/validate on loopback")
	fl.BoolVar(&f.asJSON, "json", false, "print results.json to stdout instead of the table")
	fl.BoolVar(&f.noGrid, "no-grid", false, "skip the scenario's grid of tiered settings")
	fl.IntVar(&f.concurrency, "concurrency", 1, "validations in flight")
	fl.DurationVar(&f.timeout, "timeout", 15*time.Minute, "bound on the whole run (0: none)")
	fl.StringVar(&f.cons.MaxIdPRPS, "max-idp-rps", "", "verdict constraint: IdP calls per second at the scenario's declared rate")
	fl.StringVar(&f.cons.MaxExposure, "max-exposure", "", "verdict constraint: 60s (max still working), 5req (accepted after revocation) or 2% (share)")
	fl.StringVar(&f.cons.MaxP99, "max-p99", "", "verdict constraint: p99 latency, e.g. 2ms")

	fl.StringVar(&f.issuer, "issuer", "", "real-issuer mode: the IdP's issuer URL (discovery)")
	fl.StringVar(&f.clientID, "client-id", "", "real-issuer mode: confidential client minting, introspecting and revoking")
	fl.StringVar(&f.clientSecretFile, "client-secret-file", "", "real-issuer mode: file holding the client secret (else $"+envBenchClientSecret+")")
	fl.StringVar(&f.grant, "grant", bench.GrantClientCredentials, "real-issuer mode: client_credentials or password")
	fl.StringVar(&f.username, "username", "", "real-issuer mode: user of the password grant")
	fl.StringVar(&f.passwordFile, "password-file", "", "real-issuer mode: file holding the user's password (else $"+envBenchPassword+")")
	fl.StringVar(&f.scope, "scope", "", "real-issuer mode: scope requested with each token")
	fl.StringSliceVar(&f.audiences, "audience", nil, "real-issuer mode: accepted aud values (default: none; azp must be --client-id)")
	fl.StringVar(&f.tokenProfile, "token-profile", "keycloak", "real-issuer mode: keycloak, rfc9068 or generic")
	fl.Float64Var(&f.rate, "rate", bench.DefaultIssuerRate, "real-issuer mode: cap on requests to the IdP per second, minting included")
	fl.IntVar(&f.tokens, "tokens", 20, "real-issuer mode: tokens minted per strategy")
	fl.IntVar(&f.requests, "requests", 200, "real-issuer mode: validations per strategy")
	fl.IntVar(&f.revoke, "revoke", -1, "real-issuer mode: tokens revoked halfway per strategy (default tokens/5; 0: none)")
	fl.BoolVar(&f.yes, "yes", false, "real-issuer mode: start without the 3 s pause after the warning")
	return cmd
}

func (f *benchFlags) context(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if f.timeout > 0 {
		return context.WithTimeout(ctx, f.timeout)
	}
	return context.WithCancel(ctx)
}

func runBenchScenario(cmd *cobra.Command, f *benchFlags) error {
	sc, err := bench.LoadScenario(f.scenario)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	cons, err := sc.Constraints.Override(f.cons).Parse()
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("bench: %w", err)}
	}
	if f.quick {
		sc = sc.Scaled()
	}
	wl, err := bench.Generate(sc)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	var names []string
	if f.strategies != "" {
		names = strings.Split(f.strategies, ",")
	}
	ctx, cancel := f.context(cmd)
	defer cancel()
	o := bench.Options{Strategies: names, HTTP: f.viaHTTP, Concurrency: f.concurrency, NoGrid: f.noGrid, Constraints: &cons}
	bar := newProgress(cmd.ErrOrStderr(), f.asJSON)
	if bar != nil {
		o.OnProgress = bar.update
		defer bar.finish()
	} else {
		o.Progress = cmd.ErrOrStderr()
	}
	rep, err := bench.Run(ctx, wl, o)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	bar.finish()
	return writeBenchReport(cmd, f, rep)
}

func writeBenchReport(cmd *cobra.Command, f *benchFlags, rep *bench.Report) error {
	if f.out != "" {
		if err := rep.WriteDir(f.out); err != nil {
			return &exitError{code: 2, err: err}
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "bench: wrote %s/report.md, %d figures, results.json, results.csv\n", f.out, len(rep.Plots))
	}
	if f.asJSON {
		return rep.WriteJSON(cmd.OutOrStdout())
	}
	return rep.WriteTable(cmd.OutOrStdout())
}

func runBenchIssuer(cmd *cobra.Command, f *benchFlags) error {
	name := f.scenario
	if name == "" {
		name = "keycloak-default"
	}
	sc, err := bench.LoadScenario(name)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	cons, err := sc.Constraints.Override(f.cons).Parse()
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("bench: %w", err)}
	}
	secret, err := readSecret(f.clientSecretFile, envBenchClientSecret)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("bench: client secret: %w", err)}
	}
	o := bench.IssuerOptions{
		Issuer: f.issuer, ClientID: f.clientID, ClientSecret: secret, Grant: f.grant, Username: f.username, Scope: f.scope,
		RateCap: f.rate, Tokens: f.tokens, Requests: f.requests, Revoke: f.revoke, NoRevoke: f.revoke == 0,
		SensitiveShare: sc.SensitiveShare, Introspection: sc.Introspection, Tiered: sc.Tiered,
		Audiences: f.audiences, TokenProfile: f.tokenProfile, DeclaredRate: sc.DeclaredRate(), Constraints: cons, Seed: sc.Seed,
	}
	if f.revoke < 0 {
		o.Revoke = 0 // the default
	}
	if f.strategies != "" {
		o.Strategies = strings.Split(f.strategies, ",")
	}
	if o.Grant == bench.GrantPassword {
		if o.Password, err = readSecret(f.passwordFile, envBenchPassword); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("bench: password: %w", err)}
		}
	}
	ctx, cancel := f.context(cmd)
	defer cancel()
	if err := o.Validate(); err != nil {
		return &exitError{code: 2, err: err}
	}
	stderr := cmd.ErrOrStderr()
	fmt.Fprintf(stderr, "WARNING: %s\n", bench.PlanIssuer(o))
	if !f.yes {
		fmt.Fprintf(stderr, "Starting in %s (Ctrl-C to stop; --yes skips this pause).\n", issuerWarningDelay)
		t := time.NewTimer(issuerWarningDelay)
		select {
		case <-ctx.Done():
			t.Stop()
			return &exitError{code: 2, err: ctx.Err()}
		case <-t.C:
		}
	}
	bar := newProgress(stderr, f.asJSON)
	if bar != nil {
		o.OnProgress = bar.update
		defer bar.finish()
	} else {
		o.Progress = stderr
	}
	rep, err := bench.RunIssuer(ctx, o)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	bar.finish()
	return writeBenchReport(cmd, f, rep)
}

// readSecret reads a secret from file, or else from the environment
// variable env.
func readSecret(file, env string) ([]byte, error) {
	if file != "" {
		return config.Secret{File: file}.Read()
	}
	return config.Secret{Env: env}.Read()
}

// progress is the terminal progress bar of a bench run: one bar over every
// strategy's requests, described by the strategy replaying.
type progress struct {
	w    *os.File
	bar  *progressbar.ProgressBar
	last string
	done bool
}

// newProgress returns a bar on w when w is a terminal and the output is not
// JSON; nil otherwise (a pipe or a file gets the plain phase lines).
func newProgress(w io.Writer, asJSON bool) *progress {
	fd, ok := w.(*os.File)
	if asJSON || !ok || !term.IsTerminal(int(fd.Fd())) {
		return nil
	}
	return &progress{w: fd}
}

func (p *progress) update(pr bench.Progress) {
	if p.bar == nil {
		p.bar = progressbar.NewOptions64(int64(pr.Count*pr.Total),
			progressbar.OptionSetWriter(p.w), progressbar.OptionSetWidth(30), progressbar.OptionShowCount(),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish(),
			progressbar.OptionSetPredictTime(true))
	}
	if d := fmt.Sprintf("%-16s %d/%d", pr.Strategy, pr.Index+1, pr.Count); d != p.last {
		p.bar.Describe(d)
		p.last = d
	}
	_ = p.bar.Set64(int64(pr.Index*pr.Total + pr.Done))
}

// finish clears the bar (idempotent; nil-safe).
func (p *progress) finish() {
	if p == nil || p.done || p.bar == nil {
		return
	}
	p.done = true
	_ = p.bar.Finish() // clears the line: the report follows
}
