package main

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"contactd/evidence"
	"contactd/retention"
	"contactd/storage"
)

// exitAltered: verify found a file altered, missing or added.
const exitAltered = 4

func (a *app) evidenceCmd() *cobra.Command {
	root := &cobra.Command{Use: "evidence", Short: "The signing key and the signed day manifests"}
	var out, store, day, site string
	keygen := &cobra.Command{
		Use:   "keygen --out FILE",
		Short: "Make an Ed25519 signing key (evidence.signing_key) and print its public key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageError{errors.New("--out FILE is required")}
			}
			pub, err := evidence.GenerateKey(out)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "signing key written to %s (mode 0600; key id %s). Its public key, for evidence.public_key:\n", out, evidence.KeyID(pub))
			cmd.OutOrStdout().Write(evidence.PublicPEM(pub))
			return nil
		},
	}
	keygen.Flags().StringVar(&out, "out", "", "file to write the private key to (refuses to overwrite)")
	sign := &cobra.Command{
		Use:   "sign --day YYYY-MM-DD [--site ID] [--store DIR|s3://…]",
		Short: "Sign a day's manifest now (contactd serve signs each day once it has ended)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.cfg.Evidence.SigningKey == "" {
				return usageError{errors.New("evidence.signing_key is not set (contactd evidence keygen makes a key)")}
			}
			priv, err := evidence.LoadPrivateKey(a.cfg.Evidence.SigningKey)
			if err != nil {
				return err
			}
			arc, err := a.openArchive(cmd.Context(), store)
			if err != nil {
				return err
			}
			if site == "" {
				site = a.cfg.Site
			}
			m, err := evidence.Build(cmd.Context(), arc.Store, site, day, priv)
			if err != nil {
				return err
			}
			key, err := evidence.Save(cmd.Context(), arc.Store, m)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d contacts, head %s, signed by key %s\n", key, len(m.Entries), m.Head, m.KeyID)
			return nil
		},
	}
	sign.Flags().StringVar(&day, "day", "", "the day, YYYY-MM-DD in the site's timezone")
	sign.Flags().StringVar(&site, "site", "", "site (default: config site)")
	sign.Flags().StringVar(&store, "store", "", "directory or s3://bucket/prefix (default: config store)")
	root.AddCommand(keygen, sign)
	return root
}

func (a *app) verifyCmd() *cobra.Command {
	var store, day, site, id, pubFile string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify (--day YYYY-MM-DD | --contact ID | CLIP-OR-SIDECAR-KEY) [--site ID] [--store …] [--public-key FILE] [--json]",
		Short: "Check recordings against their hashes and the signed day manifest; names every altered file",
		Long: `--day checks a whole day: the manifest's signature (with evidence.public_key, or the
public half of evidence.signing_key, or --public-key), its chain, its link to the day
before, every clip's and sidecar's SHA-256, and that no contact was added after signing.
Contacts deleted by retention are listed as removed, not as missing.
--contact ID or a key checks one contact: its clip against the hash in its sidecar, and,
when its day is signed, the day as well.
Exit status 0: intact; 4: something was altered, missing or added (each named).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			arc, err := a.openArchive(cmd.Context(), store)
			if err != nil {
				return err
			}
			if site == "" {
				site = a.cfg.Site
			}
			var pub ed25519.PublicKey
			if pubFile == "" {
				pubFile = a.cfg.Evidence.PublicKey
			}
			if pubFile == "" {
				pubFile = a.cfg.Evidence.SigningKey
			}
			if pubFile != "" {
				if pub, err = evidence.LoadPublicKey(pubFile); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			var sidecar string
			switch {
			case day != "" && (id != "" || len(args) > 0), id != "" && len(args) > 0:
				return usageError{errors.New("give one of --day, --contact or a key")}
			case id != "":
				ix, err := arc.LoadIndex(ctx)
				if err != nil {
					return err
				}
				for i := range ix.Contacts {
					if e := &ix.Contacts[i]; e.ID == id {
						sidecar, day, site = arc.SidecarKeyOf(e), arc.Day(e), e.Site
					}
				}
				if sidecar == "" {
					return fmt.Errorf("contact %s: not in the index", id)
				}
			case len(args) == 1:
				sidecar = storage.SidecarKey(args[0])
				// clips/{site}/{station}/{yyyy}/{mm}/{dd}/{id}.{ext}
				if p := strings.Split(sidecar, "/"); len(p) == 7 && p[0] == "clips" {
					site, day = p[1], p[3]+"-"+p[4]+"-"+p[5]
				}
			case day == "":
				return usageError{errors.New("give --day, --contact or a key")}
			}
			rep := &evidence.Report{Problems: []evidence.Problem{}}
			if sidecar != "" {
				if rep, err = evidence.VerifyClip(ctx, arc.Store, sidecar); err != nil {
					return err
				}
			}
			var dayRep *evidence.Report
			if day != "" && pub != nil {
				dayRep, err = evidence.VerifyDay(ctx, arc.Store, site, day, pub)
				if err != nil && sidecar == "" {
					return err
				}
				if err != nil {
					fmt.Fprintf(a.stderr, "day %s not checked: %v\n", day, err)
					dayRep = nil
				}
			} else if day != "" && sidecar == "" {
				return usageError{errors.New("verifying a day needs a public key: evidence.public_key, evidence.signing_key or --public-key")}
			}
			if dayRep != nil {
				if sidecar != "" { // one contact: only its own files' findings, and the manifest's
					clip := strings.TrimSuffix(sidecar, ".json")
					for _, p := range dayRep.Problems {
						if p.File == sidecar || strings.HasPrefix(p.File, clip+".") || strings.HasPrefix(p.File, "manifests/") {
							rep.Problems = append(rep.Problems, p)
						}
					}
					rep.Manifest = dayRep.Manifest
				} else {
					rep = dayRep
				}
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{"ok": rep.OK(), "manifest": rep.Manifest, "checked": rep.Checked,
					"removed": rep.Removed, "problems": rep.Problems}); err != nil {
					return err
				}
			} else {
				if rep.Manifest != "" {
					fmt.Fprintf(w, "manifest %s\n", rep.Manifest)
				}
				fmt.Fprintf(w, "checked %d contact(s)", rep.Checked)
				if len(rep.Removed) > 0 {
					fmt.Fprintf(w, ", %d removed by retention", len(rep.Removed))
				}
				fmt.Fprintln(w)
				for _, p := range rep.Problems {
					fmt.Fprintf(w, "ALTERED %s: %s\n", p.File, p.What)
				}
				if rep.OK() {
					fmt.Fprintln(w, "intact")
				}
			}
			if !rep.OK() {
				return &exitError{code: exitAltered, err: fmt.Errorf("%d problem(s) found", len(rep.Problems))}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&day, "day", "", "verify a whole day, YYYY-MM-DD in the site's timezone")
	cmd.Flags().StringVar(&id, "contact", "", "verify one contact by id")
	cmd.Flags().StringVar(&site, "site", "", "site (default: config site)")
	cmd.Flags().StringVar(&store, "store", "", "directory or s3://bucket/prefix (default: config store)")
	cmd.Flags().StringVar(&pubFile, "public-key", "", "public key file (default: evidence.public_key, else evidence.signing_key)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON report")
	return cmd
}

func (a *app) retentionCmd() *cobra.Command {
	root := &cobra.Command{Use: "retention", Short: "Delete contacts whose retention is over (contactd serve does it hourly)"}
	var store, at string
	var dry bool
	run := &cobra.Command{
		Use:   "run [--dry-run] [--at RFC3339] [--store …]",
		Short: "Delete every contact past its set's retention, except those under a legal hold",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			arc, err := a.openArchive(cmd.Context(), store)
			if err != nil {
				return err
			}
			now := time.Now()
			if at != "" {
				if now, err = time.Parse(time.RFC3339, at); err != nil {
					return usageError{fmt.Errorf("--at: %w", err)}
				}
			}
			res, err := retention.Run(cmd.Context(), arc, a.cfg.Retention.For, now, dry)
			if res != nil {
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
				verb := "deleted"
				if dry {
					verb = "would delete"
				}
				for _, e := range res.Deleted {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", verb, e.ID, e.Station, e.Set, e.Leave.Format(time.RFC3339))
				}
				w.Flush()
				fmt.Fprintf(cmd.OutOrStdout(), "%s %d contact(s); %d due but kept by a legal hold\n", verb, len(res.Deleted), res.Held)
			}
			return err
		},
	}
	run.Flags().BoolVar(&dry, "dry-run", false, "list what would be deleted; delete nothing")
	run.Flags().StringVar(&at, "at", "", "apply retention as of this time (default: now)")
	run.Flags().StringVar(&store, "store", "", "directory or s3://bucket/prefix (default: config store)")
	root.AddCommand(run)

	hold := &cobra.Command{Use: "hold", Short: "Legal holds: contacts no retention removes"}
	var reason, by string
	set := &cobra.Command{
		Use: "set ID --reason TEXT [--by NAME]", Short: "Put a contact under a legal hold", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			arc, err := a.openArchive(cmd.Context(), store)
			if err != nil {
				return err
			}
			return retention.SetHold(cmd.Context(), arc.Store, retention.Hold{Contact: args[0], By: by, Reason: reason, At: time.Now().UTC()})
		},
	}
	set.Flags().StringVar(&reason, "reason", "", "the complaint or claim the hold is for (required)")
	set.Flags().StringVar(&by, "by", "", "who asked for it")
	release := &cobra.Command{
		Use: "release ID", Short: "Lift a contact's legal hold", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			arc, err := a.openArchive(cmd.Context(), store)
			if err != nil {
				return err
			}
			return retention.ReleaseHold(cmd.Context(), arc.Store, args[0])
		},
	}
	list := &cobra.Command{
		Use: "list", Short: "List legal holds", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			arc, err := a.openArchive(cmd.Context(), store)
			if err != nil {
				return err
			}
			holds, err := retention.Holds(cmd.Context(), arc.Store)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			for _, h := range holds {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", h.Contact, h.At.Format(time.RFC3339), h.By, h.Reason)
			}
			return w.Flush()
		},
	}
	for _, c := range []*cobra.Command{set, release, list} {
		c.Flags().StringVar(&store, "store", "", "directory or s3://bucket/prefix (default: config store)")
	}
	hold.AddCommand(set, release, list)
	root.AddCommand(hold)
	return root
}
