package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenwarden/tokenwarden/configs"
	"github.com/tokenwarden/tokenwarden/idpsim"
	"github.com/tokenwarden/tokenwarden/internal/app"
	"github.com/tokenwarden/tokenwarden/internal/clock"
	"github.com/tokenwarden/tokenwarden/internal/config"
	"github.com/tokenwarden/tokenwarden/validator"
)

// The dev issuer's credentials, as in the README.
const (
	devRealm        = "dev"
	devClientID     = "demo"
	devClientSecret = "demo-secret"
	envClientSecret = "TOKENWARDEN_DEV_CLIENT_SECRET"
	envAdminSecret  = "TOKENWARDEN_DEV_ADMIN_SECRET"
)

type devAddrs struct {
	addr, admin, idp string
}

// loadDevConfig loads the embedded configs/dev.yaml, pointed at the dev
// issuer on a.idp and listening on a.addr and a.admin (empty: file values).
func loadDevConfig(a devAddrs) (*config.Config, error) {
	if os.Getenv(envClientSecret) == "" {
		_ = os.Setenv(envClientSecret, devClientSecret)
	}
	if os.Getenv(envAdminSecret) == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		_ = os.Setenv(envAdminSecret, hex.EncodeToString(b))
	}
	cfg, err := config.LoadBytes("dev.yaml", configs.Dev, nil)
	if err != nil {
		return nil, err
	}
	if a.idp != "" {
		for i := range cfg.Issuers {
			cfg.Issuers[i].Issuer = "http://" + a.idp + "/realms/" + devRealm
			cfg.Issuers[i].DiscoveryURL = cfg.Issuers[i].Issuer + "/.well-known/openid-configuration"
		}
	}
	if a.addr != "" {
		cfg.Server.Addr = a.addr
	}
	if a.admin != "" {
		cfg.Server.AdminAddr = a.admin
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// concrete turns a ":0" address into a free concrete one, so that URLs that
// must be known before listening (the IdP's back-channel logout URL) work.
func concrete(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if port != "0" {
		return addr, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func newDevCmd() *cobra.Command {
	var a devAddrs
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the service against a built-in Keycloak-compatible issuer (make run)",
		Long: `Start the built-in IdP simulator (realm "dev": confidential client demo /
demo-secret with client_credentials, password grant and introspection; user
alice / alice) and the validate service against it, print ISSUER,
VALIDATE_URL, ADMIN_URL and a fresh TOKEN, then curl lines to try. Runs until
interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDev(cmd.Context(), a, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&a.addr, "addr", "127.0.0.1:8080", "validate API listen address")
	f.StringVar(&a.admin, "admin-addr", "127.0.0.1:8081", "admin listen address (metrics, revocation)")
	f.StringVar(&a.idp, "idp-addr", "127.0.0.1:8180", "dev issuer listen address")
	return cmd
}

func runDev(ctx context.Context, a devAddrs, out io.Writer) error {
	var err error
	for _, p := range []*string{&a.addr, &a.admin, &a.idp} {
		if *p, err = concrete(*p); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	icfg := idpsim.DefaultConfig()
	for ri := range icfg.Realms {
		for ci := range icfg.Realms[ri].Clients {
			c := &icfg.Realms[ri].Clients[ci]
			if c.ClientID == devClientID {
				c.BackchannelLogoutURL = "http://" + a.admin + "/v1/backchannel-logout"
				c.AdminURL = "http://" + a.admin
			}
		}
	}
	idp, err := idpsim.Start(icfg, a.idp)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("dev issuer: %w", err)}
	}
	defer idp.Close()

	cfg, err := loadDevConfig(a)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	log, level := app.NewLogger(cfg.Log)
	tw, err := app.Build(cfg, log, clock.Real, app.WithLevelVar(level))
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	defer tw.Close()
	tw.Start(ctx)

	return validator.Serve(ctx, app.ServerConfig(cfg.Server), tw.Service().Handler(), tw.Service().AdminHandler(), log,
		func(mainAddr, adminAddr net.Addr) {
			tok, err := idp.ClientCredentials(devRealm, devClientID)
			if err != nil {
				log.Error("dev: minting a token failed", "err", err)
				return
			}
			// Wait (bounded) for the keys so the first curl is not a 503.
			deadline := time.Now().Add(5 * time.Second)
			for !tw.Ready() && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			printDev(out, idp.Issuer(devRealm), "http://"+mainAddr.String(), "http://"+adminAddr.String(), tok.AccessToken)
		})
}

func printDev(w io.Writer, issuer, base, admin, token string) {
	fmt.Fprintf(w, "ISSUER=%s\n", issuer)
	fmt.Fprintf(w, "VALIDATE_URL=%s/v1/validate\n", base)
	fmt.Fprintf(w, "ADMIN_URL=%s\n", admin)
	fmt.Fprintf(w, "TOKEN=%s\n", token)
	fmt.Fprintf(w, `
# Validate the token above (expect HTTP 200 and "active": true):
curl -s -X POST -H 'Authorization: Bearer %s' %s/v1/validate

# Mint a fresh token (client_credentials), or one for alice (password grant):
curl -s -u %s:%s -d grant_type=client_credentials %s/protocol/openid-connect/token
curl -s -u %s:%s -d grant_type=password -d username=alice -d password=alice %s/protocol/openid-connect/token

# Require a scope the token lacks (expect 403 insufficient_scope):
curl -s -X POST -H 'Content-Type: application/json' -d '{"token":"%s","scopes":["admin"]}' %s/v1/validate

# Metrics:
curl -s %s/metrics | grep ^tokenwarden_decisions_total
`, token, base, devClientID, devClientSecret, issuer, devClientID, devClientSecret, issuer, token, base, admin)
}
