package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tollgate-dev/tollgate/config"
	ghint "github.com/tollgate-dev/tollgate/integrations/github"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/anchor"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// anchorFlags are verify's --anchors options.
type anchorFlags struct {
	enabled bool
	since   string // YYYY-MM-DD; default: retention_days before today
}

// anchorsSince is the first day whose anchor file is read when the anchor
// repository cannot be listed: the retention period, plus a day of slack,
// never taken from the (possibly rewritten) local log.
func anchorsSince(cfg *config.Config, flagValue string, now time.Time) (time.Time, error) {
	if flagValue != "" {
		t, err := time.Parse("2006-01-02", flagValue)
		if err != nil {
			return time.Time{}, fmt.Errorf("--anchors-since %q: want YYYY-MM-DD", flagValue)
		}
		return t, nil
	}
	days := max(cfg.Audit.RetentionDays, config.MinRetentionDays) + 1
	return now.AddDate(0, 0, -days), nil
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
	anchors, err := anchorRepository(ctx, cfg)
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
	fmt.Fprintf(stdout, "anchors:         %d anchored checkpoints, the local log (%d entries) extends each (largest tree size %d)\n",
		r.Checked, r.Local.Size, r.Largest)
	fmt.Fprintln(stdout, "OK (anchors)")
	return exitOK
}

// anchorRepository returns the configured anchor repository on the
// configured GitHub App.
func anchorRepository(ctx context.Context, cfg *config.Config) (*ghint.Anchors, error) {
	if cfg.Audit.AnchorRepository == "" {
		return nil, errors.New("audit.anchor_repository is not set")
	}
	app, err := githubApp(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return ghint.NewAnchors(app, cfg.Audit.AnchorRepository, "")
}
