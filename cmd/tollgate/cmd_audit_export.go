package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/evidence"
)

// auditExtensions are `tollgate audit` subcommands kept out of cmd_audit.go:
// archiving (export, verify-export), HMAC'd values (hash) and key
// rotation (rotate).
var auditExtensions = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) int{
	"export":        runAuditExport,
	"verify-export": runAuditVerifyExport,
	"hash":          runAuditHash,
	"rotate":        runAuditRotate, // cmd_audit_rotate.go
}

func auditExtensionUsage(w io.Writer) {
	fmt.Fprintln(w, "       tollgate audit export --from DATE --to DATE --out DIR (--config FILE | --database PATH [--signing-key FILE])")
	fmt.Fprintln(w, "       tollgate audit verify-export DIR --public-key FILE")
	fmt.Fprintln(w, "       tollgate audit hash VALUE|- (--config FILE | --hmac-key FILE)")
	fmt.Fprintln(w, auditRotateUsage)
}

func runAuditExport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("audit export", stderr,
		"usage: tollgate audit export --from DATE --to DATE --out DIR (--config FILE | --database PATH [--signing-key FILE])",
		"Writes the audit entries of the range as JSONL segments, each with a proof against the latest",
		"signed checkpoint (written first when the signing key is known), for archiving.",
	)
	var keys evidenceKeys
	keys.register(fs)
	var dates dateRange
	dates.register(fs)
	out := fs.String("out", "", "directory to write the segments into (new or empty)")
	per := fs.Int("segment-entries", 10000, "most entries per segment file")
	if !parseFlags(fs, args) {
		return exitUsage
	}
	rng, err := dates.parse()
	if err == nil && (*out == "" || *per < 1) {
		err = errors.New("--out DIR is required and --segment-entries must be at least 1")
	}
	if err != nil {
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
	fmt.Fprintf(stdout, "wrote %d segments to %s: seq %d..%d, proven against the checkpoint of %d entries\n",
		len(res.Segments), *out, res.First, res.End-1, res.Checkpoint.Size)
	if res.Unproven > 0 {
		fmt.Fprintf(stdout, "warning: %d entries are after the latest checkpoint and not proven; export again with the signing key\n", res.Unproven)
	}
	return exitOK
}

func runAuditVerifyExport(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("audit verify-export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var pubs keyFiles
	fs.Var(&pubs, "public-key", "audit public key `FILE`; repeat it for keys rotated out")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 || len(pubs) == 0 {
		fmt.Fprintln(stderr, "usage: tollgate audit verify-export DIR --public-key FILE [--public-key FILE]...")
		return exitUsage
	}
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
	fs := flag.NewFlagSet("audit hash", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "tollgate.yml naming audit.hmac_key_file")
	keyPath := fs.String("hmac-key", "", "HMAC key `FILE` (overrides the config)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: tollgate audit hash VALUE|- (--config FILE | --hmac-key FILE)")
		return exitUsage
	}
	if *keyPath == "" && *cfgPath != "" {
		cfg, _, err := config.Load(*cfgPath)
		if err != nil {
			fmt.Fprintf(stderr, "tollgate audit hash: %v\n", err)
			return exitUsage
		}
		*keyPath = cfg.Audit.HMACKeyFile
	}
	if *keyPath == "" {
		fmt.Fprintln(stderr, "tollgate audit hash: no HMAC key: give --hmac-key FILE or a --config with audit.hmac_key_file")
		return exitUsage
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
