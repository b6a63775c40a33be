package githubtest

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
)

// gitObjects holds a repository's git trees and blobs, as the git data API
// (git/trees, git/blobs) serves them, with real git object ids.
type gitObjects struct {
	trees   map[string][]gitEntry // tree id -> its entries, in git's order
	blobs   map[string][]byte     // blob id -> content
	commits map[string]string     // commit SHA -> root tree id
}

// gitEntry is one entry of a git tree object.
type gitEntry struct {
	mode string // as the API writes it: 100644, 100755, 120000, 040000, 160000
	name string
	typ  string // blob, tree or commit
	id   string
	size int // blobs only
}

func newGitObjects() *gitObjects {
	return &gitObjects{trees: map[string][]gitEntry{}, blobs: map[string][]byte{}, commits: map[string]string{}}
}

// treeFile is one file of a commit's tree, as SetTarball's files give it.
type treeFile struct {
	mode    string
	content []byte
}

// addTree stores the tree of files (path -> mode and content) and returns
// its root tree id. Directories are implied by the paths.
func (g *gitObjects) addTree(files map[string]treeFile) string {
	type dir struct {
		entries map[string]gitEntry
		subdirs map[string]*dir
	}
	root := &dir{entries: map[string]gitEntry{}, subdirs: map[string]*dir{}}
	for p, f := range files {
		d := root
		parts := strings.Split(p, "/")
		for _, c := range parts[:len(parts)-1] {
			sub, ok := d.subdirs[c]
			if !ok {
				sub = &dir{entries: map[string]gitEntry{}, subdirs: map[string]*dir{}}
				d.subdirs[c] = sub
			}
			d = sub
		}
		name := parts[len(parts)-1]
		switch f.mode {
		case "160000":
			d.entries[name] = gitEntry{mode: f.mode, name: name, typ: "commit", id: string(f.content)}
		default:
			id := blobID(f.content)
			g.blobs[id] = f.content
			d.entries[name] = gitEntry{mode: f.mode, name: name, typ: "blob", id: id, size: len(f.content)}
		}
	}
	var store func(d *dir) string
	store = func(d *dir) string {
		for name, sub := range d.subdirs {
			d.entries[name] = gitEntry{mode: "040000", name: name, typ: "tree", id: store(sub)}
		}
		entries := make([]gitEntry, 0, len(d.entries))
		for _, e := range d.entries {
			entries = append(entries, e)
		}
		// git orders a tree by name, a subtree's name as if it ended in "/".
		key := func(e gitEntry) string {
			if e.typ == "tree" {
				return e.name + "/"
			}
			return e.name
		}
		sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
		id := treeID(entries)
		g.trees[id] = entries
		return id
	}
	return store(root)
}

// blobID is git's object id of a blob.
func blobID(content []byte) string {
	return blobSHA(content)
}

// treeID is git's object id of a tree with these entries (in order).
func treeID(entries []gitEntry) string {
	var body bytes.Buffer
	for _, e := range entries {
		raw, _ := hex.DecodeString(e.id)
		fmt.Fprintf(&body, "%s %s\x00", strings.TrimPrefix(e.mode, "0"), e.name)
		body.Write(raw)
	}
	h := sha1.New()
	fmt.Fprintf(h, "tree %d\x00", body.Len())
	h.Write(body.Bytes())
	return hex.EncodeToString(h.Sum(nil))
}

// filesFromGit reads the tree of sha in the git repository at dir: every
// blob (content included), symlink and submodule.
func filesFromGit(ctx context.Context, dir, sha string) (map[string]treeFile, error) {
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "ls-tree", "-r", "-z", sha).Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-tree %s in %s: %w", sha, dir, err)
	}
	files := map[string]treeFile{}
	var ids []string
	var paths []string
	for _, rec := range bytes.Split(bytes.TrimSuffix(out, []byte{0}), []byte{0}) {
		meta, p, ok := strings.Cut(string(rec), "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 3 {
			return nil, fmt.Errorf("git ls-tree %s: unexpected %q", sha, rec)
		}
		if f[1] == "commit" {
			files[p] = treeFile{mode: f[0], content: []byte(f[2])}
			continue
		}
		files[p] = treeFile{mode: f[0]}
		ids, paths = append(ids, f[2]), append(paths, p)
	}
	if len(ids) == 0 {
		return files, nil
	}
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "cat-file", "--batch")
	cmd.Stdin = strings.NewReader(strings.Join(ids, "\n") + "\n")
	batch, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git cat-file in %s: %w", dir, err)
	}
	for _, p := range paths {
		head, rest, ok := bytes.Cut(batch, []byte{'\n'})
		f := strings.Fields(string(head))
		if !ok || len(f) != 3 {
			return nil, fmt.Errorf("git cat-file: unexpected %q", head)
		}
		n, err := strconv.Atoi(f[2])
		if err != nil || len(rest) < n+1 {
			return nil, fmt.Errorf("git cat-file: unexpected %q", head)
		}
		files[p] = treeFile{mode: files[p].mode, content: rest[:n:n]}
		batch = rest[n+1:]
	}
	return files, nil
}

// filesFromMap turns SetTarball's files into tree files: content starting
// with "#!" is executable, as in the tarball SetTarball builds.
func filesFromMap(files map[string]string) map[string]treeFile {
	out := make(map[string]treeFile, len(files))
	for p, c := range files {
		mode := "100644"
		if strings.HasPrefix(c, "#!") {
			mode = "100755"
		}
		out[p] = treeFile{mode: mode, content: []byte(c)}
	}
	return out
}
