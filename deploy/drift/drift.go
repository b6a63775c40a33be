// Package drift compares what is live on a server with what was attested:
// the manifest of a release (path, type, mode, size, SHA-256) against a
// fresh listing of the live release, hashed file by file. It is the pure
// part of drift detection; reading the live tree over SSH is the deploy
// engine's.
package drift

import (
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tollgate-dev/tollgate/deploy/attest"
)

// Type is an entry's type, with the manifest's one-letter codes.
type Type string

// Entry types.
const (
	File    Type = "f"
	Dir     Type = "d"
	Symlink Type = "l"
)

// Entry is one path of a release tree.
type Entry struct {
	Path       string // relative to the release directory, "/"-separated
	Type       Type
	Mode       fs.FileMode // permission bits, with fs.ModeSetuid, ModeSetgid and ModeSticky when set
	Size       int64       // files only
	SHA256     string      // hex, files only
	LinkTarget string      // symlinks only
}

// metaDir is the directory of attest.FileName in a release.
var metaDir = attest.FileName[:strings.LastIndex(attest.FileName, "/")]

// ModeFromOctal turns a mode as find -printf %m or stat -c %a print it
// (0644, 4755) into an fs.FileMode with its special bits.
func ModeFromOctal(n uint32) fs.FileMode {
	m := fs.FileMode(n) & fs.ModePerm
	if n&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if n&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if n&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// modeBits are the mode bits compared: a manifest's permissions, and the
// special bits a live listing may add (a chmod u+s is drift too).
const modeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// Kind is how a path drifted.
type Kind string

// Kinds of drift.
const (
	Added       Kind = "added"        // live, not attested
	Removed     Kind = "removed"      // attested, not live
	Changed     Kind = "changed"      // content, size, type or link target differ (the mode may too)
	ModeChanged Kind = "mode_changed" // only the mode differs
)

// Change is one drifted path. Attested is nil for Added, Live for Removed.
type Change struct {
	Path     string
	Kind     Kind
	Attested *Entry
	Live     *Entry
}

// Options says what of a live release is not the attested tree's.
type Options struct {
	// Shared lists the target's shared paths (Target.Shared, "dir/" or
	// "file"). Each is a symlink into <path>/shared in every release, whose
	// content changes by design: it must be a symlink, and nothing below
	// it is compared. Directories the engine creates to hold them are
	// expected too.
	Shared []string
}

// Compare returns every path where live differs from attested, ordered by
// path (one change per path). The attestation file Tollgate writes into
// the release (attest.FileName) and its directory are not drift.
func Compare(attested, live []Entry, opts Options) []Change {
	shared, parents := sharedSets(opts.Shared)
	want := make(map[string]*Entry, len(attested)+len(shared))
	for i := range attested {
		if !below(attested[i].Path, shared) {
			want[attested[i].Path] = &attested[i]
		}
	}
	for s := range shared {
		want[s] = &Entry{Path: s, Type: Symlink}
	}
	var out []Change
	seen := make(map[string]bool, len(live))
	for i := range live {
		got := &live[i]
		if seen[got.Path] {
			continue // a listing names each path once; a repeat adds nothing
		}
		seen[got.Path] = true
		w, ok := want[got.Path]
		switch {
		case !ok && ((got.Path == metaDir && got.Type == Dir) || (got.Path == attest.FileName && got.Type == File)):
		case !ok && parents[got.Path] && got.Type == Dir:
		case !ok && below(got.Path, shared):
		case !ok:
			out = append(out, Change{Path: got.Path, Kind: Added, Live: got})
		case shared[got.Path]:
			if got.Type != Symlink {
				out = append(out, Change{Path: got.Path, Kind: Changed, Attested: w, Live: got})
			}
		default:
			if k, drifted := differ(w, got); drifted {
				out = append(out, Change{Path: got.Path, Kind: k, Attested: w, Live: got})
			}
		}
	}
	for p, w := range want {
		if !seen[p] {
			out = append(out, Change{Path: p, Kind: Removed, Attested: w})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// differ says how got differs from w, if it does.
func differ(w, got *Entry) (Kind, bool) {
	switch {
	case w.Type != got.Type:
		return Changed, true
	case w.Type == File && (w.SHA256 != got.SHA256 || w.Size != got.Size):
		return Changed, true
	case w.Type == Symlink && w.LinkTarget != got.LinkTarget:
		return Changed, true
	case w.Type != Symlink && w.Mode&modeBits != got.Mode&modeBits: // a symlink's own mode means nothing
		return ModeChanged, true
	}
	return "", false
}

// sharedSets returns the clean shared paths and the directories above them.
func sharedSets(paths []string) (shared, parents map[string]bool) {
	shared, parents = map[string]bool{}, map[string]bool{}
	for _, s := range paths {
		s = strings.Trim(s, "/")
		if s == "" {
			continue
		}
		shared[s] = true
		for d := s; strings.Contains(d, "/"); {
			d = d[:strings.LastIndex(d, "/")]
			parents[d] = true
		}
	}
	return shared, parents
}

// below reports whether p lies strictly below a shared path.
func below(p string, shared map[string]bool) bool {
	for d := p; strings.Contains(d, "/"); {
		d = d[:strings.LastIndex(d, "/")]
		if shared[d] {
			return true
		}
	}
	return false
}

// String describes the change for a report, e.g.
// "changed app/config.php: sha256 0a1b2c3d… -> 9f8e7d6c…, size 120 -> 131".
func (c Change) String() string {
	switch c.Kind {
	case Added:
		return fmt.Sprintf("added %s (%s)", Printable(c.Path), describe(c.Live))
	case Removed:
		return fmt.Sprintf("removed %s (%s)", Printable(c.Path), describe(c.Attested))
	}
	a, l := c.Attested, c.Live
	var diffs []string
	if a.Type != l.Type {
		diffs = append(diffs, fmt.Sprintf("%s -> %s", typeName(a.Type), typeName(l.Type)))
	} else {
		if a.SHA256 != l.SHA256 {
			diffs = append(diffs, fmt.Sprintf("sha256 %.8s… -> %.8s…", a.SHA256, l.SHA256))
		}
		if a.Size != l.Size {
			diffs = append(diffs, fmt.Sprintf("size %d -> %d", a.Size, l.Size))
		}
		if a.LinkTarget != l.LinkTarget {
			diffs = append(diffs, fmt.Sprintf("target %q -> %q", a.LinkTarget, l.LinkTarget))
		}
	}
	if a.Type == l.Type && a.Type != Symlink && a.Mode&modeBits != l.Mode&modeBits {
		diffs = append(diffs, fmt.Sprintf("mode %s -> %s", octal(a.Mode), octal(l.Mode)))
	}
	return fmt.Sprintf("%s %s: %s", c.Kind, Printable(c.Path), strings.Join(diffs, ", "))
}

func describe(e *Entry) string {
	switch e.Type {
	case File:
		return fmt.Sprintf("file, %s, %d bytes", octal(e.Mode), e.Size)
	case Symlink:
		return fmt.Sprintf("symlink to %q", e.LinkTarget)
	}
	return fmt.Sprintf("%s, %s", typeName(e.Type), octal(e.Mode))
}

func typeName(t Type) string {
	switch t {
	case File:
		return "file"
	case Dir:
		return "directory"
	case Symlink:
		return "symlink"
	}
	return fmt.Sprintf("type %q", string(t))
}

// octal prints a mode as chmod takes it: 0644, 4755.
func octal(m fs.FileMode) string {
	n := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		n |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		n |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		n |= 0o1000
	}
	return fmt.Sprintf("%04o", n)
}

// Printable is p as a report shows it: unchanged, or Go-quoted when it
// holds a control character. A live path is named by whoever created the
// file (a manifest's never has one), and a newline in it must not forge a
// line of a report, a log or an alert.
func Printable(p string) string {
	if strings.ContainsFunc(p, unicode.IsControl) || !utf8.ValidString(p) {
		return strconv.Quote(p)
	}
	return p
}
