package deploy

import (
	"bufio"
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

// stagedTree is a validated release spooled to local disk so it can be sent
// to any number of servers after the source was read once. All contents go
// into one spool file, each distinct content once: creating one file per
// entry would cost as much as the upload itself on many filesystems.
type stagedTree struct {
	dir      string
	spool    *os.File
	w        *bufio.Writer // buffers small contents on their way to spool
	buf      []byte
	end      int64
	blobs    map[string]blob // by sha256
	manifest Manifest
	// Computed once, not per server: a manifest of many thousand entries
	// takes milliseconds to encode or index.
	encoded     []byte                    // manifest.Encode()
	manifestSum string                    // hex sha256 of encoded
	index       map[string]*ManifestEntry // manifest by path
}

// blob locates one content in the spool file.
type blob struct{ off, size int64 }

// maxSymlinkFollows bounds the symlinks followed while resolving one link,
// in total, as the kernel bounds one path lookup (40, then ELOOP). Bounding
// only the nesting depth is not enough: links like s<k> -> s<k-1>/../s<k-1>
// double the work per link.
const maxSymlinkFollows = 40

// stageSource reads the whole source into a new directory under parent (""
// means the system temp dir) and validates it. Nothing is sent anywhere
// before this succeeds.
func stageSource(ctx context.Context, src Source, parent string) (*stagedTree, error) {
	dir, err := os.MkdirTemp(parent, "tollgate-stage-")
	if err != nil {
		return nil, fmt.Errorf("stage release: %w", err)
	}
	st := &stagedTree{dir: dir, blobs: map[string]blob{}, buf: make([]byte, smallContent)}
	if st.spool, err = os.Create(filepath.Join(dir, "spool")); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("stage release: %w", err)
	}
	st.w = bufio.NewWriterSize(st.spool, 1<<20)
	err = st.read(ctx, src)
	if err == nil {
		err = st.w.Flush()
	}
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	return st, nil
}

// Close removes the local copy.
func (st *stagedTree) Close() error {
	if st.spool != nil {
		_ = st.spool.Close()
	}
	return os.RemoveAll(st.dir)
}

// digest is the manifest's Digest.
func (st *stagedTree) digest() string { return "sha256:" + st.manifestSum }

// open returns a reader of the content with the given hash.
func (st *stagedTree) open(sum string) (*io.SectionReader, error) {
	b, ok := st.blobs[sum]
	if !ok {
		return nil, fmt.Errorf("content %s was not staged", sum)
	}
	return io.NewSectionReader(st.spool, b.off, b.size), nil
}

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
			if len(e.LinkTarget) > maxPathLen {
				return fmt.Errorf("source entry %q: symlink target of %d bytes refused (at most %d)", p, len(e.LinkTarget), maxPathLen)
			}
			me.Mode, me.LinkTarget = 0o777, e.LinkTarget
		default:
			return fmt.Errorf("source entry %q: unsupported type %v", p, e.Type)
		}
		m = append(m, me)
	}
	// Parent directories a tar stream left implicit. The walk up stops at
	// the first one already known: that entry's own walk covers the rest.
	for _, e := range m {
		for d := path.Dir(e.Path); d != "." && !seen[d]; d = path.Dir(d) {
			seen[d] = true
			m = append(m, ManifestEntry{Path: d, Type: TypeDir, Mode: 0o755})
		}
	}
	sort.Slice(m, func(i, j int) bool { return m[i].Path < m[j].Path })
	if err := checkTree(ctx, m); err != nil {
		return err
	}
	st.manifest, st.encoded, st.index = m, m.Encode(), m.index()
	sum := sha256.Sum256(st.encoded)
	st.manifestSum = hex.EncodeToString(sum[:])
	return nil
}

// smallContent is the size up to which a content is hashed in memory before
// it is written, through a buffer, to the spool.
const smallContent = 1 << 20

// store appends exactly size bytes to the spool, keeping one copy of each
// distinct content.
func (st *stagedTree) store(r io.Reader, size int64) (string, int64, error) {
	if r == nil {
		return "", 0, errors.New("file without content")
	}
	if size <= smallContent {
		data := st.buf[:size]
		if _, err := io.ReadFull(r, data); err != nil {
			return "", 0, fmt.Errorf("content shorter than its header's %d bytes: %w", size, err)
		}
		if extra(r) {
			return "", 0, fmt.Errorf("content longer than its header's %d bytes", size)
		}
		sumb := sha256.Sum256(data)
		sum := hex.EncodeToString(sumb[:])
		if _, dup := st.blobs[sum]; !dup {
			if _, err := st.w.Write(data); err != nil {
				return "", 0, err
			}
			st.blobs[sum] = blob{off: st.end, size: size}
			st.end += size
		}
		return sum, size, nil
	}
	if err := st.w.Flush(); err != nil {
		return "", 0, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(st.spool, h), r)
	if err == nil && n != size {
		err = fmt.Errorf("content is %d bytes, header says %d", n, size)
	}
	if err != nil {
		return "", 0, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if _, dup := st.blobs[sum]; dup {
		// Drop the second copy.
		if err := st.spool.Truncate(st.end); err != nil {
			return "", 0, err
		}
		if _, err := st.spool.Seek(st.end, io.SeekStart); err != nil {
			return "", 0, err
		}
		return sum, n, nil
	}
	st.blobs[sum] = blob{off: st.end, size: n}
	st.end += n
	return sum, n, nil
}

// checkTree refuses entries below a symlink and symlinks that resolve, by
// following the tree's own symlinks, to a place outside the release.
func checkTree(ctx context.Context, m Manifest) error {
	idx := m.index()
	for _, e := range m {
		// Every ancestor is an entry too, so checking each entry's own
		// parent covers every path (and keeps the check linear in depth).
		if d := path.Dir(e.Path); d != "." {
			if p := idx[d]; p == nil || p.Type != TypeDir {
				return fmt.Errorf("source entry %q: parent %q is not a directory", e.Path, d)
			}
		}
		if e.Type != TypeSymlink {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := resolveLink(idx, path.Dir(e.Path), e.LinkTarget); err != nil {
			return fmt.Errorf("source entry %q: symlink to %q %w", e.Path, e.LinkTarget, err)
		}
	}
	return nil
}

// resolveLink resolves target relative to dir ("." for the root) inside the
// tree, following the tree's symlinks, and fails if any step leaves the
// release root or more than maxSymlinkFollows links are followed. Its work
// is bounded by the follows times the (bounded) length of a target.
func resolveLink(idx map[string]*ManifestEntry, dir, target string) (string, error) {
	follows := 0
	return resolveFrom(idx, dir, target, &follows)
}

func resolveFrom(idx map[string]*ManifestEntry, cur, target string, follows *int) (string, error) {
	if cur == "." {
		cur = ""
	}
	for _, c := range strings.Split(target, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			if cur == "" {
				return "", errors.New("points outside the release")
			}
			if i := strings.LastIndexByte(cur, '/'); i >= 0 {
				cur = cur[:i]
			} else {
				cur = ""
			}
			continue
		}
		parent := cur
		if cur == "" {
			cur = c
		} else {
			cur += "/" + c
		}
		if e := idx[cur]; e != nil && e.Type == TypeSymlink {
			if *follows++; *follows > maxSymlinkFollows {
				return "", fmt.Errorf("has too many levels of symlinks (more than %d followed)", maxSymlinkFollows)
			}
			next, err := resolveFrom(idx, parent, e.LinkTarget, follows)
			if err != nil {
				return "", err
			}
			cur = next
		}
	}
	return cur, nil
}

// extra reports whether r has more bytes.
func extra(r io.Reader) bool {
	var b [1]byte
	n, _ := r.Read(b[:])
	return n > 0
}
