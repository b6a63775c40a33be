package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/tollgate-dev/tollgate/internal/auditfmt"
	"github.com/tollgate-dev/tollgate/internal/cli"
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

// openSeq reads the SEQ argument and opens the database read-only; on
// false the command exits with code (the caller closes the store).
func openSeq(ctx context.Context, fs *cli.Flags, src auditSource, stderr io.Writer) (s *store.Store, seq int64, code int, ok bool) {
	seq, err := strconv.ParseInt(fs.Pos[0], 10, 64)
	if err != nil || seq < 0 {
		return nil, 0, fs.Fail("SEQ %q is not a non-negative number", fs.Pos[0]), false
	}
	if s, err = src.open(ctx); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", fs.Command, err)
		return nil, 0, exitUsage, false
	}
	return s, seq, exitOK, true
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
	s, seq, code, ok := openSeq(ctx, fs, src, stderr)
	if !ok {
		return code
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
