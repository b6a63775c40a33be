package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Step names, used in results, logs and errors.
const (
	stepConnect      = "connect"
	stepLock         = "lock"
	stepInspect      = "inspect"
	stepUpload       = "upload"
	stepVerify       = "verify_release"
	stepBeforeSwitch = "before_switch"
	stepSwitch       = "switch"
	stepAfterSwitch  = "after_switch"
	stepHealth       = "health"
	stepFinalize     = "finalize"
	stepSwitchBack   = "switch_back"
	stepRemove       = "remove_release"
)

// cleanupTimeout bounds work done after a failure or cancellation.
const cleanupTimeout = 2 * time.Minute

// serverRun is one server's part of an operation.
type serverRun struct {
	srv        Server
	addr       string
	root       string // deploy path on this server
	conn       *conn
	lock       *remoteLock
	res        *ServerResult
	state      serverState
	base       Manifest // manifest of the release hard-linked from
	baseShared []string // shared paths of the base release
	created    bool     // the new release directory may exist
	switched   bool     // current points at the new release
}

// op is one deploy or rollback in progress.
type op struct {
	e       *Engine
	t       Target
	red     *redactor
	log     *lineLog
	runs    []*serverRun
	release string
	env     hookEnv
	token   string
}

func (e *Engine) newOp(t Target, log io.Writer, release string) *op {
	red := newRedactor(t.Secrets)
	o := &op{e: e, t: t, red: red, log: newLineLog(log, red), release: release}
	var b [6]byte
	_, _ = rand.Read(b[:])
	o.token = hex.EncodeToString(b[:])
	for _, s := range t.Servers {
		root := t.Path
		if s.Path != "" {
			root = s.Path
		}
		port := s.Port
		if port == 0 {
			port = 22
		}
		o.runs = append(o.runs, &serverRun{srv: s, addr: s.Addr(), root: root,
			res: &ServerResult{Server: s.Addr(), Host: s.Host, Port: port, Release: release}})
	}
	return o
}

// each runs fn for every run that include accepts (nil: all), at most
// MaxParallel at once, timing the step. Every server runs to the end; the
// returned error joins each failure, named by server and step.
func (o *op) each(ctx context.Context, step string, include func(*serverRun) bool, fn func(context.Context, *serverRun) error) error {
	sem := make(chan struct{}, o.t.MaxParallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, r := range o.runs {
		if include != nil && !include(r) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			start := time.Now()
			err := fn(ctx, r)
			sr := StepResult{Step: step, Seconds: time.Since(start).Seconds()}
			if err != nil {
				err = fmt.Errorf("%s %s: %s", r.addr, step, o.red.String(err.Error()))
				sr.Error = err.Error()
				o.log.line(o.prefix(r), "FAILED "+step+": "+sr.Error)
			}
			mu.Lock()
			defer mu.Unlock()
			r.res.Steps = append(r.res.Steps, sr)
			if err != nil {
				if r.res.Error == "" {
					r.res.Error = err.Error()
				}
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// envFor is the hook environment on r.
func (o *op) envFor(r *serverRun) hookEnv {
	env := o.env
	env.Previous, env.Root = r.res.Previous, r.root
	return env
}

func (o *op) prefix(r *serverRun) string { return "[" + r.addr + "] " }

func (o *op) logf(r *serverRun, format string, args ...any) {
	o.log.line(o.prefix(r), o.red.String(fmt.Sprintf(format, args...)))
}

// connectAndLock connects to every server and, only if all answered, takes
// every server's lock.
func (o *op) connectAndLock(ctx context.Context, opName string) error {
	err := o.each(ctx, stepConnect, nil, func(ctx context.Context, r *serverRun) error {
		c, err := dial(ctx, o.t, r.srv)
		r.conn = c
		if c != nil {
			r.res.HostKeySHA256 = c.hostKey
		}
		return err
	})
	if err != nil {
		return err
	}
	owner := lockOwner(o.e.now(), opName, o.t.Environment, o.release)
	return o.each(ctx, stepLock, nil, func(ctx context.Context, r *serverRun) error {
		l, state, err := acquireLock(ctx, r.conn, r.root, owner, o.t.LockWait)
		r.lock, r.state = l, state
		r.res.Previous, r.res.Live = state.current, state.current
		return err
	})
}

// close releases every lock and connection.
func (o *op) close() {
	for _, r := range o.runs {
		if r.lock != nil {
			if err := r.lock.release(); err != nil {
				o.e.logger().Warn("deploy: release lock", "server", r.addr, "err", err)
			}
		}
		if r.conn != nil {
			_ = r.conn.Close()
		}
	}
}

// detached gives cleanup work a context that survives cancellation of ctx.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// removeRelease deletes release name on every server where include holds.
func (o *op) removeRelease(ctx context.Context, name string, include func(*serverRun) bool) {
	ctx, cancel := detached(ctx)
	defer cancel()
	_ = o.each(ctx, stepRemove, include, func(ctx context.Context, r *serverRun) error {
		o.logf(r, "removing release %s", name)
		return r.conn.run(ctx, removeScript(r.root, []string{name}), nil, nil, nil)
	})
}

// switchTo points current at name on every server where include holds.
func (o *op) switchTo(ctx context.Context, step, name string, include func(*serverRun) bool, onSwitched func(*serverRun)) error {
	return o.each(ctx, step, include, func(ctx context.Context, r *serverRun) error {
		if err := r.conn.run(ctx, switchScript(r.root, name, o.token), nil, nil, nil); err != nil {
			return err
		}
		r.res.SwitchedAt = o.e.now()
		onSwitched(r)
		o.logf(r, "current -> releases/%s", name)
		return nil
	})
}

// switchBack returns every switched server to its previous release (or to
// no current link at all after a first deploy) and reruns after_switch there.
// It reports whether every switched server is back.
func (o *op) switchBack(ctx context.Context, newRelease string) bool {
	ctx, cancel := detached(ctx)
	defer cancel()
	err := o.each(ctx, stepSwitchBack, func(r *serverRun) bool { return r.switched }, func(ctx context.Context, r *serverRun) error {
		prev := r.res.Previous
		if prev == "" {
			if err := r.conn.run(ctx, unlinkCurrentScript(r.root, newRelease), nil, nil, nil); err != nil {
				return err
			}
			r.switched, r.res.Live = false, ""
			o.logf(r, "current removed (there was no previous release)")
			return nil
		}
		if err := r.conn.run(ctx, switchScript(r.root, prev, o.token), nil, nil, nil); err != nil {
			return err
		}
		r.switched, r.res.Live = false, prev
		o.logf(r, "switched back: current -> releases/%s", prev)
		env := o.env
		env.Release, env.Previous, env.Root = prev, newRelease, r.root
		return o.runHooks(ctx, r, stepAfterSwitch+" (switch back)", r.root+"/releases/"+prev, o.t.Hooks.AfterSwitch, env)
	})
	return err == nil || !o.anySwitched()
}

func (o *op) anySwitched() bool {
	for _, r := range o.runs {
		if r.switched {
			return true
		}
	}
	return false
}

// markGood writes the success marker of name on every server and, in the
// same command, deletes the releases expired returns for that server. A
// failed deletion is only logged: the release is live and healthy.
func (o *op) markGood(ctx context.Context, name string, expired func(*serverRun) []string) error {
	at := o.e.now().UTC().Format(time.RFC3339Nano)
	return o.each(ctx, stepFinalize, nil, func(ctx context.Context, r *serverRun) error {
		var old []string
		if expired != nil {
			old = expired(r)
		}
		script := markGoodScript(r.root, name, at)
		if len(old) > 0 {
			o.logf(r, "removing old releases %v (keep_releases %d)", old, o.t.KeepReleases)
			script += "\n(\n" + removeScript(r.root, old) + "\n) || exit 3"
		}
		err := r.conn.run(ctx, script, nil, nil, nil)
		if exitCode(err) == 3 {
			o.logf(r, "WARNING: removing old releases failed: %v", err)
			return nil
		}
		return err
	})
}

// results collects the per-server results in target order.
func (o *op) results() []ServerResult {
	out := make([]ServerResult, len(o.runs))
	for i, r := range o.runs {
		out[i] = *r.res
	}
	return out
}

func (e *Engine) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.Default()
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}
