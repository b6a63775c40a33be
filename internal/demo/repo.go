package demo

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The demo's application: a tiny shop whose health check reads its own
// settings file, so a typo in that file makes the deploy fail its health
// check the way a real misconfiguration would.
const (
	demoHealthcheck = `#!/bin/sh
# Health check run by Tollgate on each server in <path>/current.
workers=$(sed -n 's/^workers = //p' config/settings.conf)
case "$workers" in
  ''|*[!0-9]*) echo "config/settings.conf: workers must be a number, got '$workers'" >&2; exit 1 ;;
esac
test -s public/index.html || { echo "public/index.html is missing" >&2; exit 1; }
echo "ok: $workers workers"
`
	demoSettingsGood  = "# shop settings\nworkers = 4\ntimeout_seconds = 10\n"
	demoSettingsTypo  = "# shop settings\nworkers = 8x\ntimeout_seconds = 10\n"
	demoSettingsFixed = "# shop settings\nworkers = 8\ntimeout_seconds = 30\n"
)

// demoCommit is one commit of the demo repository as the story uses it.
type demoCommit struct {
	SHA     string // the merge commit on main (or the root commit)
	HeadSHA string // the pull request's head commit; "" for the root commit
	Branch  string // the pull request's branch
	Title   string
}

// demoHistory is the demo repository's history: a root commit and three
// pull requests merged into main, each changing one file.
type demoHistory struct {
	Dir     string
	Initial demoCommit
	Banner  demoCommit // PR #1: changes public/index.html
	Typo    demoCommit // PR #2: breaks config/settings.conf (health check fails)
	Fix     demoCommit // PR #3: fixes config/settings.conf
}

// demoGit runs git in a repository with a fixed identity and clock-free
// configuration, so the demo does not depend on the user's git settings.
type demoGit struct {
	dir string
	env []string
}

func (g demoGit) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", g.dir}, args...)...)
	cmd.Env = g.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s in %s: %w: %s", strings.Join(args, " "), g.dir, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// as returns g acting as a named author and committer.
func (g demoGit) as(name string) demoGit {
	env := append([]string(nil), g.env...)
	email := name + "@users.noreply.example"
	env = append(env, "GIT_AUTHOR_NAME="+name, "GIT_AUTHOR_EMAIL="+email,
		"GIT_COMMITTER_NAME="+name, "GIT_COMMITTER_EMAIL="+email)
	return demoGit{dir: g.dir, env: env}
}

// writeFiles writes files (path → content) under the repository; content
// starting with "#!" is made executable.
func (g demoGit) writeFiles(files map[string]string) error {
	for p, content := range files {
		full := filepath.Join(g.dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("demo repository: %w", err)
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(content, "#!") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			return fmt.Errorf("demo repository: %w", err)
		}
	}
	return nil
}

// commit stages everything and commits it, returning the new SHA.
func (g demoGit) commit(ctx context.Context, message string) (string, error) {
	if _, err := g.run(ctx, "add", "-A"); err != nil {
		return "", err
	}
	if _, err := g.run(ctx, "commit", "-q", "-m", message); err != nil {
		return "", err
	}
	return g.run(ctx, "rev-parse", "HEAD")
}

// mergePR commits files on a new branch as author, then merges the branch
// into main with a merge commit as merger, as GitHub's merge button does.
func (g demoGit) mergePR(ctx context.Context, number int, branch, title, author, merger string, files map[string]string) (demoCommit, error) {
	c := demoCommit{Branch: branch, Title: title}
	if _, err := g.run(ctx, "checkout", "-q", "-b", branch, "main"); err != nil {
		return c, err
	}
	if err := g.writeFiles(files); err != nil {
		return c, err
	}
	head, err := g.as(author).commit(ctx, title)
	if err != nil {
		return c, err
	}
	if _, err := g.run(ctx, "checkout", "-q", "main"); err != nil {
		return c, err
	}
	msg := fmt.Sprintf("Merge pull request #%d from acme/%s\n\n%s", number, branch, title)
	if _, err := g.as(merger).run(ctx, "merge", "-q", "--no-ff", "-m", msg, branch); err != nil {
		return c, err
	}
	sha, err := g.run(ctx, "rev-parse", "HEAD")
	if err != nil {
		return c, err
	}
	c.SHA, c.HeadSHA = sha, head
	return c, nil
}

// makeDemoRepo creates the demo application's git repository in dir (which
// must not exist yet or be empty) and returns its history.
func makeDemoRepo(ctx context.Context, dir string) (demoHistory, error) {
	h := demoHistory{Dir: dir}
	if _, err := exec.LookPath("git"); err != nil {
		return h, fmt.Errorf("the demo builds its application repository with git, which was not found: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return h, fmt.Errorf("demo repository: %w", err)
	}
	// A clean environment: no user or system git config changes the result.
	env := []string{"HOME=" + dir, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"PATH=" + os.Getenv("PATH"), "LC_ALL=C"}
	g := demoGit{dir: dir, env: env}
	// init then symbolic-ref rather than init -b: older gits lack -b.
	if _, err := g.run(ctx, "init", "-q"); err != nil {
		return h, err
	}
	if _, err := g.run(ctx, "symbolic-ref", "HEAD", "refs/heads/main"); err != nil {
		return h, err
	}
	if err := g.writeFiles(map[string]string{
		"README.md":            "# shop\n\nThe demo application Tollgate deploys.\n",
		"bin/healthcheck":      demoHealthcheck,
		"config/settings.conf": demoSettingsGood,
		"public/index.html":    "<!doctype html>\n<title>shop</title>\n<h1>shop</h1>\n",
		"public/style.css":     "body { font-family: sans-serif; }\n",
	}); err != nil {
		return h, err
	}
	root, err := g.as("alice").commit(ctx, "Initial shop application")
	if err != nil {
		return h, err
	}
	h.Initial = demoCommit{SHA: root, Branch: "main", Title: "Initial shop application"}
	if h.Banner, err = g.mergePR(ctx, 1, "welcome-banner", "Add a welcome banner", "alice", "alice", map[string]string{
		"public/index.html": "<!doctype html>\n<title>shop</title>\n<h1>shop</h1>\n<p class=banner>Welcome! Free shipping this week.</p>\n",
	}); err != nil {
		return h, err
	}
	if h.Typo, err = g.mergePR(ctx, 2, "more-workers", "Run 8 workers", "alice", "alice", map[string]string{
		"config/settings.conf": demoSettingsTypo,
	}); err != nil {
		return h, err
	}
	if h.Fix, err = g.mergePR(ctx, 3, "fix-workers", "Fix the workers setting; raise the timeout (INC-42)", "alice", "alice", map[string]string{
		"config/settings.conf": demoSettingsFixed,
	}); err != nil {
		return h, err
	}
	return h, nil
}
