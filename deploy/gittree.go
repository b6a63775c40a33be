package deploy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"strconv"
	"strings"
)

// Modes of a git tree as git archive writes them (its default tar.umask is
// 0002), so that a release deployed from a tree has the manifest the same
// commit's tarball gives.
const (
	GitFileMode = fs.FileMode(0o664) // 100644
	GitExecMode = fs.FileMode(0o775) // 100755
	GitDirMode  = fs.FileMode(0o775) // 040000, and a submodule's empty directory
)

// GitTreeEntry converts one entry of a git tree (its octal mode as git
// writes it, its path, object id and size) into an Entry. A submodule
// (160000) becomes an empty directory, as git archive makes it; a symlink
// (120000) gets Type TypeSymlink and needs its target (the blob's content)
// filled in. ok is false for a mode git does not write.
func GitTreeEntry(mode, path, id string, size int64) (e Entry, ok bool) {
	e = Entry{Path: path}
	switch mode {
	case "100644", "100664":
		e.Type, e.Mode, e.Size, e.BlobID = TypeFile, GitFileMode, size, id
	case "100755":
		e.Type, e.Mode, e.Size, e.BlobID = TypeFile, GitExecMode, size, id
	case "040000", "40000", "160000":
		e.Type, e.Mode = TypeDir, GitDirMode
	case "120000":
		e.Type, e.Mode, e.BlobID = TypeSymlink, 0o777, id
	default:
		return e, false
	}
	return e, true
}

// ArchiveAttribute returns the first attribute in a .gitattributes file
// that makes git archive write a file differently from its blob (or not at
// all): export-ignore, export-subst, ident, filter (Git LFS among others),
// a CRLF end of line or a working-tree encoding. A tree with one cannot be
// deployed file by file: its tarball is the truth.
func ArchiveAttribute(gitattributes []byte) (string, bool) {
	for _, line := range strings.Split(string(gitattributes), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		for _, a := range f[1:] {
			name, value, _ := strings.Cut(a, "=")
			switch {
			case name == "export-ignore", name == "export-subst", name == "ident", name == "crlf",
				name == "filter" && value != "", name == "working-tree-encoding",
				name == "eol" && value == "crlf", name == "text" && value == "crlf":
				return a, true
			}
		}
	}
	return "", false
}

// gitTree is a ListedSource over a local git repository.
type gitTree struct {
	ctx     context.Context
	dir     string
	sha     string
	archive Source // GitArchive of the commit, opened on first use
}

// GitTree is a ListedSource for commit sha of the git repository at
// repoDir: git ls-tree lists it and git cat-file fetches blobs; read as a
// whole it is GitArchive.
func GitTree(ctx context.Context, repoDir, sha string) (ListedSource, error) {
	if !shaRe.MatchString(sha) {
		return nil, fmt.Errorf("git tree: %q is not a lowercase hex commit id", sha)
	}
	return &gitTree{ctx: ctx, dir: repoDir, sha: sha}, nil
}

func (g *gitTree) Next() (Entry, io.Reader, error) {
	if g.archive == nil {
		src, err := GitArchive(g.ctx, g.dir, g.sha)
		if err != nil {
			return Entry{}, nil, err
		}
		g.archive = src
	}
	return g.archive.Next()
}

func (g *gitTree) Close() error {
	if g.archive == nil {
		return nil
	}
	return g.archive.Close()
}

func (g *gitTree) List(ctx context.Context) ([]Entry, error) {
	cmd := exec.CommandContext(ctx, "git", "-C", g.dir, "ls-tree", "-r", "-t", "-l", "-z", g.sha)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-tree %s in %s: %w", g.sha, g.dir, err)
	}
	var entries []Entry
	var links []int
	var attrs []string
	for _, rec := range bytes.Split(bytes.TrimSuffix(out, []byte{0}), []byte{0}) {
		meta, path, ok := strings.Cut(string(rec), "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 4 {
			return nil, fmt.Errorf("git ls-tree %s: unexpected line %q", g.sha, rec)
		}
		size, _ := strconv.ParseInt(f[3], 10, 64)
		e, ok := GitTreeEntry(f[0], path, f[2], size)
		if !ok {
			return nil, fmt.Errorf("git ls-tree %s: %q has mode %s", g.sha, path, f[0])
		}
		if e.Type == TypeSymlink {
			links = append(links, len(entries))
		}
		if e.Type == TypeFile && (path == ".gitattributes" || strings.HasSuffix(path, "/.gitattributes")) {
			attrs = append(attrs, e.BlobID)
		}
		entries = append(entries, e)
	}
	content := map[string][]byte{}
	ids := append([]string(nil), attrs...)
	for _, i := range links {
		ids = append(ids, entries[i].BlobID)
	}
	err = g.Fetch(ctx, ids, func(id string, r io.Reader) error {
		b, err := io.ReadAll(io.LimitReader(r, maxPathLen+1))
		content[id] = b
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, id := range attrs {
		if a, found := ArchiveAttribute(content[id]); found {
			return nil, fmt.Errorf("%w: .gitattributes sets %s", ErrNotListable, a)
		}
	}
	for _, i := range links {
		entries[i].LinkTarget, entries[i].BlobID = string(content[entries[i].BlobID]), ""
	}
	return entries, nil
}

// Fetch runs one git cat-file --batch for all ids.
func (g *gitTree) Fetch(ctx context.Context, ids []string, fn func(id string, content io.Reader) error) error {
	if len(ids) == 0 {
		return nil
	}
	cmd := exec.CommandContext(ctx, "git", "-C", g.dir, "cat-file", "--batch")
	cmd.Stdin = strings.NewReader(strings.Join(ids, "\n") + "\n")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git cat-file in %s: %w", g.dir, err)
	}
	br := bufio.NewReaderSize(out, 1<<20)
	ferr := func() error {
		for range ids {
			head, err := br.ReadString('\n')
			if err != nil {
				return fmt.Errorf("git cat-file: %w", err)
			}
			f := strings.Fields(head)
			if len(f) != 3 || f[1] != "blob" {
				return fmt.Errorf("git cat-file: %s", strings.TrimSpace(head))
			}
			size, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				return fmt.Errorf("git cat-file: %s", strings.TrimSpace(head))
			}
			lr := &io.LimitedReader{R: br, N: size}
			if err := fn(f[0], lr); err != nil {
				return err
			}
			if _, err := io.Copy(io.Discard, lr); err != nil {
				return err
			}
			if _, err := br.Discard(1); err != nil { // the newline after the content
				return err
			}
		}
		return nil
	}()
	if ferr != nil {
		_ = cmd.Process.Kill()
	}
	werr := cmd.Wait()
	if ferr != nil {
		return ferr
	}
	if werr != nil {
		return fmt.Errorf("git cat-file in %s: %w", g.dir, werr)
	}
	return nil
}
