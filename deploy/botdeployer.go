package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

// BotDeployer carries out the domain's deploy jobs with the SSH Engine: it
// implements bot.Deployer for environments of target type ssh. The server
// picks the Deployer by the environment's target type, so this one knows
// nothing of GitHub (type actions_gate is answered by the GitHub
// integration's protection-rule gate).
type BotDeployer struct {
	Engine *Engine
	// Targets returns the target of repo's env; ok is false when the
	// environment has no servers (not configured, or gate-only).
	Targets func(repo, env string) (Target, bool)
	// Source opens the tree of sha in repo. closer, when not nil, is
	// closed after the source (e.g. the HTTP body a TarSource reads).
	Source func(ctx context.Context, repo, sha string) (src Source, closer io.Closer, err error)
	// Log returns where the deployment log of a request goes; nil, or a
	// nil writer, discards it. A writer that is an io.Closer is closed
	// when the deploy ends.
	Log func(requestID string) io.Writer
	// Recorded returns the manifest digest Tollgate recorded when it
	// deployed release to repo's env ("" without a record): a rollback
	// refuses a release whose manifest on the servers differs
	// (Target.RecordedManifest). nil consults no record.
	Recorded func(ctx context.Context, repo, env, release string) (string, error)
}

var _ bot.Deployer = (*BotDeployer)(nil)

// Deploy implements bot.Deployer. A deploy that ran and failed returns its
// outcome and a nil error; an error means it could not run at all or was
// interrupted (ctx ended), as bot.Deployer asks.
func (d *BotDeployer) Deploy(ctx context.Context, job bot.DeployJob) (bot.DeployOutcome, error) {
	t, err := d.target(job)
	if err != nil {
		return bot.DeployOutcome{}, err
	}
	src, closer, err := d.Source(ctx, job.Repo, job.SHA)
	if err != nil {
		return bot.DeployOutcome{}, fmt.Errorf("request %s: fetching %s of %s: %w", job.RequestID, job.SHA, job.Repo, err)
	}
	defer func() {
		_ = src.Close()
		if closer != nil {
			_ = closer.Close()
		}
	}()
	log, done := d.logFor(job.RequestID)
	defer done()
	res, err := d.Engine.Deploy(ctx, t, ReleaseSpec{SHA: job.SHA, Ref: job.Ref}, src, log)
	writeManifest(log, res)
	return d.finish(ctx, job, res, err)
}

// Rollback implements bot.Deployer: it switches back to job.Release, or
// to the previous good release when that is empty.
func (d *BotDeployer) Rollback(ctx context.Context, job bot.DeployJob) (bot.DeployOutcome, error) {
	t, err := d.target(job)
	if err != nil {
		return bot.DeployOutcome{}, err
	}
	if d.Recorded != nil {
		t.RecordedManifest = func(ctx context.Context, release string) (string, error) {
			return d.Recorded(ctx, job.Repo, job.Environment, release)
		}
	}
	log, done := d.logFor(job.RequestID)
	defer done()
	res, err := d.Engine.Rollback(ctx, t, job.Release, log)
	return d.finish(ctx, job, res, err)
}

func (d *BotDeployer) target(job bot.DeployJob) (Target, error) {
	if d.Targets == nil {
		return Target{}, fmt.Errorf("request %s: no deploy targets configured", job.RequestID)
	}
	t, ok := d.Targets(job.Repo, job.Environment)
	if !ok {
		return Target{}, fmt.Errorf("request %s: %s %s has no servers to deploy to", job.RequestID, job.Repo, job.Environment)
	}
	return t, nil
}

// finish maps the engine's result. A run that ended because ctx ended is
// returned as an error so the domain records it as interrupted.
func (d *BotDeployer) finish(ctx context.Context, job bot.DeployJob, res Result, err error) (bot.DeployOutcome, error) {
	out := Outcome(res)
	if err != nil && ctx.Err() != nil {
		return out, fmt.Errorf("request %s: %w (%w)", job.RequestID, err, ctx.Err())
	}
	if err != nil && res.Outcome == "" {
		return out, fmt.Errorf("request %s: %w", job.RequestID, err)
	}
	return out, nil
}

// WriteAttestation writes envelope next to release on every server of
// repo's env (Engine.WriteAttestation) and returns one error per server
// that failed, joined; nil when every server has it.
func (d *BotDeployer) WriteAttestation(ctx context.Context, repo, env, release string, envelope []byte) error {
	if d.Targets == nil {
		return fmt.Errorf("write attestation of %s %s: no deploy targets configured", repo, env)
	}
	t, ok := d.Targets(repo, env)
	if !ok {
		return fmt.Errorf("write attestation of %s %s: the environment has no servers", repo, env)
	}
	var errs []error
	for _, w := range d.Engine.WriteAttestation(ctx, t, release, envelope) {
		if w.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", w.Server, w.Err))
		}
	}
	return errors.Join(errs...)
}

// writeManifest appends the release's manifest (type, mode, size, SHA-256,
// path) to the deployment log, so the log page shows exactly what went out.
func writeManifest(w io.Writer, res Result) {
	if len(res.Manifest) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[manifest] release %s, %d entries, %s\n", res.Release, len(res.Manifest), res.ManifestDigest)
	for _, line := range strings.SplitAfter(string(res.Manifest.Encode()), "\n") {
		if line != "" {
			b.WriteString("[manifest] " + line)
		}
	}
	_, _ = io.WriteString(w, b.String())
}

// logFor returns the request's log writer and a function that closes it.
func (d *BotDeployer) logFor(requestID string) (io.Writer, func()) {
	if d.Log == nil {
		return io.Discard, func() {}
	}
	w := d.Log(requestID)
	if w == nil {
		return io.Discard, func() {}
	}
	if c, ok := w.(io.Closer); ok {
		return w, func() { _ = c.Close() }
	}
	return w, func() {}
}

// Outcome converts an engine Result into the domain's record of a deploy:
// FilesSent counts distinct files sent to any server, BytesSent the file
// bytes sent over all servers; steps keep their per-server timings. The
// error text was redacted by the engine.
func Outcome(res Result) bot.DeployOutcome {
	out := bot.DeployOutcome{
		Release:        res.Release,
		ManifestDigest: res.ManifestDigest,
		Error:          res.Error,
		SHA:            res.SHA,
		StartedAt:      res.Started,
		SwitchedAt:     res.SwitchedAt(),
		FinishedAt:     res.Finished,
	}
	switch res.Outcome {
	case Succeeded:
		out.Result = bot.ResultSucceeded
	case RolledBack:
		out.Result = bot.ResultRolledBack
	case Failed:
		out.Result = bot.ResultFailed
	}
	if !res.Started.IsZero() && res.Finished.After(res.Started) {
		out.Duration = res.Finished.Sub(res.Started)
	}
	files := map[string]bool{}
	for _, s := range res.Servers {
		out.Servers = append(out.Servers, s.Server)
		out.Targets = append(out.Targets, bot.DeployTarget{Host: s.Host, Port: s.Port, HostKeySHA256: s.HostKeySHA256, SwitchedAt: s.SwitchedAt})
		out.BytesSent += s.BytesSent
		for _, p := range s.Sent {
			files[p] = true
		}
		for _, st := range s.Steps {
			out.Steps = append(out.Steps, bot.DeployStep{Server: s.Server, Name: st.Step,
				Duration: time.Duration(st.Seconds * float64(time.Second)), OK: st.Error == ""})
		}
	}
	out.FilesSent = len(files)
	if out.FilesSent == 0 {
		for _, s := range res.Servers { // a result without the list of paths
			out.FilesSent = max(out.FilesSent, s.FilesSent)
		}
	}
	return out
}
