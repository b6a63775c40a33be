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
	"sync"
	"time"
)

// stage is one read of a source, validated entry by entry and spooled to
// local disk as it is read, which every server's upload follows at its own
// pace: the source is read once, a slow server never holds up the reader
// nor the other servers, and servers that start later (max_parallel) read
// what is already spooled. All contents go into one spool file, each
// distinct content once: creating one file per entry would cost as much as
// the upload itself on many filesystems.
//
// Entries are published in batches, once their content is on disk. Only
// when the whole source has been read does the stage check what needs the
// whole tree (symlinks, shared paths) and become done; uploads write the
// release's manifest only then, so nothing can be verified, run or switched
// before the whole source validated. A failure at any point fails the
// stage, and every upload following it stops.
type stage struct {
	dir   string
	spool *os.File

	mu       sync.Mutex
	items    []stageItem   // published, in stream order; never modified
	changed  chan struct{} // closed and replaced when items, consumed, done or err change
	consumed int64         // content bytes read from the source so far
	done     bool          // the whole source was read and validated
	err      error         // why reading or validating failed
	reader   chan struct{} // closed when the reading goroutine has returned
	started  time.Time
	seconds  float64 // reading and validating the whole source took this long

	// Owned by the reading goroutine until done; afterwards guarded by extraMu.
	extraMu    sync.Mutex
	w          *bufio.Writer
	end        int64            // spool length, buffered bytes included
	blobs      map[string]int64 // sha256 -> offset of the content in the spool
	check      *treeCheck
	pending    []stageItem
	pendingLen int64
	buf        []byte
	gitIDs     bool // compute each file's git blob id while hashing it
	// split, for a tree, is the number of items published before the
	// fetching began (what every server has); -1 before that, or when the
	// stage is not a tree's.
	split     int
	splitting bool // a tree: split will be set
	// fetch gets the content of blobs that were not read (a ListedSource's
	// Fetch); nil when every file's content was read.
	fetch func(ctx context.Context, ids []string, fn func(id string, content io.Reader) error) error

	// Set when done; read-only afterwards.
	manifest    Manifest
	encoded     []byte                    // manifest.Encode(), once: large manifests take ms to encode
	manifestSum string                    // hex sha256 of encoded
	index       map[string]*ManifestEntry // manifest by path
}

// stageItem is one published entry. off is where a file's content is in
// the spool; -1 for a file whose content was not read (a ListedSource's
// file that every server already has).
type stageItem struct {
	ManifestEntry
	off    int64
	blobID string // git blob id, when known
}

// Batching of publication: small enough that servers follow closely, large
// enough that a flush and a wake-up per batch cost nothing.
const (
	publishItems = 512
	publishBytes = 512 << 10
	// smallContent is the size up to which a content is hashed in memory
	// before it is written, through the buffer, to the spool.
	smallContent = 1 << 20
)

// newStage creates an empty stage in a new directory under parent ("": the
// system temp dir).
func newStage(parent string) (*stage, error) {
	dir, err := os.MkdirTemp(parent, "tollgate-stage-")
	if err != nil {
		return nil, fmt.Errorf("stage release: %w", err)
	}
	st := &stage{dir: dir, changed: make(chan struct{}), blobs: map[string]int64{}, check: newTreeCheck(), split: -1,
		buf: make([]byte, smallContent)}
	if st.spool, err = os.Create(filepath.Join(dir, "spool")); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("stage release: %w", err)
	}
	st.w = bufio.NewWriterSize(st.spool, 1<<20)
	return st, nil
}

// run reads in a goroutine: fill adds every entry, then the stage checks
// the whole tree and becomes done, or fails.
func (st *stage) run(ctx context.Context, shared []string, fill func(context.Context) error) {
	st.reader = make(chan struct{})
	st.started = time.Now()
	go func() {
		defer close(st.reader)
		err := fill(ctx)
		if err == nil {
			err = st.finish(ctx, shared)
		}
		if err != nil {
			st.fail(err)
		}
	}()
}

// Close waits for the reading goroutine (its context must be ending) and
// removes the local copy.
func (st *stage) Close() error {
	if st.reader != nil {
		<-st.reader
	}
	_ = st.spool.Close()
	return os.RemoveAll(st.dir)
}

// readSource adds every entry of src.
func (st *stage) readSource(ctx context.Context, src Source) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, r, err := src.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read source: %w", err)
		}
		if _, err := st.add(e, r); err != nil {
			return err
		}
	}
}

// add validates one entry, stores a file's content and queues the entry
// for publication. It returns the item as published.
func (st *stage) add(e Entry, r io.Reader) (stageItem, error) {
	if err := checkEntryPath(e.Path); err != nil {
		return stageItem{}, fmt.Errorf("source entry %q: %w", e.Path, err)
	}
	p := path.Clean(e.Path)
	if p == "." {
		return stageItem{}, nil // the root directory itself
	}
	it := stageItem{ManifestEntry: ManifestEntry{Path: p, Type: e.Type, Mode: e.Mode.Perm()}, off: -1, blobID: e.BlobID}
	switch e.Type {
	case TypeFile, TypeDir:
	case TypeSymlink:
		if err := checkSymlinkTarget(p, e.LinkTarget); err != nil {
			return stageItem{}, err
		}
		it.Mode, it.LinkTarget = 0o777, e.LinkTarget
	default:
		return stageItem{}, fmt.Errorf("source entry %q: unsupported type %v", p, e.Type)
	}
	implied, _, err := st.check.admit(p, e.Type)
	if err != nil {
		return stageItem{}, fmt.Errorf("source entry %q: %w", p, err)
	}
	for _, d := range implied {
		st.queue(stageItem{ManifestEntry: ManifestEntry{Path: d, Type: TypeDir, Mode: 0o755}, off: -1})
	}
	if e.Type == TypeFile {
		sum, id, off, err := st.store(r, e.Size)
		if err != nil {
			return stageItem{}, fmt.Errorf("source entry %q: %w", p, err)
		}
		if e.BlobID != "" && id != "" && id != e.BlobID {
			return stageItem{}, fmt.Errorf("source entry %q: content is blob %s, the tree says %s", p, id, e.BlobID)
		}
		it.Size, it.SHA256, it.off = e.Size, sum, off
		if it.blobID == "" {
			it.blobID = id
		}
	}
	return it, st.queue(it)
}

// addKnown queues a file whose content was not read for it: its SHA-256
// is known and its content is either staged already (at off, for another
// path) or on every server that needs it (off -1).
func (st *stage) addKnown(e Entry, sum string, off int64) error {
	if err := checkEntryPath(e.Path); err != nil {
		return fmt.Errorf("source entry %q: %w", e.Path, err)
	}
	p := path.Clean(e.Path)
	implied, _, err := st.check.admit(p, TypeFile)
	if err != nil {
		return fmt.Errorf("source entry %q: %w", p, err)
	}
	for _, d := range implied {
		st.queue(stageItem{ManifestEntry: ManifestEntry{Path: d, Type: TypeDir, Mode: 0o755}, off: -1})
	}
	return st.queue(stageItem{ManifestEntry: ManifestEntry{Path: p, Type: TypeFile, Mode: e.Mode.Perm(), Size: e.Size, SHA256: sum},
		off: off, blobID: e.BlobID})
}

// queue adds an item to the next batch and publishes the batch when full.
func (st *stage) queue(it stageItem) error {
	st.pending = append(st.pending, it)
	st.pendingLen += it.Size
	if len(st.pending) >= publishItems || st.pendingLen >= publishBytes {
		return st.publish()
	}
	return nil
}

// publish flushes the spool and makes the pending items visible.
func (st *stage) publish() error {
	if err := st.w.Flush(); err != nil {
		return fmt.Errorf("stage release: %w", err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.items = append(st.items, st.pending...)
	st.consumed += st.pendingLen
	st.pending, st.pendingLen = st.pending[:0], 0
	st.wake()
	return nil
}

// wake tells every waiter that something changed; st.mu is held.
func (st *stage) wake() {
	close(st.changed)
	st.changed = make(chan struct{})
}

// finish publishes the rest, checks what needs the whole tree and makes
// the manifest; then the stage is done.
func (st *stage) finish(ctx context.Context, shared []string) error {
	if err := st.publish(); err != nil {
		return err
	}
	st.mu.Lock()
	items := st.items
	st.mu.Unlock()
	m := make(Manifest, 0, len(items))
	pos := make(map[string]int, len(items))
	for _, it := range items {
		if i, ok := pos[it.Path]; ok {
			m[i] = it.ManifestEntry // an explicit directory after its contents
			continue
		}
		pos[it.Path] = len(m)
		m = append(m, it.ManifestEntry)
	}
	sort.Slice(m, func(i, j int) bool { return m[i].Path < m[j].Path })
	idx := m.index()
	if err := checkSymlinks(ctx, m, idx); err != nil {
		return err
	}
	if err := checkSharedParents(idx, shared); err != nil {
		return err
	}
	encoded := m.Encode()
	sum := sha256.Sum256(encoded)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.err != nil {
		return st.err
	}
	st.manifest, st.encoded, st.index, st.manifestSum = m, encoded, idx, hex.EncodeToString(sum[:])
	st.seconds = time.Since(st.started).Seconds()
	st.done = true
	st.wake()
	return nil
}
