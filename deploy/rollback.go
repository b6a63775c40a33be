package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tollgate-dev/tollgate/deploy/drift"
)

// Rollback switches every server of t to toRelease, or when toRelease is ""
// to the previous good release: the newest release that passed its health
// check on every server and is not live. before_switch and after_switch hooks
// run in that release and the health check follows; if they fail, every
// server is switched back. The error is nil exactly when the outcome is
// Succeeded.
func (e *Engine) Rollback(ctx context.Context, t Target, toRelease string, log io.Writer) (Result, error) {
	res := Result{Operation: "rollback", Environment: t.Environment, Release: toRelease, Outcome: Failed, Started: e.now()}
	red := newRedactor(t.Secrets)
	fail := func(err error) (Result, error) {
		res.Finished = e.now()
		res.Error = err.Error()
		red.result(&res)
		return res, errors.New(red.String(fmt.Sprintf("rollback %s: %s", t.Environment, res.Error)))
	}
	t, err := t.validate()
	if err != nil {
		return fail(err)
	}
	if toRelease != "" && !releaseNameRe.MatchString(toRelease) {
		return fail(fmt.Errorf("invalid release name %q", toRelease))
	}
	o := e.newOp(t, log, toRelease)
	defer o.close()
	outcome, err := o.rollback(ctx, toRelease, &res)
	res.Servers = o.results()
	res.Outcome = outcome
	if err != nil {
		return fail(err)
	}
	res.Finished = e.now()
	red.result(&res)
	return res, nil
}

func (o *op) rollback(ctx context.Context, to string, res *Result) (OutcomeKind, error) {
	if err := o.connectAndLock(ctx, "rollback"); err != nil {
		return Failed, err
	}
	to, err := o.rollbackTarget(to)
	if err != nil {
		return Failed, err
	}
	o.release, res.Release = to, to
	first := o.runs[0]
	data, err := first.conn.output(ctx, readManifestScript(first.root, to), nil)
	if err == nil {
		res.Manifest, err = ParseManifest([]byte(data))
	}
	if err != nil {
		return Failed, fmt.Errorf("%s: read manifest of release %s: %w", first.addr, to, err)
	}
	res.ManifestDigest = res.Manifest.Digest()
	sha, _ := first.conn.output(ctx, "cat "+shq(first.root+"/.tollgate/"+to+"/sha"), nil)
	res.SHA = strings.TrimSpace(sha)
	if !shaRe.MatchString(res.SHA) {
		res.SHA = ""
	}
	if err := o.verifyRollbackRelease(ctx, to, res.Manifest); err != nil {
		return Failed, err
	}
	o.env = hookEnv{Environment: o.t.Environment, Release: to, SHA: res.SHA}
	for _, r := range o.runs {
		r.res.Release = to
	}
	needs := func(r *serverRun) bool { return r.state.current != to }

	err = o.each(ctx, stepBeforeSwitch, needs, func(ctx context.Context, r *serverRun) error {
		env := o.env
		env.Previous = r.res.Previous
		return o.runHooks(ctx, r, stepBeforeSwitch, r.root+"/releases/"+to, o.t.Hooks.BeforeSwitch, env)
	})
	if err != nil {
		return Failed, err
	}
	err = o.switchTo(ctx, stepSwitch, to, needs, func(r *serverRun) { r.switched, r.res.Live = true, to })
	if err == nil {
		err = o.each(ctx, stepAfterSwitch, needs, func(ctx context.Context, r *serverRun) error {
			env := o.env
			env.Previous, env.Root = r.res.Previous, r.root
			return o.runHooks(ctx, r, stepAfterSwitch, r.root+"/releases/"+to, o.t.Hooks.AfterSwitch, env)
		})
	}
	if err == nil {
		err = o.each(ctx, stepHealth, nil, o.healthCheck)
	}
	if err == nil && !o.allGood(to) {
		err = o.markGood(ctx, to, nil)
	}
	if err != nil {
		if !o.switchBack(ctx, to) {
			return Failed, fmt.Errorf("%w; switching back FAILED on some servers, see each server's live release", err)
		}
		return RolledBack, err
	}
	return Succeeded, nil
}

// rollbackTarget checks a named release, or picks the previous good one.
func (o *op) rollbackTarget(to string) (string, error) {
	if to != "" {
		var missing []string
		for _, r := range o.runs {
			if info := r.state.releases[to]; info == nil || !info.Complete {
				missing = append(missing, r.addr)
			}
		}
		if len(missing) > 0 {
			return "", fmt.Errorf("release %s is not complete on %s", to, strings.Join(missing, ", "))
		}
		if o.allLive(to) {
			return "", fmt.Errorf("release %s is already live on every server", to)
		}
		return to, nil
	}
	for _, cand := range o.runs[0].state.sorted() {
		if o.allGood(cand.Name) && !o.anyLive(cand.Name) {
			return cand.Name, nil
		}
	}
	return "", errors.New("no previous good release exists on every server")
}

func (o *op) allGood(name string) bool {
	for _, r := range o.runs {
		if info := r.state.releases[name]; info == nil || !info.Good || !info.Complete {
			return false
		}
	}
	return true
}

func (o *op) allLive(name string) bool {
	for _, r := range o.runs {
		if r.state.current != name {
			return false
		}
	}
	return true
}

func (o *op) anyLive(name string) bool {
	for _, r := range o.runs {
		if r.state.current == name {
			return true
		}
	}
	return false
}

// Status reports, for every server of t, the live release and the releases
// present. It takes no lock and changes nothing.
func (e *Engine) Status(ctx context.Context, t Target) ([]ServerStatus, error) {
	t, err := t.validate()
	if err != nil {
		return nil, err
	}
	o := e.newOp(t, nil, "")
	defer o.close()
	out := make([]ServerStatus, len(o.runs))
	err = o.each(ctx, stepInspect, nil, func(ctx context.Context, r *serverRun) error {
		c, err := dial(ctx, o.t, r.srv)
		if err != nil {
			return err
		}
		r.conn = c
		r.state, err = inspect(ctx, c, r.root)
		return err
	})
	for i, r := range o.runs {
		out[i] = ServerStatus{Server: r.addr, Current: r.state.current, Releases: r.state.sorted(), Error: r.res.Error}
	}
	return out, err
}

// verifyRollbackRelease checks release to on every server before anything
// runs in it, as an upload is checked before a deploy switches: a release
// sits on the servers for weeks, and anyone with a shell there may have
// edited its files, and its manifest to match. Its manifest must be the
// first server's (m) everywhere and the one Tollgate recorded when it
// deployed the release (Target.RecordedManifest), and every entry must
// match it (hashed on the server, as a drift check does).
func (o *op) verifyRollbackRelease(ctx context.Context, to string, m Manifest) error {
	digest := m.Digest()
	if o.t.RecordedManifest != nil {
		recorded, err := o.t.RecordedManifest(ctx, to)
		if err != nil {
			return fmt.Errorf("the record of release %s: %w", to, err)
		}
		if recorded != "" && recorded != digest {
			return fmt.Errorf("release %s: its manifest on %s (%s) is not the one Tollgate deployed (%s); refusing to roll back to it",
				to, o.runs[0].addr, digest, recorded)
		}
	}
	want := m.driftEntries()
	return o.each(ctx, stepVerify, nil, func(ctx context.Context, r *serverRun) error {
		data, err := r.conn.output(ctx, readManifestScript(r.root, to), nil)
		if err != nil {
			return fmt.Errorf("read manifest of release %s: %w", to, err)
		}
		if got, err := ParseManifest([]byte(data)); err != nil || got.Digest() != digest {
			return fmt.Errorf("release %s: its manifest differs from %s's; refusing to roll back to it", to, o.runs[0].addr)
		}
		live, _, err := listLive(ctx, r, to)
		if err != nil {
			return err
		}
		if changes := drift.Compare(want, live, drift.Options{Shared: o.t.Shared}); len(changes) > 0 {
			paths := make([]string, 0, min(len(changes), 5))
			for _, c := range changes[:min(len(changes), 5)] {
				paths = append(paths, c.String())
			}
			return fmt.Errorf("release %s no longer matches its manifest, changed on the server after it was deployed (%d of its paths): %s; refusing to roll back to it",
				to, len(changes), strings.Join(paths, "; "))
		}
		o.logf(r, "verified release %s: %d entries match its manifest (%s)", to, len(m), digest)
		return nil
	})
}
