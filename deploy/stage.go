package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// stagedTree is a validated release spooled to local disk, content-addressed,
// so it can be sent to any number of servers after the source was read once.
type stagedTree struct {
	dir      string
	manifest Manifest
}

// maxSymlinkDepth bounds symlink resolution like the kernel's ELOOP limit.
const maxSymlinkDepth = 40

// stageSource reads the whole source into a new directory under parent (""
// means the system temp dir) and validates it. Nothing is sent anywhere
// before this succeeds.
func stageSource(ctx context.Context, src Source, parent string) (*stagedTree, error) {
	dir, err := os.MkdirTemp(parent, "tollgate-stage-")
	if err != nil {
		return nil, fmt.Errorf("stage release: %w", err)
	}
	st := &stagedTree{dir: dir}
	if err := st.read(ctx, src); err != nil {
		_ = st.Close()
		return nil, err
	}
	return st, nil
}

// Close removes the local copy.
func (st *stagedTree) Close() error { return os.RemoveAll(st.dir) }

// blobPath is where the content with the given hash is stored locally.
func (st *stagedTree) blobPath(sum string) string { return filepath.Join(st.dir, sum) }

func (st *stagedTree) read(ctx context.Context, src Source) error {
	seen := map[string]bool{}
	var m Manifest
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, r, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read source: %w", err)
		}
		if err := checkEntryPath(e.Path); err != nil {
			return fmt.Errorf("source entry %q: %w", e.Path, err)
		}
		p := path.Clean(e.Path)
		if p == "." {
			continue // the root directory itself
		}
		if seen[p] {
			return fmt.Errorf("source entry %q: duplicate path", p)
		}
		seen[p] = true
		me := ManifestEntry{Path: p, Type: e.Type, Mode: e.Mode.Perm()}
		switch e.Type {
		case TypeFile:
			sum, n, err := st.store(r, e.Size)
			if err != nil {
				return fmt.Errorf("source entry %q: %w", p, err)
			}
			me.Size, me.SHA256 = n, sum
		case TypeDir:
		case TypeSymlink:
			if e.LinkTarget == "" || strings.HasPrefix(e.LinkTarget, "/") || hasControl(e.LinkTarget) {
				return fmt.Errorf("source entry %q: symlink to %q points outside the release", p, e.LinkTarget)
			}
			me.Mode, me.LinkTarget = 0o777, e.LinkTarget
		default:
			return fmt.Errorf("source entry %q: unsupported type %v", p, e.Type)
		}
		m = append(m, me)
	}
	// Parent directories a tar stream left implicit.
	for _, e := range m {
		for d := path.Dir(e.Path); d != "."; d = path.Dir(d) {
			if !seen[d] {
				seen[d] = true
				m = append(m, ManifestEntry{Path: d, Type: TypeDir, Mode: 0o755})
			}
		}
	}
	sort.Slice(m, func(i, j int) bool { return m[i].Path < m[j].Path })
	if err := checkTree(m); err != nil {
		return err
	}
	st.manifest = m
	return nil
}

// store copies exactly size bytes into a content-addressed blob.
func (st *stagedTree) store(r io.Reader, size int64) (string, int64, error) {
	if r == nil {
		return "", 0, errors.New("file without content")
	}
	f, err := os.CreateTemp(st.dir, "blob-")
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		err = fmt.Errorf("content is %d bytes, header says %d", n, size)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", 0, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := os.Rename(f.Name(), st.blobPath(sum)); err != nil {
		return "", 0, err
	}
	return sum, n, nil
}

// checkTree refuses entries below a symlink and symlinks that resolve, by
// following the tree's own symlinks, to a place outside the release.
func checkTree(m Manifest) error {
	idx := m.index()
	for _, e := range m {
		for d := path.Dir(e.Path); d != "."; d = path.Dir(d) {
			if p := idx[d]; p == nil || p.Type != TypeDir {
				return fmt.Errorf("source entry %q: parent %q is not a directory", e.Path, d)
			}
		}
		if e.Type != TypeSymlink {
			continue
		}
		if _, err := resolveLink(idx, splitPath(path.Dir(e.Path)), e.LinkTarget, 0); err != nil {
			return fmt.Errorf("source entry %q: symlink to %q %w", e.Path, e.LinkTarget, err)
		}
	}
	return nil
}

// resolveLink resolves target relative to dir inside the tree, following
// symlinks, and fails if any step leaves the release root.
func resolveLink(idx map[string]*ManifestEntry, dir []string, target string, depth int) ([]string, error) {
	if depth > maxSymlinkDepth {
		return nil, errors.New("has too many levels of symlinks")
	}
	cur := append([]string(nil), dir...)
	for _, c := range strings.Split(target, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return nil, errors.New("points outside the release")
			}
			cur = cur[:len(cur)-1]
			continue
		}
		cur = append(cur, c)
		if e := idx[strings.Join(cur, "/")]; e != nil && e.Type == TypeSymlink {
			next, err := resolveLink(idx, cur[:len(cur)-1], e.LinkTarget, depth+1)
			if err != nil {
				return nil, err
			}
			cur = next
		}
	}
	return cur, nil
}

func splitPath(p string) []string {
	if p == "." || p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
