package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tokenwarden/tokenwarden/idpsim"
)

func newIdpCmd() *cobra.Command {
	var addr, file string
	cmd := &cobra.Command{
		Use:   "idp [--addr HOST:PORT] [--config REALMS.yaml]",
		Short: "Run the Keycloak-compatible IdP simulator alone",
		Long: `Run idpsim, the Keycloak-compatible IdP simulator, on --addr.

With no --config it serves realm "dev": confidential client demo /
demo-secret (client_credentials, password grant, introspection) and user
alice / alice. A realms file (see idpsim/testdata/realms.yaml) configures
anything else. Keycloak's paths: /realms/{realm}/.well-known/openid-configuration
and /realms/{realm}/protocol/openid-connect/{certs,token,token/introspect,revoke,logout}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := idpsim.DefaultConfig()
			if file != "" {
				var err error
				if cfg, err = idpsim.LoadConfig(file); err != nil {
					return &exitError{code: 2, err: err}
				}
			}
			srv, err := idpsim.Start(cfg, addr)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			defer srv.Close()
			out := cmd.OutOrStdout()
			for _, r := range cfg.Realms {
				fmt.Fprintf(out, "ISSUER=%s\n", srv.Issuer(r.Name))
			}
			if file == "" {
				fmt.Fprintf(out, "\n# Mint a token:\ncurl -s -u demo:demo-secret -d grant_type=client_credentials %s/protocol/openid-connect/token\n", srv.Issuer("dev"))
			}
			<-cmd.Context().Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8180", "listen address")
	cmd.Flags().StringVarP(&file, "config", "c", "", "realms file (YAML)")
	return cmd
}
