package deploy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// ManifestEntry describes one entry of a release.
type ManifestEntry struct {
	Path       string
	Type       EntryType
	Mode       fs.FileMode
	Size       int64
	SHA256     string // hex, files only
	LinkTarget string // symlinks only
}

// Manifest is the complete, path-sorted description of a release.
type Manifest []ManifestEntry

// Encode returns the canonical text form: one tab-separated line per entry
// (type, octal mode, size, sha256 or "-", path, and the target of a symlink).
// Paths never contain control characters, so the encoding is unambiguous.
func (m Manifest) Encode() []byte {
	var b bytes.Buffer
	for _, e := range m {
		sum := e.SHA256
		if sum == "" {
			sum = "-"
		}
		fmt.Fprintf(&b, "%s\t%04o\t%d\t%s\t%s", e.Type, uint32(e.Mode.Perm()), e.Size, sum, e.Path)
		if e.Type == TypeSymlink {
			b.WriteString("\t" + e.LinkTarget)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Digest returns "sha256:<hex>" of the canonical encoding.
func (m Manifest) Digest() string {
	sum := sha256.Sum256(m.Encode())
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Files returns the number of files and their total size.
func (m Manifest) Files() (count int, bytes int64) {
	for _, e := range m {
		if e.Type == TypeFile {
			count++
			bytes += e.Size
		}
	}
	return count, bytes
}

// ParseManifest decodes the canonical text form written by Encode.
func ParseManifest(data []byte) (Manifest, error) {
	var m Manifest
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) < 5 {
			return nil, fmt.Errorf("manifest line %d: %d fields", i+1, len(f))
		}
		var e ManifestEntry
		switch f[0] {
		case "f":
			e.Type = TypeFile
		case "d":
			e.Type = TypeDir
		case "l":
			e.Type = TypeSymlink
			if len(f) != 6 {
				return nil, fmt.Errorf("manifest line %d: symlink without target", i+1)
			}
			e.LinkTarget = f[5]
		default:
			return nil, fmt.Errorf("manifest line %d: unknown type %q", i+1, f[0])
		}
		mode, err := strconv.ParseUint(f[1], 8, 32)
		if err != nil {
			return nil, fmt.Errorf("manifest line %d: mode: %w", i+1, err)
		}
		e.Mode = fs.FileMode(mode) & fs.ModePerm
		if e.Size, err = strconv.ParseInt(f[2], 10, 64); err != nil {
			return nil, fmt.Errorf("manifest line %d: size: %w", i+1, err)
		}
		if f[3] != "-" {
			if len(f[3]) != 64 {
				return nil, fmt.Errorf("manifest line %d: bad sha256", i+1)
			}
			e.SHA256 = f[3]
		}
		e.Path = f[4]
		if err := validateRelPath(e.Path); err != nil {
			return nil, fmt.Errorf("manifest line %d: %q: %w", i+1, e.Path, err)
		}
		m = append(m, e)
	}
	return m, nil
}

// index maps path to entry.
func (m Manifest) index() map[string]*ManifestEntry {
	idx := make(map[string]*ManifestEntry, len(m))
	for i := range m {
		idx[m[i].Path] = &m[i]
	}
	return idx
}
