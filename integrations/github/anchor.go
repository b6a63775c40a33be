package github

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"
)

// DefaultAnchorDir is the folder of the anchor repository that holds one
// file of checkpoints per UTC day.
const DefaultAnchorDir = "checkpoints"

// Anchors publishes signed audit checkpoints to the anchor repository
// (audit.anchor_repository) through the contents API and reads them back
// for `tollgate verify --anchors`. Each day's file holds that day's
// checkpoints, each signed note followed by a blank line; a checkpoint is
// appended with the file's blob SHA, so concurrent writers cannot lose one.
type Anchors struct {
	app    *App
	repo   string
	branch string // "" means the default branch
	dir    string
}

// NewAnchors returns the anchor repository repo ("owner/name") on app.
func NewAnchors(app *App, repo, branch string) (*Anchors, error) {
	if _, _, err := splitRepo(repo); err != nil {
		return nil, fmt.Errorf("anchor repository: %w", err)
	}
	return &Anchors{app: app, repo: repo, branch: branch, dir: DefaultAnchorDir}, nil
}

// AnchorPath is the file a checkpoint signed at t goes to.
func AnchorPath(dir string, t time.Time) string {
	return path.Join(dir, t.UTC().Format("2006-01-02")+".txt")
}

// AnchorReceipt says where a checkpoint was published.
type AnchorReceipt struct {
	Repository string // "owner/name"
	Path       string
	Commit     string // the commit that added it; empty when it was already there
}

// AnchoredNote is one signed checkpoint note found in the anchor repository.
type AnchoredNote struct {
	Path string
	Note []byte
}

// Publish appends a signed checkpoint note (of tree size size, signed at
// signedAt) to the file of the day it was signed, unless the file already
// holds it. Publishing twice is harmless.
func (a *Anchors) Publish(ctx context.Context, note []byte, size int64, signedAt time.Time) (AnchorReceipt, error) {
	owner, name, _ := splitRepo(a.repo)
	file := AnchorPath(a.dir, signedAt)
	rc := AnchorReceipt{Repository: a.repo, Path: file}
	c, err := a.app.ForRepo(ctx, a.repo)
	if err != nil {
		return rc, fmt.Errorf("publishing checkpoint %d to %s: %w", size, a.repo, err)
	}
	trimmed := bytes.TrimRight(note, "\n")
	entry := make([]byte, 0, len(trimmed)+2)
	entry = append(append(entry, trimmed...), '\n', '\n')
	const attempts = 4
	for try := 1; ; try++ {
		cur, sha, err := a.read(ctx, c, owner, name, file)
		if err != nil {
			return rc, fmt.Errorf("publishing checkpoint %d: %w", size, err)
		}
		if bytes.Contains(cur, trimmed) {
			return rc, nil // already anchored (an earlier attempt got through)
		}
		opts := &gh.RepositoryContentFileOptions{
			Message: gh.String(fmt.Sprintf("tollgate: anchor audit checkpoint %d", size)),
			Content: append(cur, entry...),
		}
		if a.branch != "" {
			opts.Branch = gh.String(a.branch)
		}
		var res *gh.RepositoryContentResponse
		var resp *gh.Response
		if sha == "" {
			res, resp, err = c.Repositories.CreateFile(ctx, owner, name, file, opts)
		} else {
			opts.SHA = gh.String(sha)
			res, resp, err = c.Repositories.UpdateFile(ctx, owner, name, file, opts)
		}
		st := statusOf(resp)
		if err != nil && (st == http.StatusConflict || st == http.StatusUnprocessableEntity) && try < attempts {
			continue // someone else wrote the file meanwhile: read it again
		}
		if err != nil {
			return rc, fmt.Errorf("publishing checkpoint %d to %s %s: %w", size, a.repo, file, err)
		}
		rc.Commit = res.Commit.GetSHA()
		return rc, nil
	}
}

// read returns a file's content and blob SHA; nil and "" when it does not exist.
func (a *Anchors) read(ctx context.Context, c *gh.Client, owner, name, file string) ([]byte, string, error) {
	fc, _, resp, err := c.Repositories.GetContents(ctx, owner, name, file, a.refOpts())
	if statusOf(resp) == http.StatusNotFound {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("reading %s from %s: %w", file, a.repo, err)
	}
	if fc == nil {
		return nil, "", fmt.Errorf("reading %s from %s: it is not a file", file, a.repo)
	}
	text, err := fc.GetContent()
	if err != nil {
		return nil, "", fmt.Errorf("reading %s from %s: %w", file, a.repo, err)
	}
	return []byte(text), fc.GetSHA(), nil
}

func (a *Anchors) refOpts() *gh.RepositoryContentGetOptions {
	if a.branch == "" {
		return nil
	}
	return &gh.RepositoryContentGetOptions{Ref: a.branch}
}

// Fetch returns every checkpoint in the anchor repository. It lists the
// folder; where the API cannot list it, it reads the file of every day
// from since through tomorrow (UTC), so a period's anchors are found
// without trusting the local log for where to look.
func (a *Anchors) Fetch(ctx context.Context, since, now time.Time) ([]AnchoredNote, error) {
	owner, name, _ := splitRepo(a.repo)
	c, err := a.app.ForRepo(ctx, a.repo)
	if err != nil {
		return nil, fmt.Errorf("fetching anchors from %s: %w", a.repo, err)
	}
	var files []string
	_, dir, resp, err := c.Repositories.GetContents(ctx, owner, name, a.dir, a.refOpts())
	switch {
	case err == nil && dir != nil:
		for _, e := range dir {
			if e.GetType() == "file" && strings.HasSuffix(e.GetName(), ".txt") {
				files = append(files, e.GetPath())
			}
		}
	case err == nil || statusOf(resp) == http.StatusNotFound:
		for d := since.UTC().Truncate(24 * time.Hour); !d.After(now.UTC().Add(24 * time.Hour)); d = d.Add(24 * time.Hour) {
			files = append(files, AnchorPath(a.dir, d))
		}
	default:
		return nil, fmt.Errorf("listing %s in %s: %w", a.dir, a.repo, err)
	}
	var out []AnchoredNote
	for _, f := range files {
		text, _, err := a.read(ctx, c, owner, name, f)
		if err != nil {
			return nil, err
		}
		if text == nil {
			continue
		}
		notes, err := ParseAnchorFile(text)
		if err != nil {
			return nil, fmt.Errorf("%s in %s: %w", f, a.repo, err)
		}
		for _, n := range notes {
			out = append(out, AnchoredNote{Path: f, Note: n})
		}
	}
	return out, nil
}

// ParseAnchorFile splits a day file into its signed notes. A note is its
// text lines, a blank line, and its signature lines ("— name sig").
func ParseAnchorFile(b []byte) ([][]byte, error) {
	lines := strings.SplitAfter(string(b), "\n")
	var out [][]byte
	var cur strings.Builder
	inSigs := false
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, []byte(cur.String()))
			cur.Reset()
		}
		inSigs = false
	}
	for i, l := range lines {
		blank := strings.TrimRight(l, "\n") == ""
		switch {
		case l == "":
			continue // the empty piece after a final newline
		case blank && inSigs:
			flush()
		case blank && cur.Len() == 0:
			continue
		case blank:
			cur.WriteString(l)
			inSigs = true
		case inSigs && !strings.HasPrefix(l, "\u2014 "):
			return nil, fmt.Errorf("line %d: want a signature line (— name signature) or a blank line, got %q", i+1, strings.TrimSpace(l))
		default:
			cur.WriteString(l)
		}
	}
	if cur.Len() > 0 && !inSigs {
		return nil, errors.New("the last checkpoint has no signature")
	}
	flush()
	return out, nil
}
