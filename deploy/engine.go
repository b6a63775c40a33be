package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Engine deploys releases and rolls them back. The zero value is ready to use.
type Engine struct {
	Now        func() time.Time // clock for release names and markers; nil means time.Now
	HTTPClient *http.Client     // for URL health checks; nil means http.DefaultClient
	StageDir   string           // where a source is spooled before sending; "" means the system temp dir
	Logger     *slog.Logger     // operational warnings; nil means slog.Default()
}

// Deploy puts the tree yielded by src live as release on every server of t.
// The source is read and validated completely before any connection is made.
// Progress and hook output (redacted) are written to log as they happen.
// The error is nil exactly when the outcome is Succeeded. src is not closed.
func (e *Engine) Deploy(ctx context.Context, t Target, release ReleaseSpec, src Source, log io.Writer) (Result, error) {
	started := e.now()
	res := Result{Operation: "deploy", Environment: t.Environment, SHA: release.SHA, Outcome: Failed, Started: started}
	red := newRedactor(t.Secrets)
	fail := func(err error) (Result, error) {
		res.Finished = e.now()
		res.Error = err.Error()
		red.result(&res)
		return res, errors.New(res.Error)
	}
	t, err := t.validate()
	if err != nil {
		return fail(err)
	}
	release, err = release.validate(started)
	if err != nil {
		return fail(err)
	}
	res.Release = release.Name
	if src == nil {
		return fail(errors.New("no source"))
	}
	st, err := stageSource(ctx, src, e.StageDir)
	if err != nil {
		return fail(fmt.Errorf("release %s: %w", release.Name, err))
	}
	defer st.Close()
	res.Manifest, res.ManifestDigest = st.manifest, st.digest()
	if shared, _, _ := sharedPaths(t.Shared); len(shared) > 0 {
		err = checkSharedParents(st.manifest, shared)
	}
	if err != nil {
		return fail(fmt.Errorf("release %s: %w", release.Name, err))
	}

	o := e.newOp(t, log, release.Name)
	o.env = hookEnv{Environment: t.Environment, Release: release.Name, SHA: release.SHA, Ref: release.Ref}
	defer o.close()
	outcome, err := o.deploy(ctx, st, releaseMeta{name: release.Name, sha: release.SHA, created: started})
	res.Servers = o.results()
	res.Outcome = outcome
	res.Finished = e.now()
	if err != nil {
		res.Error = err.Error()
	}
	red.result(&res)
	if err != nil {
		return res, errors.New(red.String(fmt.Sprintf("deploy %s to %s: %s: %s", release.Name, t.Environment, outcome, res.Error)))
	}
	return res, nil
}

func (o *op) deploy(ctx context.Context, st *stagedTree, meta releaseMeta) (OutcomeKind, error) {
	if err := o.connectAndLock(ctx, "deploy"); err != nil {
		return Failed, err
	}
	all, dirs, files := sharedPaths(o.t.Shared)
	meta.shared = all
	if err := o.each(ctx, stepInspect, nil, func(ctx context.Context, r *serverRun) error {
		return o.prepare(ctx, r, meta.name, dirs, files)
	}); err != nil {
		return Failed, err
	}
	isCreated := func(r *serverRun) bool { return r.created }
	err := o.each(ctx, stepUpload, nil, func(ctx context.Context, r *serverRun) error {
		return o.upload(ctx, r, st, meta)
	})
	if err == nil {
		err = o.each(ctx, stepBeforeSwitch, nil, func(ctx context.Context, r *serverRun) error {
			env := o.env
			env.Previous, env.Root = r.res.Previous, r.root
			return o.runHooks(ctx, r, stepBeforeSwitch, r.root+"/releases/"+meta.name, o.t.Hooks.BeforeSwitch, env)
		})
	}
	if err != nil {
		o.removeRelease(ctx, meta.name, isCreated)
		return Failed, err
	}

	err = o.switchTo(ctx, stepSwitch, meta.name, nil, func(r *serverRun) { r.switched, r.res.Live = true, meta.name })
	if err == nil {
		err = o.each(ctx, stepAfterSwitch, nil, func(ctx context.Context, r *serverRun) error {
			env := o.env
			env.Previous, env.Root = r.res.Previous, r.root
			return o.runHooks(ctx, r, stepAfterSwitch, r.root+"/releases/"+meta.name, o.t.Hooks.AfterSwitch, env)
		})
	}
	if err == nil {
		err = o.each(ctx, stepHealth, nil, o.healthCheck)
	}
	if err == nil {
		err = o.markGood(ctx, meta.name, func(r *serverRun) []string {
			state := r.state
			state.current = meta.name
			state.releases[meta.name] = &ReleaseInfo{Name: meta.name, Created: meta.created, Good: true, Complete: true}
			return state.expired(o.t.KeepReleases)
		})
	}
	if err != nil {
		return o.undo(ctx, meta.name, err)
	}
	return Succeeded, nil
}

// undo switches every switched server back after a failure once live.
func (o *op) undo(ctx context.Context, name string, cause error) (OutcomeKind, error) {
	if !o.switchBack(ctx, name) {
		return Failed, fmt.Errorf("%w; switching back FAILED on some servers, see each server's live release", cause)
	}
	o.removeRelease(ctx, name, func(r *serverRun) bool { return r.created })
	return RolledBack, cause
}

// prepare inspects a server before upload: it removes leftovers of failed
// deploys, refuses an existing release name, picks the base release for
// hard links and readies shared paths.
func (o *op) prepare(ctx context.Context, r *serverRun, name string, sharedDirs, sharedFiles []string) error {
	state := r.state
	if stale := state.unfinished(); len(stale) > 0 {
		o.logf(r, "removing unfinished releases of earlier deploys: %v", stale)
		if err := r.conn.run(ctx, removeScript(r.root, stale), nil, nil, nil); err != nil {
			return fmt.Errorf("remove unfinished releases: %w", err)
		}
		for _, n := range stale {
			delete(state.releases, n)
		}
	}
	if _, exists := state.releases[name]; exists {
		return fmt.Errorf("release %s already exists", name)
	}
	if cur := state.releases[state.current]; cur != nil && cur.Complete {
		if state.base != cur.Name {
			return fmt.Errorf("current release %s: its manifest was not reported", cur.Name)
		}
		base, err := ParseManifest([]byte(strings.Join(state.baseManifest, "\n")))
		if err != nil {
			return fmt.Errorf("read manifest of current release %s: %w", cur.Name, err)
		}
		r.base, r.baseShared = base, state.baseShared
		r.res.Base = cur.Name
	}
	if len(sharedDirs)+len(sharedFiles) > 0 {
		if err := r.conn.run(ctx, sharedScript(r.root, sharedDirs, sharedFiles), nil, nil, nil); err != nil {
			return fmt.Errorf("shared paths: %w", err)
		}
	}
	return nil
}
