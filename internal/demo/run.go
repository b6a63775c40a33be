package demo

import (
	"context"
	"errors"
	"fmt"
	"github.com/tollgate-dev/tollgate/server"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/internal/cli"
)

// demoOptions are the demo command's flags.
type demoOptions struct {
	Exit    bool   // end after the story
	DataDir string // keep everything here; "" means a temporary directory
	Listen  string // the server's listen address
}

// errDemoUsage marks a demo that cannot start because of its flags.
var errDemoUsage = errors.New("usage")

// demoShutdownGrace bounds how long the demo's server waits for deploys
// when it stops; the story waits for its deploys, so none should run.
const demoShutdownGrace = 30 * time.Second

// runDemoStory sets the demo up, plays the story, and serves until ctx
// ends unless opts.Exit. The transcript goes to out.
func runDemoStory(ctx context.Context, opts demoOptions, out io.Writer) (err error) {
	dir, cleanup, err := demoDataDir(opts.DataDir)
	if err != nil {
		return err
	}
	defer cleanup()
	begin := time.Now()
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("%w: --listen %s: %w", errDemoUsage, opts.Listen, err)
	}
	defer ln.Close() // the server closes it when it stops; a second Close is harmless

	hist, err := makeDemoRepo(ctx, filepath.Join(dir, "shop"))
	if err != nil {
		return err
	}
	fakes, err := startDemoFakes(ctx, hist)
	if err != nil {
		return err
	}
	defer fakes.close()
	targets, err := startDemoTargets(dir)
	if err != nil {
		return err
	}
	defer targets.close()
	addr := ln.Addr().String()
	setup := demoSetup{Dir: dir, Listen: addr, PublicURL: "http://" + reachable(addr), Fakes: fakes, Targets: targets,
		SigningSecret: randomSecret()}
	cfg, warnings, cfgPath, err := writeDemoConfig(setup)
	if err != nil {
		return err
	}

	logFile, err := os.OpenFile(filepath.Join(dir, "tollgate.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("opening the server log: %w", err)
	}
	defer logFile.Close()
	log := slog.New(slog.NewJSONHandler(logFile, nil))
	srv, err := server.New(ctx, cfg, server.Options{Logger: log})
	if err != nil {
		return fmt.Errorf("assembling the server from %s: %w", cfgPath, err)
	}
	defer srv.Close()

	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- srv.Run(runCtx, server.RunOptions{ConfigPath: cfgPath, Workers: 2, ShutdownGrace: demoShutdownGrace,
			Listener: ln, Ready: func(string) { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		return fmt.Errorf("the server stopped at once: %w", err)
	}
	defer func() {
		stop()
		if serr := <-done; serr != nil && err == nil {
			err = fmt.Errorf("stopping the server: %w", serr)
		}
	}()

	jar, err := cookiejar.New(nil)
	if err != nil {
		return err
	}
	st := &demoStory{out: out, base: setup.PublicURL, cfgPath: cfgPath, dir: dir, fakes: fakes, targets: targets,
		srv: srv, obs: newDemoObserver(out, fakes, srv.Store().Audit()), slackSign: setup.SigningSecret,
		hookKey: fakes.gh.WebhookSecret(), browser: &http.Client{Jar: jar, Timeout: demoStepTimeout}}
	st.intro(warnings, opts.DataDir == "")
	if err := st.play(ctx); err != nil {
		return err
	}
	if err := st.stepVerify(ctx); err != nil {
		return err
	}
	if err := st.stepTamper(ctx); err != nil {
		return err
	}
	if err := st.stepTamperServer(ctx); err != nil {
		return err
	}
	if err := st.flush(ctx); err != nil {
		return err
	}
	if !opts.Exit {
		// A person's browser signs in with one hop, as the demo's viewer.
		fakes.gh.AuthorizeAs(demoViewer.Login)
	}
	st.outro(opts, time.Since(begin))
	if !opts.Exit {
		<-ctx.Done()
		st.printf("\nStopping.\n")
	}
	return nil
}

// reachable turns a listen address into one a browser on this machine
// can open: a wildcard host (":8080") becomes 127.0.0.1.
func reachable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// demoDataDir returns the directory the demo keeps everything in and the
// function that removes it (a no-op for a directory the user gave).
func demoDataDir(given string) (string, func(), error) {
	if given == "" {
		dir, err := os.MkdirTemp("", "tollgate-demo-")
		if err != nil {
			return "", nil, fmt.Errorf("creating a temporary directory: %w", err)
		}
		return dir, func() { _ = os.RemoveAll(dir) }, nil
	}
	dir, err := filepath.Abs(given)
	if err != nil {
		return "", nil, fmt.Errorf("%w: --data %s: %w", errDemoUsage, given, err)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return "", nil, fmt.Errorf("%w: --data %s is not empty; give a new or empty directory", errDemoUsage, given)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("%w: --data %s: %w", errDemoUsage, given, err)
	}
	return dir, func() {}, nil
}

// intro prints who is who and what runs where.
func (st *demoStory) intro(warnings []config.Warning, temporary bool) {
	st.printf("Tollgate demo: the real server, its real SQLite database and SSH deploys, with GitHub and\n")
	st.printf("Slack played by fakes in this process. Every request below is signed as GitHub or Slack\n")
	st.printf("signs it, and goes through Tollgate's HTTP endpoints.\n\n")
	st.printf("  Tollgate    %s  (config $DATA/%s, server log $DATA/tollgate.log)\n", st.base, demoConfigName)
	var other []string
	for _, w := range warnings {
		if !strings.Contains(w.String(), "secret written in the config file") {
			other = append(other, w.String())
		}
	}
	if n := len(warnings) - len(other); n > 0 {
		st.printf("              %s that the demo's throwaway secrets are written in the file\n", cli.Plural(n, "config warning", "config warnings"))
	}
	for _, w := range other {
		st.printf("              %s\n", w)
	}
	where := st.dir
	if temporary {
		where += " (temporary; --data DIR keeps it)"
	}
	st.printf("  Data        %s\n", where)
	st.printf("  Repository  %s, a git repository built just now in $DATA/shop\n", demoRepo)
	for _, e := range []demoEnvTarget{st.targets.Staging, st.targets.Production} {
		var names []string
		for _, s := range e.Servers {
			names = append(names, fmt.Sprintf("%s (%s:%d)", s.Name, s.Host, s.Port))
		}
		st.printf("  %-11s %s, own SSH key and known_hosts\n", e.Name, strings.Join(names, ", "))
	}
	st.printf("              (the servers share this machine, so tollgate.yml gives each its own path under\n")
	st.printf("               $DATA/servers/; real servers, each with its own disk, share their environment's path)\n")
	st.printf("  People:\n")
	for _, p := range demoCast {
		st.printf("    %-6s GitHub teams %-28s %s\n", p.Login, strings.Join(p.Teams, ", "), p.Describes)
	}
}

// outro prints where to look next.
func (st *demoStory) outro(opts demoOptions, took time.Duration) {
	st.section("Done")
	st.printf("  The story took %s. Deployment log pages (behind the GitHub login, like every page):\n", took.Round(100*time.Millisecond))
	for _, r := range st.requests {
		st.printf("    %s/deployments/%s   %s %s %s\n", st.base, r.ID, r.Environment, r.Trigger, demoShort(r.SHA))
	}
	st.printf("  The audit log and its verification: %s/audit\n", st.base)
	st.printf("  What runs where, locks and freezes:  %s/environments\n", st.base)
	st.printf("  Also: %s/metrics  %s/healthz  %s/readyz\n", st.base, st.base, st.base)
	if opts.DataDir != "" {
		st.printf("\n  Everything is kept in %s. Try:\n", st.dir)
		st.printf("    tollgate verify --config %s\n", st.cfgPath)
		st.printf("        fails with exit status 1, by design: the demo tampered with that database\n")
		st.printf("    tollgate verify --database %s --public-key %s\n",
			filepath.Join(st.dir, demoBackupName), st.srv.Config().Audit.PublicKeyFile)
		st.printf("        the copy taken before the tamper step: OK\n")
		st.printf("    tollgate audit tail --config %s\n", st.cfgPath)
		st.printf("    tollgate audit prove %d --config %s > proof.txt\n", st.lastSeq, st.cfgPath)
		st.printf("        the inclusion proof of the story's last entry, covered by the checkpoint of step 9\n")
		if seq, err := st.tamperTarget(); err == nil {
			st.printf("    tollgate audit prove %d --config %s\n", seq, st.cfgPath)
			st.printf("        refused with exit status 1: that entry was edited after it was written\n")
		}
		day := time.Now().UTC().Format(time.DateOnly)
		st.printf("    tollgate evidence --config %s --database %s --from %s --to %s --out %s\n",
			st.cfgPath, filepath.Join(st.dir, demoBackupName), day, day, filepath.Join(st.dir, "evidence"))
		st.printf("        the auditor's pack of the story's changes, from the untouched copy\n")
	}
	if !opts.Exit {
		st.printf("\n  Serving at %s until Ctrl-C. Open a page above in a browser: Tollgate sends you to sign\n", st.base)
		st.printf("  in with GitHub, and the demo's fake GitHub (%s) signs you in at once as @%s\n", st.fakes.gh.URL(), demoViewer.Login)
		st.printf("  (%s, a member of %s) and sends you back to the page.\n", demoViewer.Describes, demoOrg)
	}
}
