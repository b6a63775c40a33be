package deploy

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// releaseMeta is what is written next to a release, in .tollgate/<name>/.
type releaseMeta struct {
	name    string
	sha     string
	created time.Time
	shared  []string
}

// sharedPaths splits Target.Shared into clean paths, directories and files.
func sharedPaths(shared []string) (all, dirs, files []string) {
	for _, s := range shared {
		p := strings.TrimSuffix(s, "/")
		all = append(all, p)
		if strings.HasSuffix(s, "/") {
			dirs = append(dirs, p)
		} else {
			files = append(files, p)
		}
	}
	return all, dirs, files
}

// shadowed reports whether p is a shared path or lies below one.
func shadowed(p string, shared []string) bool {
	for _, s := range shared {
		if p == s || strings.HasPrefix(p, s+"/") {
			return true
		}
	}
	return false
}

// parents lists the parent directories of p, outermost first.
func parents(p string) []string {
	var out []string
	for d := path.Dir(p); d != "."; d = path.Dir(d) {
		out = append([]string{d}, out...)
	}
	return out
}

// linkPlan says which files of a new release are hard links to the base
// release on one server: a file at the same path with the same content and
// mode, which no shared path covered there. Only the same path: linking by
// content alone would pile every release's links onto one inode for
// identical files (empty ones, say) until link(2) fails.
type linkPlan struct {
	base       string // base release name; "" for none
	byPath     map[string]*ManifestEntry
	baseShared []string
}

func newLinkPlan(name string, base Manifest, baseShared []string) linkPlan {
	if name == "" {
		return linkPlan{}
	}
	return linkPlan{base: name, byPath: base.index(), baseShared: baseShared}
}

// links reports whether file e can be a hard link to the base release.
func (p linkPlan) links(e ManifestEntry) bool {
	b := p.byPath[e.Path]
	return p.base != "" && b != nil && b.Type == TypeFile && b.SHA256 == e.SHA256 && b.Mode == e.Mode &&
		!shadowed(e.Path, p.baseShared)
}

// releaseWriter writes, for one server, the tar streams that create
// releases/<name> and its metadata, following the stage as it fills. A
// release is one stream, or two for a tree deploy (see upload); each
// stream is one call of write.
type releaseWriter struct {
	tw       *tar.Writer
	bw       *bufio.Writer // under tw
	st       *stage
	meta     releaseMeta
	plan     linkPlan
	rel      string
	sent     []ManifestEntry
	linked   []stageItem
	entries  int
	bytes    int64
	report   func(entries int, bytes int64)
	reported time.Time
	copyBuf  []byte // reused for every file: io.Copy would allocate 32 KiB per file

	// The part of the release the next write streams.
	from  int    // first stage item
	stop  int    // item to stop before; -1 for the end of the source
	first bool   // creates the release directory
	final bool   // ends the release: shared links, manifest and the rest
	list  string // name of the list of files to hash, in .tollgate/<name>/
}

// progressEvery is how often an upload reports its progress to the log.
const progressEvery = 2 * time.Second

// write streams items [from, stop) (or to the end of the source), then the
// list of the files it wrote, for the server to hash.
func (w *releaseWriter) write(ctx context.Context) error {
	w.rel = "releases/" + w.meta.name + "/"
	w.reported = time.Now()
	sent, linked := len(w.sent), len(w.linked)
	if w.first {
		if err := w.dir(strings.TrimSuffix(w.rel, "/"), 0o755); err != nil {
			return err
		}
	}
	i := w.from
	for w.stop < 0 || i < w.stop {
		items := w.st.ready(i)
		if len(items) == 0 {
			// Caught up with the source: what is buffered goes out now,
			// so the server holds everything read so far.
			if err := w.flush(); err != nil {
				return err
			}
			var err error
			if items, err = w.st.next(ctx, i); err != nil {
				return err
			}
		}
		if w.stop >= 0 {
			items = items[:min(len(items), w.stop-i)]
		}
		if len(items) == 0 {
			break
		}
		for _, it := range items {
			if err := w.item(it); err != nil {
				return err
			}
		}
		i += len(items)
		if w.report != nil && time.Since(w.reported) >= progressEvery {
			w.report(w.entries, w.bytes)
			w.reported = time.Now()
		}
	}
	w.from = i
	if w.final {
		if err := w.sharedLinks(); err != nil {
			return err
		}
	}
	return w.metadata(w.sent[sent:], w.linked[linked:])
}

// flush sends what is buffered.
func (w *releaseWriter) flush() error {
	if err := w.tw.Flush(); err != nil {
		return err
	}
	return w.bw.Flush()
}

func (w *releaseWriter) dir(name string, mode int64) error {
	return w.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: w.meta.created})
}

// item writes one entry: a directory, a symlink, a hard link to the base
// release or a file's content.
func (w *releaseWriter) item(it stageItem) error {
	if shadowed(it.Path, w.meta.shared) {
		return nil
	}
	w.entries++
	h := &tar.Header{Name: w.rel + it.Path, Mode: int64(it.Mode.Perm()), ModTime: w.meta.created}
	switch it.Type {
	case TypeDir:
		return w.dir(w.rel+it.Path, int64(it.Mode.Perm()))
	case TypeSymlink:
		h.Typeflag, h.Linkname = tar.TypeSymlink, it.LinkTarget
		return w.tw.WriteHeader(h)
	}
	if w.plan.links(it.ManifestEntry) {
		w.linked = append(w.linked, it)
		h.Typeflag, h.Linkname = tar.TypeLink, "releases/"+w.plan.base+"/"+it.Path
		return w.tw.WriteHeader(h)
	}
	r, err := w.st.content(it)
	if err != nil {
		return fmt.Errorf("send %s: %w", it.Path, err)
	}
	h.Typeflag, h.Size = tar.TypeReg, it.Size
	if err := w.tw.WriteHeader(h); err != nil {
		return err
	}
	if w.copyBuf == nil {
		w.copyBuf = make([]byte, 256<<10)
	}
	n, err := io.CopyBuffer(w.tw, r, w.copyBuf)
	if err == nil && n != it.Size {
		err = fmt.Errorf("staged copy is %d bytes, want %d", n, it.Size)
	}
	if err != nil {
		return fmt.Errorf("send %s: %w", it.Path, err)
	}
	w.sent = append(w.sent, it.ManifestEntry)
	w.bytes += it.Size
	return nil
}

// sharedLinks links each shared path into the release, creating the
// parent directories the tree did not bring.
func (w *releaseWriter) sharedLinks() error {
	added := map[string]bool{}
	for _, s := range w.meta.shared {
		for _, d := range parents(s) {
			if emitted := w.st.index[d] != nil && !shadowed(d, w.meta.shared); !emitted && !added[d] {
				added[d] = true
				if err := w.dir(w.rel+d, 0o755); err != nil {
					return err
				}
			}
		}
		h := &tar.Header{Typeflag: tar.TypeSymlink, Name: w.rel + s, Linkname: "../../shared/" + s, Mode: 0o777, ModTime: w.meta.created}
		if depth := strings.Count(s, "/"); depth > 0 {
			h.Linkname = strings.Repeat("../", depth) + h.Linkname
		}
		if err := w.tw.WriteHeader(h); err != nil {
			return err
		}
	}
	return nil
}

// metadata writes .tollgate/<name>/: the list of files this stream wrote
// (sent, linked) for the server to hash and, when the stream ends the
// release, the manifest (whose presence marks the upload complete), shared
// paths, commit and creation time; the manifest is hashed too. It comes
// last in the stream.
func (w *releaseWriter) metadata(sent []ManifestEntry, linked []stageItem) error {
	metaDir := ".tollgate/" + w.meta.name + "/"
	if err := w.dir(strings.TrimSuffix(metaDir, "/"), 0o755); err != nil {
		return err
	}
	list := make([]string, 0, len(sent)+len(linked)+1)
	for _, e := range sent {
		list = append(list, w.rel+e.Path)
	}
	for _, it := range linked {
		list = append(list, w.rel+it.Path)
	}
	var files []struct{ name, content string }
	if w.final {
		list = append(list, metaDir+"manifest")
		files = append(files, []struct{ name, content string }{
			{"manifest", string(w.st.encoded)},
			{"shared", sharedFile(w.meta.shared)},
			{"sha", w.meta.sha + "\n"},
			{"created", w.meta.created.UTC().Format(time.RFC3339Nano) + "\n"},
		}...)
	}
	files = append(files, struct{ name, content string }{w.list, strings.Join(list, "\x00") + "\x00"})
	for _, f := range files {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: metaDir + f.name, Mode: 0o644, Size: int64(len(f.content)), ModTime: w.meta.created}
		if err := w.tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.WriteString(w.tw, f.content); err != nil {
			return err
		}
	}
	return w.tw.Close()
}

// upload streams the release to r as the stage fills and has the server
// hash every file; nothing runs in the release before the hashes and modes
// match the manifest. From a tree, what every server already has
// (directories, symlinks, hard links) goes first in a session of its own,
// whose hashing overlaps the fetching of the changed files; these follow
// in a second session. A stage that fails ends the streams and the upload
// with the stage's error.
func (o *op) upload(ctx context.Context, r *serverRun, st *stage, meta releaseMeta) error {
	if err := st.failure(); err != nil {
		return err // refused before this server's turn: nothing to create or remove
	}
	w := &releaseWriter{st: st, meta: meta, plan: newLinkPlan(r.res.Base, r.base, r.baseShared), stop: -1, first: true,
		report: func(entries int, bytes int64) {
			o.logf(r, "upload: %d entries, %s of file content sent so far", entries, FormatBytes(bytes))
		}}
	r.created = true
	got := serverFiles{hashes: map[string]string{}, modes: map[string]uint32{}}
	var runErrs []error
	mode := extractNew
	if split, ok := st.splitPoint(ctx); ok {
		w.stop, w.list = split, "verify-linked"
		runErr, err := o.stream(ctx, r, st, w, mode, &got)
		if err != nil {
			return err
		}
		runErrs = append(runErrs, runErr)
		w.first, w.stop, mode = false, -1, extractMore
	}
	w.final, w.list = true, "verify"
	runErr, err := o.stream(ctx, r, st, w, mode, &got)
	if err != nil {
		return err
	}
	runErrs = append(runErrs, runErr)
	r.res.FilesSent, r.res.BytesSent = len(w.sent), w.bytes
	r.res.Sent = make([]string, len(w.sent))
	for i, e := range w.sent {
		r.res.Sent[i] = e.Path
	}
	sort.Strings(r.res.Sent)
	o.logf(r, "uploaded release %s: files sent %d (%s), hard-linked %d from %q",
		meta.name, len(w.sent), FormatBytes(w.bytes), len(w.linked), r.res.Base)
	return o.verifyUpload(ctx, r, st, meta.name, w, got, errors.Join(runErrs...))
}

// stream runs one extraction session on r fed by w's next part and adds
// the server's hashes and modes to got. It returns the session's own error
// (the verification reports what it left missing) and, as err, a reason
// the upload cannot go on: the stage failed, or the server answered nothing.
func (o *op) stream(ctx context.Context, r *serverRun, st *stage, w *releaseWriter, mode extractMode, got *serverFiles) (runErr, err error) {
	pr, pw := io.Pipe()
	wctx, stopWriting := context.WithCancel(ctx)
	defer stopWriting()
	written := make(chan struct{})
	var werr error // the writer's own failure, set before it ends the stream
	failed := make(chan struct{})
	go func() {
		defer close(written)
		w.bw = bufio.NewWriterSize(throttle(wctx, pw, o.t.UploadBytesPerSecond), 256<<10)
		w.tw = tar.NewWriter(w.bw)
		err := w.write(wctx)
		if err == nil {
			err = w.bw.Flush()
		}
		if err != nil {
			werr = err
			close(failed)
		}
		_ = pw.CloseWithError(err)
	}()
	var out strings.Builder
	runErr = r.conn.run(ctx, extractScript(r.root, w.meta.name, w.list, mode), pr, &out, nil)
	select {
	case <-failed: // the stream broke on this side first: that is the reason
		if st.failure() == nil {
			return nil, fmt.Errorf("stream release: %w (server: %v)", werr, runErr)
		}
	default:
	}
	// The server is done reading: a writer still waiting for the stage stops.
	stopWriting()
	_ = pr.CloseWithError(fmt.Errorf("remote tar ended: %v", runErr))
	<-written
	// A source that failed validation is the reason, whatever the server
	// made of the stream that ended early. Otherwise the server's answer
	// decides: a stream cut short leaves files or the manifest missing,
	// which the verification reports.
	if serr := st.failure(); serr != nil {
		return nil, serr
	}
	if runErr != nil && out.Len() == 0 {
		return nil, fmt.Errorf("remote tar: %w", runErr)
	}
	got.add(out.String())
	return runErr, nil
}

// FormatBytes formats a byte count for people: logs, PR comments.
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// sharedFile lists shared paths one per line.
func sharedFile(shared []string) string {
	var b strings.Builder
	for _, s := range shared {
		b.WriteString(s + "\n")
	}
	return b.String()
}
