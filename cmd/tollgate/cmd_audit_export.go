package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/evidence"
)

func runAuditExport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("audit export", stdout, stderr,
		[]string{"tollgate audit export --from DATE --to DATE --out DIR (--config FILE | --database PATH [--signing-key FILE])"},
		"Writes the audit entries of the range as JSONL segments, each with a proof against the latest",
		"signed checkpoint (written first when the signing key is known), for archiving.",
		"Exit 0 written, 1 the export failed, 2 bad usage, or DIR is not new or empty.",
	)
	var keys evidenceKeys
	keys.register(fs.FlagSet)
	var dates dateRange
	dates.register(fs.FlagSet)
	out := fs.String("out", "", "`DIR` to write the segments into (new or empty)")
	per := fs.Int("segment-entries", 10000, "at most `N` entries per segment file")
	if code, done := fs.Parse(args); done {
		return code
	}
	rng, err := dates.parse()
	switch {
	case err != nil:
		return fs.Fail("%v", err)
	case *out == "":
		return fs.Fail("--out DIR is required")
	case *per < 1:
		return fs.Fail("--segment-entries must be at least 1")
	}
	if err := checkOutDir(*out); err != nil {
		fmt.Fprintf(stderr, "tollgate audit export: %v\n", err)
		return exitUsage
	}
	src, err := keys.open(ctx, false, false, true)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate audit export: %v\n", err)
		return exitUsage
	}
	defer src.st.Close()
	res, err := evidence.Export(ctx, src.st, evidence.ExportOptions{Range: rng, Out: *out, SegmentEntries: *per})
	if err != nil {
		fmt.Fprintf(stderr, "tollgate audit export: %v\n", err)
		return exitCheckFailed
	}
	fmt.Fprintf(stdout, "wrote %s to %s: seq %d..%d, proven against the checkpoint of %s\n",
		plural(len(res.Segments), "segment", "segments"), *out, res.First, res.End-1, plural(res.Checkpoint.Size, "entry", "entries"))
	if res.Unproven > 0 {
		fmt.Fprintf(stdout, "warning: %s after the latest checkpoint, not proven; export again with the signing key\n",
			plural(res.Unproven, "entry is", "entries are"))
	}
	return exitOK
}

func runAuditVerifyExport(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("audit verify-export", stdout, stderr,
		[]string{"tollgate audit verify-export DIR --public-key FILE [--public-key FILE]..."},
		"Checks every segment of an export against its proof and the signed checkpoint in it.",
		"Exit 0 intact, 1 a segment does not check, 2 bad usage.",
	)
	var pubs keyFiles
	fs.Var(&pubs, "public-key", "audit public key `FILE`; repeat it for keys rotated out")
	if code, done := fs.Parse(args, "DIR"); done {
		return code
	}
	if len(pubs) == 0 {
		return fs.Fail("--public-key FILE is required")
	}
	pos := fs.Pos
	keys, err := audit.LoadKeyring(pubs...)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate audit verify-export: %v\n", err)
		return exitUsage
	}
	lines, err := evidence.VerifyExport(pos[0], keys...)
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	if err != nil {
		fmt.Fprintf(stdout, "FAIL: %v\n", err)
		return exitCheckFailed
	}
	return exitOK
}

// runAuditHash prints HMAC-SHA256 of a value under the per-install key, so
// an auditor holding a value can find it in the log without the log
// disclosing it. "-" reads the value from stdin (kept out of shell history).
func runAuditHash(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("audit hash", stdout, stderr,
		[]string{"tollgate audit hash VALUE|- (--config FILE | --hmac-key FILE)"},
		"Prints HMAC-SHA256 of VALUE under the install's HMAC key: the log keeps some values only",
		"that way. '-' reads the value from stdin, keeping it out of the shell history.",
	)
	cfgPath := fs.String("config", "", "tollgate.yml `FILE` naming audit.hmac_key_file")
	keyPath := fs.String("hmac-key", "", "HMAC key `FILE` (overrides the config)")
	if code, done := fs.Parse(args, "VALUE|-"); done {
		return code
	}
	pos := fs.Pos
	if *keyPath == "" && *cfgPath != "" {
		cfg, _, err := config.Load(*cfgPath)
		if err != nil {
			fmt.Fprintf(stderr, "tollgate audit hash: %v\n", err)
			return exitUsage
		}
		*keyPath = cfg.Audit.HMACKeyFile
	}
	if *keyPath == "" {
		return fs.Fail("no HMAC key: give --hmac-key FILE or a --config FILE with audit.hmac_key_file")
	}
	key, err := store.LoadHMACKey(*keyPath)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate audit hash: %v\n", err)
		return exitUsage
	}
	value := pos[0]
	if value == "-" {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			fmt.Fprintf(stderr, "tollgate audit hash: read stdin: %v\n", err)
			return exitUsage
		}
		value = strings.TrimRight(line, "\r\n")
	}
	fmt.Fprintln(stdout, store.HashValue(key, value))
	return exitOK
}
