package deploy

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
)

// maxSymlinkFollows bounds the symlinks followed while resolving one link,
// in total, as the kernel bounds one path lookup (40, then ELOOP). Bounding
// only the nesting depth is not enough: links like s<k> -> s<k-1>/../s<k-1>
// double the work per link.
const maxSymlinkFollows = 40

// entryKind is what a path of the tree is, as far as the entries read so
// far tell.
type entryKind uint8

const (
	kindImplicitDir entryKind = iota + 1 // a parent of an entry, not (yet) an entry itself
	kindDir
	kindFile
	kindSymlink
)

func kindOf(t EntryType) entryKind {
	switch t {
	case TypeDir:
		return kindDir
	case TypeSymlink:
		return kindSymlink
	}
	return kindFile
}

// ReservedDir is the directory at a release's root that Tollgate writes
// itself (the attestation, attest.FileName); no source entry may be it or
// lie below it, so a commit can neither plant a forged attestation nor
// turn the directory into a symlink out of the release.
const ReservedDir = ".tollgate"

// treeCheck validates a tree one entry at a time, as it streams: every
// path is clean and unique, and every parent of an entry is a directory (so
// nothing is ever written below a symlink or a file). Its work per entry is
// linear in the length of the path.
type treeCheck struct {
	kinds map[string]entryKind
}

func newTreeCheck() *treeCheck { return &treeCheck{kinds: map[string]entryKind{}} }

// admit checks the entry at p (clean) of type t against the entries
// before it. It returns the parent directories p implies that no entry
// named yet, outermost first, and whether p is a directory that was
// already implied (an explicit entry for it comes after its contents).
func (c *treeCheck) admit(p string, t EntryType) (implied []string, wasImplied bool, err error) {
	if p == ReservedDir || strings.HasPrefix(p, ReservedDir+"/") {
		return nil, false, fmt.Errorf("%s at the release root is reserved for Tollgate's own files (the deployment attestation); rename it in the repository", ReservedDir)
	}
	if k, ok := c.kinds[p]; ok {
		if k == kindImplicitDir && t == TypeDir {
			c.kinds[p] = kindDir
			return nil, true, nil
		}
		if k == kindImplicitDir {
			return nil, false, errors.New("is a directory of earlier entries, not a " + typeName(t))
		}
		return nil, false, errors.New("duplicate path")
	}
	// p is clean: its parents are its prefixes up to each "/".
	for i := strings.LastIndexByte(p, '/'); i > 0; i = strings.LastIndexByte(p[:i], '/') {
		d := p[:i]
		if k, ok := c.kinds[d]; ok {
			if k != kindDir && k != kindImplicitDir {
				return nil, false, fmt.Errorf("parent %q is not a directory", d)
			}
			break
		}
		implied = append(implied, d)
	}
	for i, j := 0, len(implied)-1; i < j; i, j = i+1, j-1 {
		implied[i], implied[j] = implied[j], implied[i]
	}
	for _, d := range implied {
		c.kinds[d] = kindImplicitDir
	}
	c.kinds[p] = kindOf(t)
	return implied, false, nil
}

func typeName(t EntryType) string {
	switch t {
	case TypeFile:
		return "file"
	case TypeSymlink:
		return "symlink"
	case TypeDir:
		return "directory"
	}
	return "entry"
}

// checkSymlinks refuses symlinks that resolve, by following the tree's own
// symlinks, to a place outside the release. It needs the whole tree: a
// link may lead through links that come after it.
func checkSymlinks(ctx context.Context, m Manifest, idx map[string]*ManifestEntry) error {
	for _, e := range m {
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

// checkSymlinkTarget refuses targets that are empty, absolute, hold
// control characters or exceed the path limit.
func checkSymlinkTarget(p, target string) error {
	if target == "" || strings.HasPrefix(target, "/") || hasControl(target) {
		return fmt.Errorf("source entry %q: symlink to %q points outside the release", p, target)
	}
	if len(target) > maxPathLen {
		return fmt.Errorf("source entry %q: symlink target of %d bytes refused (at most %d)", p, len(target), maxPathLen)
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

// checkSharedParents refuses a release in which a parent of a shared path
// is anything but a real directory. The shared link is created at
// releases/<name>/<shared path>; through a symlinked parent it would land
// wherever the commit points that symlink (the web root, say) and expose
// the shared file there.
func checkSharedParents(idx map[string]*ManifestEntry, shared []string) error {
	for _, s := range shared {
		for _, d := range parents(s) {
			if shadowed(d, shared) {
				continue // itself a shared path: replaced by its link
			}
			if e := idx[d]; e != nil && e.Type != TypeDir {
				return fmt.Errorf("shared path %q: its parent %q is a %s in the release, not a directory; the parents of a shared path must be real directories", s, d, typeName(e.Type))
			}
		}
	}
	return nil
}
