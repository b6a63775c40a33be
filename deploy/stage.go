package deploy

import (
	"bufio"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
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

// fail records why the stage cannot complete; the first reason stays.
func (st *stage) fail(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.err == nil && !st.done {
		st.err = err
		st.wake()
	}
}

// failure is the stage's error, if it failed.
func (st *stage) failure() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.err
}

// isDone reports whether the whole source was read and validated.
func (st *stage) isDone() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.done
}

// await blocks until ready(st) holds (checked with st.mu held), the stage
// failed or ctx ended.
func (st *stage) await(ctx context.Context, ready func() bool) error {
	for {
		st.mu.Lock()
		ok, err, ch := ready(), st.err, st.changed
		st.mu.Unlock()
		switch {
		case err != nil:
			return err
		case ok:
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// next returns the items published from index i on, waiting for at least
// one; none (and no error) means the stage is done and i is its end.
func (st *stage) next(ctx context.Context, i int) ([]stageItem, error) {
	var out []stageItem
	err := st.await(ctx, func() bool {
		out = st.items[min(i, len(st.items)):]
		return len(out) > 0 || st.done
	})
	return out, err
}

// markSplit records that what is published so far is everything the tree
// deploy does not fetch.
func (st *stage) markSplit() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.split = len(st.items)
	st.wake()
}

// splitPoint waits for the split of a tree's stage; ok is false for a
// stage that has none (or has failed: the upload finds out).
func (st *stage) splitPoint(ctx context.Context) (int, bool) {
	if !st.splitting {
		return 0, false
	}
	var split int
	err := st.await(ctx, func() bool {
		split = st.split
		return st.split >= 0 || st.done
	})
	return split, err == nil && split >= 0
}

// ready returns the items published from index i on, without waiting.
func (st *stage) ready(i int) []stageItem {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.items[min(i, len(st.items)):]
}

// content returns a reader of a staged content.
func (st *stage) content(it stageItem) (*io.SectionReader, error) {
	if it.off < 0 {
		return nil, fmt.Errorf("content of %s was not staged", it.Path)
	}
	return io.NewSectionReader(st.spool, it.off, it.Size), nil
}

// ensureContent returns items with their content staged, fetching the
// content of files that were not read (once the stage is done). Fetched
// content must have the blob id and the SHA-256 its item says.
func (st *stage) ensureContent(ctx context.Context, items []stageItem) ([]stageItem, error) {
	st.extraMu.Lock()
	defer st.extraMu.Unlock()
	out := append([]stageItem(nil), items...)
	byID := map[string][]int{}
	for i, it := range out {
		if it.off >= 0 {
			continue
		}
		if off, ok := st.blobs[it.SHA256]; ok {
			out[i].off = off
			continue
		}
		if it.blobID == "" || st.fetch == nil {
			return nil, fmt.Errorf("content of %s is not at hand", it.Path)
		}
		byID[it.blobID] = append(byID[it.blobID], i)
	}
	if len(byID) == 0 {
		return out, nil
	}
	st.gitIDs = true
	err := st.fetch(ctx, slices.Sorted(maps.Keys(byID)), func(id string, r io.Reader) error {
		idx, ok := byID[id]
		if !ok {
			return fmt.Errorf("blob %s was not asked for", id)
		}
		want := out[idx[0]]
		sum, got, off, err := st.store(r, want.Size)
		switch {
		case err != nil:
			return fmt.Errorf("blob %s of %s: %w", id, want.Path, err)
		case got != id:
			return fmt.Errorf("blob %s of %s: content is blob %s", id, want.Path, got)
		case sum != want.SHA256:
			return fmt.Errorf("blob %s of %s: content has sha256 %s, the manifest says %s", id, want.Path, sum, want.SHA256)
		}
		for _, i := range idx {
			out[i].off = off
		}
		delete(byID, id)
		return nil
	})
	if err == nil {
		err = st.w.Flush()
	}
	if err == nil && len(byID) > 0 {
		err = fmt.Errorf("%d blobs were not fetched", len(byID))
	}
	if err != nil {
		return nil, fmt.Errorf("fetch content to send anew: %w", err)
	}
	return out, nil
}

// store appends exactly size bytes to the spool, keeping one copy of each
// distinct content, and returns the content's sha256, its git blob id (if
// st.gitIDs) and its offset.
func (st *stage) store(r io.Reader, size int64) (sum, blobID string, off int64, err error) {
	if r == nil {
		return "", "", 0, errors.New("file without content")
	}
	if size < 0 {
		return "", "", 0, fmt.Errorf("negative size %d", size)
	}
	var git hash.Hash
	if st.gitIDs {
		git = sha1.New()
		_, _ = io.WriteString(git, "blob "+strconv.FormatInt(size, 10)+"\x00")
	}
	if size <= smallContent {
		data := st.buf[:size]
		if _, err := io.ReadFull(r, data); err != nil {
			return "", "", 0, fmt.Errorf("content shorter than its header's %d bytes: %w", size, err)
		}
		if extra(r) {
			return "", "", 0, fmt.Errorf("content longer than its header's %d bytes", size)
		}
		sumb := sha256.Sum256(data)
		sum = hex.EncodeToString(sumb[:])
		if git != nil {
			git.Write(data)
			blobID = hex.EncodeToString(git.Sum(nil))
		}
		if off, dup := st.blobs[sum]; dup {
			return sum, blobID, off, nil
		}
		if _, err := st.w.Write(data); err != nil {
			return "", "", 0, err
		}
		off = st.end
		st.blobs[sum] = off
		st.end += size
		return sum, blobID, off, nil
	}
	if err := st.w.Flush(); err != nil {
		return "", "", 0, err
	}
	h := sha256.New()
	sink := io.MultiWriter(st.spool, h)
	if git != nil {
		sink = io.MultiWriter(st.spool, h, git)
	}
	n, err := io.CopyBuffer(sink, r, st.buf) // st.buf is free: this content is over smallContent
	if err == nil && n != size {
		err = fmt.Errorf("content is %d bytes, header says %d", n, size)
	}
	if err != nil {
		return "", "", 0, err
	}
	sum = hex.EncodeToString(h.Sum(nil))
	if git != nil {
		blobID = hex.EncodeToString(git.Sum(nil))
	}
	if off, dup := st.blobs[sum]; dup {
		// Drop the second copy; nothing published refers to it.
		if err := st.spool.Truncate(st.end); err != nil {
			return "", "", 0, err
		}
		if _, err := st.spool.Seek(st.end, io.SeekStart); err != nil {
			return "", "", 0, err
		}
		return sum, blobID, off, nil
	}
	off = st.end
	st.blobs[sum] = off
	st.end += n
	return sum, blobID, off, nil
}

// extra reports whether r has more bytes.
func extra(r io.Reader) bool {
	var b [1]byte
	n, _ := r.Read(b[:])
	return n > 0
}
