package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/server"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/anchor"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// anchorFlags are verify's --anchors options.
type anchorFlags struct {
	enabled bool
	since   string // YYYY-MM-DD; default: retention_days before today
}

// anchorsSince is the first day whose anchor file is read: --anchors-since,
// or the configured retention period (config.Audit.AnchorsSince).
func anchorsSince(cfg *config.Config, flagValue string, now time.Time) (time.Time, error) {
	if flagValue == "" {
		return cfg.Audit.AnchorsSince(now), nil
	}
	t, err := time.Parse("2006-01-02", flagValue)
	if err != nil {
		return time.Time{}, fmt.Errorf("--anchors-since %q: want YYYY-MM-DD", flagValue)
	}
	return t, nil
}

// verifyAnchors fetches every checkpoint anchored in the configured
// repository and proves the local log consistent with each. It returns
// exitOK, exitCheckFailed, or exitUsage for a setup problem.
func verifyAnchors(ctx context.Context, cfgPath string, s *store.Store, keys audit.Keyring, af anchorFlags, stdout, stderr io.Writer) int {
	if cfgPath == "" {
		fmt.Fprintln(stderr, "tollgate verify: --anchors needs --config (the GitHub App and audit.anchor_repository)")
		return exitUsage
	}
	cfg, _, err := config.Load(cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate verify: %v\n", err)
		return exitUsage
	}
	if cfg.Audit.AnchorRepository == "" {
		fmt.Fprintf(stderr, "tollgate verify: %s sets no audit.anchor_repository\n", cfgPath)
		return exitUsage
	}
	now := time.Now()
	since, err := anchorsSince(cfg, af.since, now)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate verify: %v\n", err)
		return exitUsage
	}
	anchors, err := server.AnchorRepository(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate verify: %v\n", err)
		return exitUsage
	}
	notes, err := anchors.Fetch(ctx, since, now)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate verify: fetching anchored checkpoints: %v\n", err)
		return exitCheckFailed
	}
	anchored := make([]anchor.Anchored, len(notes))
	for i, n := range notes {
		anchored[i] = anchor.Anchored{Path: n.Path, Note: n.Note}
	}
	r, err := anchor.Check(ctx, s.DB(), keys, anchored)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate verify: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "anchor repo:     %s\n", cfg.Audit.AnchorRepository)
	switch {
	case !r.Local.OK:
		fmt.Fprintln(stdout, "anchors:         not checked: the local log failed verification")
		return exitCheckFailed
	case r.Problem != nil:
		fmt.Fprintf(stdout, "anchors:         %d anchored checkpoints consistent before the first problem\n", r.Checked)
		fmt.Fprintf(stdout, "FAIL: %s\n", r.Problem)
		return exitCheckFailed
	case r.Checked == 0 && r.Local.HasCheckpoint:
		fmt.Fprintln(stdout, "anchors:         none found, although the log has signed checkpoints: nothing outside this database vouches for it")
		fmt.Fprintln(stdout, "FAIL: no anchored checkpoint")
		return exitCheckFailed
	case r.Checked == 0:
		fmt.Fprintln(stdout, "anchors:         none yet (the log has no signed checkpoint)")
		fmt.Fprintln(stdout, "OK (anchors)")
		return exitOK
	}
	fmt.Fprintf(stdout, "anchors:         %s, the local log (%s) extends each (largest tree size %d)\n",
		plural(r.Checked, "anchored checkpoint", "anchored checkpoints"), plural(r.Local.Size, "entry", "entries"), r.Largest)
	fmt.Fprintln(stdout, "OK (anchors)")
	return exitOK
}
