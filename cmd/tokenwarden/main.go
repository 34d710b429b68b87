// Command tokenwarden validates OAuth2/OIDC bearer tokens for resource
// servers: an HTTP validate service (serve), a one-shot checker (check), a
// development mode on a built-in Keycloak-compatible issuer (dev) and that
// issuer alone (idp).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// exitError carries a process exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.code == 2 {
			fmt.Fprintln(os.Stderr, "tokenwarden:", ee.err)
		}
		stop()
		os.Exit(ee.code)
	}
	fmt.Fprintln(os.Stderr, "tokenwarden:", err)
	stop()
	os.Exit(2)
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "tokenwarden",
		Short: "Validate OAuth2/OIDC bearer tokens: locally, by introspection, or tiered",
		Long: `tokenwarden decides, per request, whether a bearer token is good.

It verifies JWT access tokens locally against the issuer's JWKS (RFC 7519,
RFC 8725), and is built to ask the IdP (RFC 7662 introspection) only when it
matters. Start with "tokenwarden dev".`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newCheckCmd(), newDevCmd(), newIdpCmd(), newBenchCmd())
	return root
}
