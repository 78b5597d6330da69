package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"contactd/certs"
)

func (a *app) tlsCmd() *cobra.Command {
	root := &cobra.Command{Use: "tls", Short: "HTTPS for a clinic LAN"}
	var hosts, out string
	var days int
	self := &cobra.Command{
		Use:   "selfsigned --host NAME[,ADDR…] --out DIR [--days 825]",
		Short: "Make a self-signed certificate (DIR/contactd.crt, DIR/contactd.key) for tls.cert_file and tls.key_file",
		Long: `Writes DIR/contactd.crt and DIR/contactd.key (mode 0600), valid for the host names and
addresses given (every name the desks and browsers use to reach the server). Give the
.crt to each desk agent as server_ca and install it as trusted in the browsers that open
the pages; keep the .key on the server only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if hosts == "" || out == "" {
				return usageError{errors.New("--host and --out are required")}
			}
			crt, key, err := certs.SelfSigned(strings.Split(hosts, ","), time.Duration(days)*24*time.Hour)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o750); err != nil {
				return err
			}
			cp, kp := filepath.Join(out, "contactd.crt"), filepath.Join(out, "contactd.key")
			for _, p := range []string{cp, kp} {
				if _, err := os.Stat(p); err == nil {
					return fmt.Errorf("%s exists: not overwritten", p)
				}
			}
			if err := os.WriteFile(kp, key, 0o600); err != nil {
				return err
			}
			if err := os.WriteFile(cp, crt, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tls:\n  cert_file: %s\n  key_file: %s\n", cp, kp)
			return nil
		},
	}
	self.Flags().StringVar(&hosts, "host", "", "host names and addresses, comma-separated (e.g. contactd.clinic.lan,192.168.1.10)")
	self.Flags().StringVar(&out, "out", "", "directory to write contactd.crt and contactd.key to")
	self.Flags().IntVar(&days, "days", 825, "validity in days")
	root.AddCommand(self)
	return root
}
