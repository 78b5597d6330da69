// Command contactd is the clinic server and its tools: analyze a recording
// into contact clips, serve the API and metrics, rebuild the index, make
// test days, and benchmark clip cutting.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"contactd/config"
	"contactd/storage"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitRejected = 3 // finished, but some input lines were rejected
)

type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// app carries what every subcommand shares.
type app struct {
	configPath string
	logLevel   string
	stdout     io.Writer
	stderr     io.Writer
	cfg        *config.Config
	log        *slog.Logger
	// rows collects benchmark results for `bench all`'s table (nil: not collecting).
	rows *[]benchRow
	// maxRealtime is the most audio stations bench ingest kept real-time.
	maxRealtime int
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "contactd",
		Short:         "Patient contacts at clinic desks: clips, ratings and emotion metrics",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.load()
		},
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&a.configPath, "config", os.Getenv(config.EnvFile), "YAML configuration file (env CONTACTD_CONFIG_FILE)")
	root.PersistentFlags().StringVar(&a.logLevel, "log-level", "", "override log.level: debug, info, warn, error")
	root.AddCommand(a.analyzeCmd(), a.serveCmd(), a.indexCmd(), a.testdataCmd(), a.benchCmd(), a.configCmd(), a.emotionCmd(), a.speakerCmd(), a.userCmd(), a.demoCmd(), a.reviewCmd(), a.faceCmd(), a.likelyCmd(), a.presenceCmd(), a.evidenceCmd(), a.verifyCmd(), a.retentionCmd(), a.tlsCmd(), a.stationCmd())
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "contactd:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if isUsage(err) {
		return exitUsage
	}
	return exitFailure
}

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

type usageError struct{ error }

// load reads the configuration and sets up logging; it runs before every command.
func (a *app) load() error {
	cfg, err := config.Load(a.configPath, os.Environ())
	if err != nil {
		return usageError{err}
	}
	if a.logLevel != "" {
		cfg.Log.Level = a.logLevel
		if err := cfg.Validate(); err != nil {
			return usageError{err}
		}
	}
	a.cfg = cfg
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Log.Format == "json" {
		a.log = slog.New(slog.NewJSONHandler(a.stderr, opts))
	} else {
		a.log = slog.New(slog.NewTextHandler(a.stderr, opts))
	}
	slog.SetDefault(a.log)
	return nil
}

// openArchive opens the store named by --store (or the configuration).
func (a *app) openArchive(ctx context.Context, store string) (*storage.Archive, error) {
	if store == "" {
		store = a.cfg.Store
	}
	s, err := storage.Open(ctx, store, a.cfg.S3)
	if err != nil {
		return nil, err
	}
	if s, err = a.seal(s); err != nil {
		return nil, err
	}
	return &storage.Archive{Store: s, Location: a.cfg.Location(), Node: a.cfg.Node}, nil
}

// seal encrypts a directory store when store_key_file is set.
func (a *app) seal(s storage.Store) (storage.Store, error) {
	if a.cfg.StoreKeyFile == "" {
		return s, nil
	}
	if _, ok := s.(*storage.Local); !ok {
		return nil, errors.New("store_key_file: encrypts a directory store; for s3:// use s3.sse")
	}
	key, err := storage.ReadKeyFile(a.cfg.StoreKeyFile)
	if err != nil {
		return nil, fmt.Errorf("store_key_file: %w", err)
	}
	return storage.Seal(s, key)
}

// progress is what long jobs report to: a bar on a terminal, nothing elsewhere.
type progress interface{ Set(int) error }

type noBar struct{}

func (noBar) Set(int) error { return nil }

// bar returns a progress bar on a terminal and a no-op elsewhere, so logs
// and CI output stay clean.
func (a *app) bar(total int, what string) progress {
	f, ok := a.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return noBar{}
	}
	return progressbar.NewOptions(total, progressbar.OptionSetWriter(a.stderr), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionSetWidth(30))
}
