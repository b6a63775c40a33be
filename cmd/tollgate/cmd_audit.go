package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

func init() {
	register("audit", "read the audit log: tail, show, prove, check-proof, export, hash", runAudit)
}

// auditSource is where a command finds the audit database and public keys:
// a config file, or --database and --public-key alone (an auditor's copy).
type auditSource struct {
	config, database string
	publicKeys       keyFiles
}

// keyFiles is a repeatable --public-key flag: the current audit public key
// and those of keys rotated out, whose checkpoints still verify.
type keyFiles []string

func (k *keyFiles) String() string { return strings.Join(*k, ",") }

// Set adds one file.
func (k *keyFiles) Set(path string) error {
	*k = append(*k, path)
	return nil
}

const publicKeyUsage = "audit public key `FILE` (overrides the config); repeat it for keys rotated out: a checkpoint signed by any of them verifies"

func (a *auditSource) register(fs *flag.FlagSet, withKey bool) {
	fs.StringVar(&a.config, "config", "", "tollgate.yml to take the database and keys from")
	fs.StringVar(&a.database, "database", "", "the database: a SQLite `PATH` or a postgres:// URL (overrides the config)")
	if withKey {
		fs.Var(&a.publicKeys, "public-key", publicKeyUsage)
	}
}

// resolve returns the database path and, if needKey, the trusted keys:
// the --public-key files, else the config's keyring (configKeyring).
func (a *auditSource) resolve(needKey bool) (string, audit.Keyring, error) {
	dbPath := a.database
	var cfg *config.Config
	if a.config != "" {
		var err error
		if cfg, _, err = config.Load(a.config); err != nil {
			return "", nil, err
		}
		if dbPath == "" {
			dbPath = cfg.Database
		}
	}
	if dbPath == "" {
		return "", nil, errors.New("no database: give --database PATH or --config FILE")
	}
	switch {
	case !needKey:
		return dbPath, nil, nil
	case len(a.publicKeys) > 0:
		keys, err := audit.LoadKeyring(a.publicKeys...)
		return dbPath, keys, err
	case cfg != nil:
		keys, err := cfg.Audit.Keyring()
		return dbPath, keys, err
	}
	return "", nil, errors.New("no public key: give --public-key FILE or --config FILE")
}

func (a *auditSource) open(ctx context.Context) (*store.Store, error) {
	dbPath, _, err := a.resolve(false)
	if err != nil {
		return nil, err
	}
	return store.OpenReadOnly(ctx, dbPath)
}

func auditUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: tollgate audit tail [-n N] (--database PATH | --config FILE)")
	fmt.Fprintln(w, "       tollgate audit show SEQ (--database PATH | --config FILE)")
	fmt.Fprintln(w, "       tollgate audit prove SEQ (--database PATH | --config FILE) > proof.txt")
	fmt.Fprintln(w, "       tollgate audit check-proof FILE --public-key FILE [--public-key FILE]...")
	auditExtensionUsage(w)
}

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		auditUsage(stderr)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	if run, ok := auditExtensions[sub]; ok { // cmd_audit_export.go
		return run(ctx, args, stdout, stderr)
	}
	fs := flag.NewFlagSet("audit "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { auditUsage(stderr); fs.PrintDefaults() }
	var src auditSource
	n := fs.Int("n", 20, "number of entries (tail)")
	src.register(fs, sub == "check-proof")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	wantPos := map[string]int{"tail": 0, "show": 1, "prove": 1, "check-proof": 1}
	want, known := wantPos[sub]
	if !known || len(pos) != want {
		auditUsage(stderr)
		return exitUsage
	}
	if sub == "check-proof" {
		return runCheckProof(pos[0], src, stdout, stderr)
	}
	s, err := src.open(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate audit %s: %v\n", sub, err)
		return exitUsage
	}
	defer s.Close()
	if sub == "tail" {
		entries, err := s.Audit().Tail(ctx, *n)
		if err != nil {
			fmt.Fprintf(stderr, "tollgate audit tail: %v\n", err)
			return exitCheckFailed
		}
		for _, e := range entries {
			fmt.Fprintf(stdout, "%d\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.At.Format(time.RFC3339Nano), e.Actor, e.Action, e.Subject, e.Data)
		}
		return exitOK
	}
	seq, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || seq < 0 {
		fmt.Fprintf(stderr, "tollgate audit %s: SEQ %q is not a non-negative number\n", sub, pos[0])
		return exitUsage
	}
	if sub == "show" {
		e, err := s.Audit().Get(ctx, seq)
		if err != nil {
			fmt.Fprintf(stderr, "tollgate audit show: %v\n", err)
			return exitCheckFailed
		}
		fmt.Fprintf(stdout, "seq:       %d\nat:        %s\nactor:     %s\naction:    %s\nsubject:   %s\ndata:      %s\nleaf hash: %s\n",
			e.Seq, e.At.Format(time.RFC3339Nano), e.Actor, e.Action, e.Subject, e.Data, e.LeafHash)
		return exitOK
	}
	p, err := s.Audit().ProveInclusion(ctx, seq)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate audit prove: %v\n", err)
		return exitCheckFailed
	}
	text, err := p.Format()
	if err != nil {
		fmt.Fprintf(stderr, "tollgate audit prove: %v\n", err)
		return exitCheckFailed
	}
	stdout.Write(text)
	return exitOK
}

func runCheckProof(file string, src auditSource, stdout, stderr io.Writer) int {
	if len(src.publicKeys) == 0 {
		fmt.Fprintln(stderr, "tollgate audit check-proof: --public-key FILE is required")
		return exitUsage
	}
	keys, err := audit.LoadKeyring(src.publicKeys...)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate audit check-proof: %v\n", err)
		return exitUsage
	}
	text, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate audit check-proof: %v\n", err)
		return exitUsage
	}
	p, err := audit.ParseInclusionProof(text)
	if err != nil {
		fmt.Fprintf(stdout, "FAIL: %s: %v\n", file, err)
		return exitCheckFailed
	}
	cp, err := audit.CheckInclusionProof(p, keys...)
	if err != nil {
		fmt.Fprintf(stdout, "FAIL: %v\n", err)
		return exitCheckFailed
	}
	fmt.Fprintf(stdout, "OK: entry seq %d (%s by %s on %s at %s) is in the audit log of %d entries signed by %s at %s\n",
		p.Seq, p.Action, p.Actor, p.Subject, p.At, cp.Size, cp.KeyName, cp.Time.Format(time.RFC3339))
	return exitOK
}

// parseInterspersed parses flags that may follow positional arguments
// ("check-proof FILE --public-key KEY") and returns the positionals.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
