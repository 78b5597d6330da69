package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/spf13/cobra"

	"contactd/config"
)

func (a *app) stationCmd() *cobra.Command {
	root := &cobra.Command{Use: "station", Short: "Station tokens"}
	tok := &cobra.Command{
		Use:   "token",
		Short: "Make a new station token: the token for the agent, its token_hash for the server's configuration",
		Long: `Prints a random token (256 bits) for the station's agent (contact-agent's token) and
the token_hash to put in the server's stations[] entry instead of the token itself, so the
server's configuration holds no usable secret. A revoked token (POST
/api/v1/stations/{station}/revoke) is replaced this way.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := make([]byte, 32)
			if _, err := rand.Read(b); err != nil {
				return err
			}
			t := base64.RawURLEncoding.EncodeToString(b)
			fmt.Fprintf(cmd.OutOrStdout(), "token:      %s\ntoken_hash: %s\n", t, config.HashToken(t))
			return nil
		},
	}
	root.AddCommand(tok)
	return root
}
