package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Engine deploys releases and rolls them back. The zero value is ready to use.
type Engine struct {
	Now        func() time.Time // clock for release names and markers; nil means time.Now
	HTTPClient *http.Client     // for URL health checks; nil means http.DefaultClient
	StageDir   string           // where a source is spooled as it is read; "" means the system temp dir
	Logger     *slog.Logger     // operational warnings; nil means slog.Default()
	// ContentIndexFile keeps, across restarts, which git blob has which
	// SHA-256 (see the package doc, "Fetching only what changed"); ""
	// keeps it in memory only.
	ContentIndexFile string

	indexOnce sync.Once
	index     *contentIndex
}

// gateBytes is how much of a stream source is read and validated before
// any server is contacted: a tarball refused early (most bad ones are
// small or bad near their start) costs no connection, and a good one's
// first megabyte takes milliseconds.
const gateBytes = 1 << 20

// Deploy puts the tree yielded by src live as release on every server of t.
// The source is read once, validated entry by entry and streamed to every
// server as it is read; nothing runs in the new release and nothing
// switches until the whole source has validated and every server has
// verified every file it holds. A ListedSource fetches only what no server
// has. Progress and hook output (redacted) are written to log as they
// happen. The error is nil exactly when the outcome is Succeeded. src is
// not closed.
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
	st, err := newStage(e.StageDir)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		_ = st.Close()
	}()

	o := e.newOp(t, log, release.Name)
	o.env = hookEnv{Environment: t.Environment, Release: release.Name, SHA: release.SHA, Ref: release.Ref}
	defer o.close()
	outcome, err := o.deploy(ctx, st, src, releaseMeta{name: release.Name, sha: release.SHA, created: started}, &res.Source)
	if st.isDone() {
		res.Manifest, res.ManifestDigest = st.manifest, "sha256:"+st.manifestSum
	}
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

func (o *op) deploy(ctx context.Context, st *stage, src Source, meta releaseMeta, use *SourceUse) (OutcomeKind, error) {
	all, dirs, files := sharedPaths(o.t.Shared)
	meta.shared = all
	if err := o.begin(ctx, st, src, meta, dirs, files, use); err != nil {
		return Failed, err
	}
	isCreated := func(r *serverRun) bool { return r.created }
	err := o.each(ctx, stepUpload, nil, func(ctx context.Context, r *serverRun) error {
		return o.upload(ctx, r, st, meta)
	})
	if serr := st.failure(); serr != nil {
		// Every server's upload stopped for this one reason.
		err = fmt.Errorf("release %s: %w", meta.name, serr)
	}
	if st.isDone() {
		use.Seconds = st.seconds
		if err := o.e.contents().record(st); err != nil {
			o.e.logger().Warn("deploy: saving the content index", "err", err)
		}
	}
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

// begin starts reading the source into st and connects to, locks and
// prepares every server, overlapping the two: a stream source is read
// from the start (the connection waits only for its first gateBytes); a
// ListedSource is listed while the servers are prepared, since which files
// to fetch depends on what each server already has.
func (o *op) begin(ctx context.Context, st *stage, src Source, meta releaseMeta, sharedDirs, sharedFiles []string, use *SourceUse) error {
	prepare := func() error {
		if err := o.connectAndLock(ctx, "deploy"); err != nil {
			return err
		}
		return o.each(ctx, stepInspect, nil, func(ctx context.Context, r *serverRun) error {
			return o.prepare(ctx, r, meta.name, sharedDirs, sharedFiles)
		})
	}
	if ls, ok := src.(ListedSource); ok {
		return o.beginListed(ctx, st, ls, meta, prepare, use)
	}
	use.Mode = SourceStream
	st.run(ctx, meta.shared, func(ctx context.Context) error { return st.readSource(ctx, src) })
	if err := st.await(ctx, func() bool { return st.done || st.consumed >= gateBytes }); err != nil {
		return fmt.Errorf("release %s: %w", meta.name, err)
	}
	return prepare()
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
		if gone := removedFiles(base, state.baseFiles); len(gone) > 0 {
			// Removed on the server after the release was verified: sent,
			// never hard-linked (a link to nothing fails the extraction).
			o.logf(r, "WARNING: release %s lacks files of its manifest (removed on the server after they were verified), sending them anew: %s",
				cur.Name, strings.Join(gone, ", "))
			base = slices.DeleteFunc(base, func(e ManifestEntry) bool { return e.Type == TypeFile && !state.baseFiles[e.Path] })
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

// removedFiles lists the files of base that the server's listing of the
// release (present) lacks.
func removedFiles(base Manifest, present map[string]bool) []string {
	var gone []string
	for _, e := range base {
		if e.Type == TypeFile && !present[e.Path] {
			gone = append(gone, e.Path)
		}
	}
	return gone
}
