package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

func runAuditProve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("audit prove", stdout, stderr,
		[]string{"tollgate audit prove SEQ " + dbUsage + " > proof.txt"},
		"Writes the inclusion proof of entry SEQ against the latest signed checkpoint: the entry,",
		"the hashes leading to the tree's root, and the signed checkpoint. Anyone with the audit",
		"public key checks it offline: tollgate audit check-proof proof.txt --public-key FILE.",
		"Refuses an entry whose stored data no longer matches its hash.",
		"Exit 0 written, 1 the entry was changed after it was written, 2 bad usage, no such",
		"entry, or no signed checkpoint covers it yet (tollgate audit checkpoint signs one).",
	)
	var src auditSource
	src.register(fs.FlagSet, false)
	if code, done := fs.Parse(args, "SEQ"); done {
		return code
	}
	s, seq, code, ok := openSeq(ctx, fs, src, stderr)
	if !ok {
		return code
	}
	defer s.Close()
	p, err := s.Audit().ProveInclusion(ctx, seq)
	switch {
	case errors.Is(err, audit.ErrNotFound):
		return noSuchEntry(ctx, s, "audit prove", seq, stderr)
	case errors.Is(err, audit.ErrNotCovered):
		fmt.Fprintf(stderr, "tollgate audit prove: %v\n", err)
		fmt.Fprintln(stderr, notCoveredHint(src))
		return exitUsage
	case errors.Is(err, audit.ErrTampered):
		fmt.Fprintf(stderr, "tollgate audit prove: refused: %v\n", err)
		return exitCheckFailed
	case err != nil:
		fmt.Fprintf(stderr, "tollgate audit prove: %v\n", err)
		return exitCheckFailed
	}
	text, err := p.Format()
	if err != nil {
		fmt.Fprintf(stderr, "tollgate audit prove: %v\n", err)
		return exitCheckFailed
	}
	if _, err := stdout.Write(text); err != nil {
		fmt.Fprintf(stderr, "tollgate audit prove: %v\n", err)
		return exitCheckFailed
	}
	return exitOK
}

// notCoveredHint says when the next checkpoint is signed and how to sign
// one now.
func notCoveredHint(src auditSource) string {
	every, how := "audit.checkpoint_every", "tollgate audit checkpoint --config FILE"
	if src.config != "" {
		if cfg, _, err := config.Load(src.config); err == nil {
			every = strconv.Itoa(cfg.Audit.CheckpointEvery)
		}
		how = "tollgate audit checkpoint --config " + src.config
	} else if src.database != "" {
		how = "tollgate audit checkpoint --database " + src.database + " --signing-key FILE"
	}
	return fmt.Sprintf("tollgate serve signs a checkpoint every %s entries and when it stops; to sign one now, run: %s", every, how)
}

func runAuditCheckpoint(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("audit checkpoint", stdout, stderr,
		[]string{"tollgate audit checkpoint (--config FILE | --database PATH --signing-key FILE)"},
		"Signs a checkpoint covering every entry of the log now, with the audit signing key, so",
		"that every entry can be proven (tollgate audit prove). It is safe while tollgate serve",
		"runs: the checkpoint is written in the log's own order. A log whose latest checkpoint",
		"already covers every entry is left as it is.",
		"Exit 0 signed (or already covered), 2 bad usage, or no database or signing key.",
	)
	var keys evidenceKeys
	keys.auditSource.register(fs.FlagSet, false)
	fs.StringVar(&keys.signingKey, "signing-key", "", "audit signing key `FILE` (overrides the config)")
	if code, done := fs.Parse(args); done {
		return code
	}
	_, dbPath, signer, _, err := keys.resolve(false, false)
	if err == nil && signer == nil {
		err = errors.New("no audit signing key: give --config FILE or --signing-key FILE")
	}
	if err != nil {
		fmt.Fprintf(stderr, "tollgate audit checkpoint: %v\n", err)
		return exitUsage
	}
	st, err := store.Open(ctx, dbPath, store.Options{Signer: signer})
	if err != nil {
		fmt.Fprintf(stderr, "tollgate audit checkpoint: %v\n", err)
		return exitUsage
	}
	defer st.Close()
	before, had, err := st.Audit().LatestCheckpoint(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate audit checkpoint: %v\n", err)
		return exitCheckFailed
	}
	cp, err := st.Audit().Checkpoint(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate audit checkpoint: %v\n", err)
		return exitCheckFailed
	}
	switch {
	case cp.Size == 0:
		fmt.Fprintln(stdout, "the audit log is empty: nothing to sign")
	case had && before.Size == cp.Size:
		fmt.Fprintf(stdout, "the latest checkpoint (signed %s by %s) already covers all %s\n",
			cp.Time.Format(time.RFC3339), cp.KeyName, audit.EntriesText(cp.Size))
	default:
		fmt.Fprintf(stdout, "signed a checkpoint of %s with %s at %s\n", audit.EntriesText(cp.Size), signer.Name(), cp.Time.Format(time.RFC3339))
	}
	return exitOK
}

func runAuditCheckProof(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("audit check-proof", stdout, stderr,
		[]string{"tollgate audit check-proof FILE (--public-key FILE [--public-key FILE]... | --config FILE)"},
		"Checks an inclusion proof written by tollgate audit prove, offline: the checkpoint's",
		"signature with the audit public key, and that the entry is in the tree it signs.",
		"Exit 0 proven, 1 the proof does not check, 2 bad usage.",
	)
	var src auditSource
	fs.StringVar(&src.config, "config", "", "tollgate.yml `FILE` to take the audit public keys from")
	fs.Var(&src.publicKeys, "public-key", publicKeyUsage)
	if code, done := fs.Parse(args, "FILE"); done {
		return code
	}
	file := fs.Pos[0]
	var keys audit.Keyring
	var err error
	switch {
	case len(src.publicKeys) > 0:
		keys, err = audit.LoadKeyring(src.publicKeys...)
	case src.config != "":
		var cfg *config.Config
		if cfg, _, err = config.Load(src.config); err == nil {
			keys, err = cfg.Audit.Keyring()
		}
	default:
		return fs.Fail("--public-key FILE (or --config FILE) is required")
	}
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
	fmt.Fprintf(stdout, "OK: entry seq %d (%s by %s on %s at %s) is in the audit log of %s signed by %s at %s\n",
		p.Seq, p.Action, p.Actor, p.Subject, p.At, plural(cp.Size, "entry", "entries"), cp.KeyName, cp.Time.Format(time.RFC3339))
	return exitOK
}
