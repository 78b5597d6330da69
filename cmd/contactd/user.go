package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"contactd/auth"
)

func (a *app) userCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Web users (config users:)"}
	cmd.AddCommand(&cobra.Command{
		Use:   "hash",
		Short: "Read a password (not echoed on a terminal) and print its bcrypt hash for users[].password_hash",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var pw string
			if f, ok := cmd.InOrStdin().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				fmt.Fprint(a.stderr, "password: ")
				b, err := term.ReadPassword(int(f.Fd()))
				fmt.Fprintln(a.stderr)
				if err != nil {
					return err
				}
				pw = string(b)
			} else {
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && line == "" {
					return usageError{errors.New("give the password on standard input")}
				}
				pw = strings.TrimRight(line, "\r\n")
			}
			h, err := auth.Hash(pw)
			if err != nil {
				return usageError{err}
			}
			fmt.Fprintln(a.stdout, h)
			return nil
		},
	})
	return cmd
}
