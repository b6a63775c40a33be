package github

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	gh "github.com/google/go-github/v60/github"

	"github.com/tollgate-dev/tollgate/deploy"
)

// Bounds of fetching blobs one by one: requests in flight, and bytes of
// content held in memory at once (a blob larger than that is fetched
// alone). The git blobs API answers blobs of up to 100 MB.
const (
	blobParallel = 16
	blobBytes    = 64 << 20
)

// TreeSource returns the tree of repo at sha as a deploy.ListedSource: the
// deploy engine lists it through the git trees API and fetches only the
// blobs no server has, raw and in parallel; read as a whole (when that
// pays off better, or file by file cannot be used) it is the commit's
// tarball, downloaded on first use. ctx bounds the tarball download.
func (a *App) TreeSource(ctx context.Context, repo, sha string) deploy.ListedSource {
	return &treeSource{app: a, ctx: ctx, repo: repo, sha: sha}
}

type treeSource struct {
	app       *App
	ctx       context.Context
	repo, sha string

	mu    sync.Mutex
	sizes map[string]int64 // blob id -> size, from List

	tar    deploy.Source // the tarball, once opened
	closer func() error
}

// Next reads the commit's tarball (see App.Tarball).
func (t *treeSource) Next() (deploy.Entry, io.Reader, error) {
	if t.tar == nil {
		body, err := t.app.Tarball(t.ctx, t.repo, t.sha)
		if err != nil {
			return deploy.Entry{}, nil, err
		}
		gz, err := gzip.NewReader(body)
		if err != nil {
			_ = body.Close()
			return deploy.Entry{}, nil, fmt.Errorf("tarball of %s at %s: %w", t.repo, short(t.sha), err)
		}
		t.tar = deploy.TarSource(gz, 1)
		t.closer = func() error { return errors.Join(gz.Close(), body.Close()) }
	}
	return t.tar.Next()
}

// Close ends a tarball download.
func (t *treeSource) Close() error {
	if t.closer == nil {
		return nil
	}
	return t.closer()
}

// List walks the commit's tree with one recursive call; when GitHub
// truncates the answer (over 100,000 entries or 7 MB), it lists that tree
// level by level, each subtree again recursively first. Symlink targets
// and .gitattributes are fetched: a .gitattributes that makes the tarball
// differ from the blobs (Git LFS, export-subst, ...) makes the tree
// unlistable, so the engine reads the tarball.
func (t *treeSource) List(ctx context.Context) ([]deploy.Entry, error) {
	owner, name, err := splitRepo(t.repo)
	if err != nil {
		return nil, err
	}
	c, err := t.app.ForRepo(ctx, t.repo)
	if err != nil {
		return nil, fmt.Errorf("tree of %s at %s: %w", t.repo, short(t.sha), err)
	}
	var raw []*gh.TreeEntry
	if err := t.walk(ctx, c, owner, name, t.sha, "", &raw); err != nil {
		return nil, err
	}
	entries := make([]deploy.Entry, 0, len(raw))
	sizes := map[string]int64{}
	var links, attrs []int
	for _, te := range raw {
		e, ok := deploy.GitTreeEntry(te.GetMode(), te.GetPath(), te.GetSHA(), int64(te.GetSize()))
		if !ok {
			return nil, fmt.Errorf("tree of %s at %s: %q has mode %s, which git does not write", t.repo, short(t.sha), te.GetPath(), te.GetMode())
		}
		switch {
		case e.Type == deploy.TypeSymlink:
			links = append(links, len(entries))
			sizes[e.BlobID] = int64(te.GetSize())
		case e.Type == deploy.TypeFile:
			sizes[e.BlobID] = e.Size
			if e.Path == ".gitattributes" || strings.HasSuffix(e.Path, "/.gitattributes") {
				attrs = append(attrs, len(entries))
			}
		}
		entries = append(entries, e)
	}
	t.mu.Lock()
	t.sizes = sizes
	t.mu.Unlock()

	var ids []string
	for _, i := range append(append([]int(nil), attrs...), links...) {
		ids = append(ids, entries[i].BlobID)
	}
	content := map[string][]byte{}
	if err := t.Fetch(ctx, ids, func(id string, r io.Reader) error {
		b, err := io.ReadAll(r)
		content[id] = b
		return err
	}); err != nil {
		return nil, err
	}
	for _, i := range attrs {
		if attr, found := deploy.ArchiveAttribute(content[entries[i].BlobID]); found {
			return nil, fmt.Errorf("%w: %s sets %s", deploy.ErrNotListable, entries[i].Path, attr)
		}
	}
	for _, i := range links {
		entries[i].LinkTarget, entries[i].BlobID = string(content[entries[i].BlobID]), ""
	}
	return entries, nil
}

// walk appends the entries of tree id (a commit SHA at the top), their
// paths under prefix.
func (t *treeSource) walk(ctx context.Context, c *gh.Client, owner, name, id, prefix string, out *[]*gh.TreeEntry) error {
	tree, _, err := c.Git.GetTree(ctx, owner, name, id, true)
	if err != nil {
		return fmt.Errorf("tree %s of %s at %s: %w", id, t.repo, short(t.sha), err)
	}
	if !tree.GetTruncated() {
		for _, e := range tree.Entries {
			e.Path = gh.String(prefix + e.GetPath())
			*out = append(*out, e)
		}
		return nil
	}
	level, _, err := c.Git.GetTree(ctx, owner, name, tree.GetSHA(), false)
	if err != nil {
		return fmt.Errorf("tree %s of %s at %s: %w", tree.GetSHA(), t.repo, short(t.sha), err)
	}
	if level.GetTruncated() {
		return fmt.Errorf("tree %s of %s at %s: one directory (%q) has more entries than GitHub lists at once", tree.GetSHA(), t.repo, short(t.sha), prefix)
	}
	for _, e := range level.Entries {
		sub := e.GetPath()
		e.Path = gh.String(prefix + sub)
		*out = append(*out, e)
		if e.GetType() == "tree" {
			if err := t.walk(ctx, c, owner, name, e.GetSHA(), prefix+sub+"/", out); err != nil {
				return err
			}
		}
	}
	return nil
}

// Fetch gets blobs raw (git blobs API), up to blobParallel requests and
// blobBytes of content at once, and hands each to fn in turn. The first
// error stops the rest.
func (t *treeSource) Fetch(ctx context.Context, ids []string, fn func(id string, content io.Reader) error) error {
	if len(ids) == 0 {
		return nil
	}
	owner, name, err := splitRepo(t.repo)
	if err != nil {
		return err
	}
	c, err := t.app.ForRepo(ctx, t.repo)
	if err != nil {
		return fmt.Errorf("blobs of %s: %w", t.repo, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t.mu.Lock()
	sizes := t.sizes
	t.mu.Unlock()

	type blob struct {
		id   string
		data []byte
		err  error
	}
	budget := newByteBudget(blobBytes)
	jobs := make(chan string)
	results := make(chan blob)
	var wg sync.WaitGroup
	for w := 0; w < min(blobParallel, len(ids)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range jobs {
				data, _, err := c.Git.GetBlobRaw(ctx, owner, name, id)
				if err != nil {
					err = fmt.Errorf("blob %s of %s: %w", id, t.repo, err)
				}
				select {
				case results <- blob{id, data, err}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, id := range ids {
			if !budget.take(ctx, sizes[id]) {
				return
			}
			select {
			case jobs <- id:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()
	delivered := 0
	for b := range results {
		if b.err == nil {
			b.err = fn(b.id, bytes.NewReader(b.data))
		}
		budget.give(sizes[b.id])
		if b.err != nil {
			cancel()
			for range results { // let the workers finish
			}
			return b.err
		}
		delivered++
	}
	if delivered != len(ids) {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fmt.Errorf("blobs of %s: %d of %d fetched", t.repo, delivered, len(ids))
	}
	return nil
}

// byteBudget bounds the bytes of blobs held at once.
type byteBudget struct {
	mu    sync.Mutex
	cond  *sync.Cond
	total int64
	left  int64
}

func newByteBudget(n int64) *byteBudget {
	b := &byteBudget{total: n, left: n}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// take waits until n bytes (at most the whole budget) are free; false
// when ctx ended.
func (b *byteBudget) take(ctx context.Context, n int64) bool {
	n = min(n, b.total)
	stop := context.AfterFunc(ctx, func() {
		b.mu.Lock()
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	defer stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.left < n {
		if ctx.Err() != nil {
			return false
		}
		b.cond.Wait()
	}
	b.left -= n
	return true
}

func (b *byteBudget) give(n int64) {
	b.mu.Lock()
	b.left += min(n, b.total)
	b.cond.Broadcast()
	b.mu.Unlock()
}
