package deploy

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"strings"
)

// EntryType says what kind of filesystem object an entry is.
type EntryType uint8

// Entry types of a release tree.
const (
	TypeFile EntryType = iota + 1
	TypeDir
	TypeSymlink
)

// String returns the one-letter code used in manifests: f, d or l.
func (t EntryType) String() string {
	switch t {
	case TypeFile:
		return "f"
	case TypeDir:
		return "d"
	case TypeSymlink:
		return "l"
	}
	return "?"
}

// Entry is one file, directory or symlink of a commit's tree.
type Entry struct {
	Path       string      // slash-separated, relative to the release root
	Type       EntryType   // file, directory or symlink
	Mode       fs.FileMode // permission bits
	Size       int64       // content length of a file
	LinkTarget string      // target of a symlink
	// BlobID is a file's git blob id (40 hex digits: SHA-1 over
	// "blob <size>\x00" and the content), when the source knows it.
	BlobID string
}

// Source yields the tree of one commit as a stream of entries.
type Source interface {
	// Next returns the next entry and, for a file, a reader of exactly
	// Size bytes valid until the following call. It returns io.EOF at the end.
	Next() (Entry, io.Reader, error)
	// Close releases the source's resources.
	Close() error
}

// ListedSource is a Source that can also list its tree before reading any
// content, and fetch the content of single files. The engine then fetches
// only the files that no server already has (see the package doc, "Fetching
// only what changed"), and reads the Source as a whole (the tarball) when
// that would not pay off.
type ListedSource interface {
	Source
	// List returns every entry of the tree: directories, files with their
	// BlobID and Size, and symlinks with their LinkTarget. An error
	// wrapping ErrNotListable says why the tree cannot be used file by
	// file (say, Git LFS or export attributes make its files differ from
	// the tarball's); the engine then reads the Source.
	List(ctx context.Context) ([]Entry, error)
	// Fetch calls fn once with the content of each blob in ids, in any
	// order, never concurrently. fn's reader is valid until it returns.
	Fetch(ctx context.Context, ids []string, fn func(id string, content io.Reader) error) error
}

// ErrNotListable reports that a ListedSource's tree cannot be deployed
// file by file; the message wrapping it says why.
var ErrNotListable = errors.New("the tree cannot be deployed file by file")

// TarSource reads a tar stream (such as GitHub's tarball of a commit),
// dropping the first stripComponents path components of every entry; entries
// that have no components left (the top-level directory) are skipped.
func TarSource(r io.Reader, stripComponents int) Source {
	return &tarSource{tr: tar.NewReader(bufio.NewReaderSize(r, 1<<20)), strip: stripComponents}
}

type tarSource struct {
	tr     *tar.Reader
	strip  int
	closer func() error
	finish func() error // called at the end of the stream; its error replaces io.EOF
}

func (s *tarSource) Next() (Entry, io.Reader, error) {
	for {
		h, err := s.tr.Next()
		if errors.Is(err, io.EOF) {
			if s.finish != nil {
				if ferr := s.finish(); ferr != nil {
					return Entry{}, nil, ferr
				}
			}
			return Entry{}, nil, io.EOF
		}
		if err != nil {
			if s.finish != nil {
				if ferr := s.finish(); ferr != nil {
					return Entry{}, nil, ferr
				}
			}
			return Entry{}, nil, fmt.Errorf("read tar: %w", err)
		}
		name := h.Name
		if strings.HasPrefix(name, "/") {
			return Entry{}, nil, fmt.Errorf("tar entry %q: absolute path refused", name)
		}
		e := Entry{Mode: fs.FileMode(h.Mode) & fs.ModePerm}
		switch h.Typeflag {
		case tar.TypeXGlobalHeader:
			continue // git archive's commit id comment
		case tar.TypeReg:
			e.Type, e.Size = TypeFile, h.Size
		case tar.TypeDir:
			e.Type = TypeDir
		case tar.TypeSymlink:
			e.Type, e.LinkTarget = TypeSymlink, h.Linkname
		case tar.TypeLink:
			return Entry{}, nil, fmt.Errorf("tar entry %q: hard links are not supported", name)
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			return Entry{}, nil, fmt.Errorf("tar entry %q: device or fifo refused", name)
		default:
			return Entry{}, nil, fmt.Errorf("tar entry %q: unsupported type %q", name, h.Typeflag)
		}
		p, ok := stripPath(strings.TrimSuffix(name, "/"), s.strip)
		if !ok {
			continue
		}
		if err := checkEntryPath(p); err != nil {
			return Entry{}, nil, fmt.Errorf("tar entry %q: %w", name, err)
		}
		e.Path = p
		if e.Type == TypeFile {
			return e, s.tr, nil
		}
		return e, nil, nil
	}
}

func (s *tarSource) Close() error {
	if s.closer != nil {
		return s.closer()
	}
	return nil
}

// stripPath drops n leading components; ok is false when nothing is left.
func stripPath(p string, n int) (string, bool) {
	p = strings.TrimPrefix(p, "./")
	for ; n > 0; n-- {
		i := strings.IndexByte(p, '/')
		if i < 0 {
			return "", false
		}
		p = p[i+1:]
	}
	if p == "" || p == "." {
		return "", false
	}
	return p, true
}

// Limits of a path and of one name in it, as Linux has them (PATH_MAX,
// NAME_MAX): a server could not create a longer one, and they bound the
// work of checking one entry.
const (
	maxPathLen = 4096
	maxNameLen = 255
)

// checkEntryPath refuses absolute paths, ".." components, control
// characters and paths or names over the system's limits.
func checkEntryPath(p string) error {
	if strings.HasPrefix(p, "/") {
		return errors.New("absolute path refused")
	}
	if len(p) > maxPathLen {
		return fmt.Errorf("path of %d bytes refused (at most %d)", len(p), maxPathLen)
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return errors.New("path with a \"..\" component refused")
		}
		if len(c) > maxNameLen {
			return fmt.Errorf("name of %d bytes refused (at most %d)", len(c), maxNameLen)
		}
	}
	if hasControl(p) {
		return errors.New("path with control characters refused")
	}
	return nil
}

// GitArchive streams the tree of commit sha of the git repository at repoDir
// through `git archive`.
func GitArchive(ctx context.Context, repoDir, sha string) (Source, error) {
	if !shaRe.MatchString(sha) {
		return nil, fmt.Errorf("git archive: %q is not a lowercase hex commit id", sha)
	}
	cmd := exec.CommandContext(ctx, "git", "-C", repoDir, "archive", "--format=tar", sha)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("git archive %s in %s: %w", sha, repoDir, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("git archive %s in %s: %w", sha, repoDir, err)
	}
	src := &tarSource{tr: tar.NewReader(bufio.NewReaderSize(out, 1<<20))}
	waited := false
	wait := func() error {
		if waited {
			return nil
		}
		waited = true
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("git archive %s in %s: %w: %s", sha, repoDir, err, strings.TrimSpace(stderr.String()))
		}
		return nil
	}
	src.finish = wait
	src.closer = func() error {
		if waited {
			return nil
		}
		_, _ = io.Copy(io.Discard, out)
		return wait()
	}
	return src, nil
}
