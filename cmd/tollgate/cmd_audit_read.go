package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/internal/auditfmt"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// dbUsage is the database part of a usage line.
const dbUsage = "(--config FILE | --database PATH)"

func runAuditTail(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("audit tail", stdout, stderr,
		[]string{"tollgate audit tail [--count N] [--json] " + dbUsage},
		"Prints the latest entries, oldest first: seq, time (UTC), actor, event, subject and a",
		"one-line summary of what the entry recorded. --json prints each entry as one JSON line",
		"with its data as recorded. The database is opened read-only.",
	)
	var src auditSource
	src.register(fs.FlagSet, false)
	n := fs.Int("count", 20, "print the last `N` entries")
	fs.Alias("n", "count")
	asJSON := fs.Bool("json", false, "print JSON lines (seq, at, actor, action, subject, data, leaf_hash)")
	if code, done := fs.Parse(args); done {
		return code
	}
	if *n < 1 {
		return fs.Fail("--count must be at least 1")
	}
	s, err := src.open(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate audit tail: %v\n", err)
		return exitUsage
	}
	defer s.Close()
	entries, err := s.Audit().Tail(ctx, *n)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate audit tail: %v\n", err)
		return exitCheckFailed
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, e := range entries {
			if err := enc.Encode(entryJSON(e)); err != nil {
				fmt.Fprintf(stderr, "tollgate audit tail: %v\n", err)
				return exitCheckFailed
			}
		}
		return exitOK
	}
	if len(entries) == 0 {
		fmt.Fprintln(stdout, "the audit log is empty")
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME (UTC)\tACTOR\tEVENT\tSUBJECT\tSUMMARY")
	for _, e := range entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.At.UTC().Format(time.DateTime), e.Actor, e.Action, e.Subject,
			auditfmt.Summary(e.Action, e.Data))
	}
	return flushed(tw, stderr, "audit tail")
}

// flushed flushes tw and returns the exit code.
func flushed(tw *tabwriter.Writer, stderr io.Writer, cmd string) int {
	if err := tw.Flush(); err != nil {
		fmt.Fprintf(stderr, "tollgate %s: %v\n", cmd, err)
		return exitCheckFailed
	}
	return exitOK
}

// entryJSON is an entry as one JSON line, its data as recorded.
func entryJSON(e audit.Entry) any {
	data := json.RawMessage(e.Data)
	if !json.Valid(data) {
		data, _ = json.Marshal(string(e.Data))
	}
	return struct {
		Seq      int64           `json:"seq"`
		At       string          `json:"at"`
		Actor    string          `json:"actor"`
		Action   string          `json:"action"`
		Subject  string          `json:"subject"`
		Data     json.RawMessage `json:"data"`
		LeafHash string          `json:"leaf_hash"`
	}{e.Seq, e.At.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.Subject, data, e.LeafHash.String()}
}

// parseSeq reads the SEQ argument.
func parseSeq(fs interface{ Fail(string, ...any) int }, arg string) (int64, int, bool) {
	seq, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || seq < 0 {
		return 0, fs.Fail("SEQ %q is not a non-negative number", arg), false
	}
	return seq, exitOK, true
}

// noSuchEntry says that the log has no entry seq, and how many it has.
func noSuchEntry(ctx context.Context, s *store.Store, cmd string, seq int64, stderr io.Writer) int {
	size, err := s.Audit().Size(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate %s: %v\n", cmd, err)
		return exitCheckFailed
	}
	fmt.Fprintf(stderr, "tollgate %s: there is no entry %d: the log holds %s\n", cmd, seq, audit.EntriesText(size))
	return exitUsage
}

func runAuditShow(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("audit show", stdout, stderr,
		[]string{"tollgate audit show SEQ [--json] " + dbUsage},
		"Prints one entry: its fields, a summary, its data as recorded and its leaf hash.",
	)
	var src auditSource
	src.register(fs.FlagSet, false)
	asJSON := fs.Bool("json", false, "print the entry as one JSON line")
	if code, done := fs.Parse(args, "SEQ"); done {
		return code
	}
	seq, code, ok := parseSeq(fs, fs.Pos[0])
	if !ok {
		return code
	}
	s, err := src.open(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate audit show: %v\n", err)
		return exitUsage
	}
	defer s.Close()
	e, err := s.Audit().Get(ctx, seq)
	if errors.Is(err, audit.ErrNotFound) {
		return noSuchEntry(ctx, s, "audit show", seq, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "tollgate audit show: %v\n", err)
		return exitCheckFailed
	}
	if *asJSON {
		if err := json.NewEncoder(stdout).Encode(entryJSON(e)); err != nil {
			fmt.Fprintf(stderr, "tollgate audit show: %v\n", err)
			return exitCheckFailed
		}
		return exitOK
	}
	fmt.Fprintf(stdout, "seq:       %d\nat:        %s\nactor:     %s\nevent:     %s\nsubject:   %s\nsummary:   %s\ndata:      %s\nleaf hash: %s\n",
		e.Seq, e.At.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.Subject, auditfmt.Summary(e.Action, e.Data), e.Data, e.LeafHash)
	return exitOK
}

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
	seq, code, ok := parseSeq(fs, fs.Pos[0])
	if !ok {
		return code
	}
	s, err := src.open(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate audit prove: %v\n", err)
		return exitUsage
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
