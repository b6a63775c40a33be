package deploy

import (
	"archive/tar"
	"bufio"
	"context"
	"fmt"
	"io"
	"path"
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

// checkSharedParents refuses a release in which a parent of a shared path
// is anything but a real directory. The shared link is created at
// releases/<name>/<shared path>; through a symlinked parent it would land
// wherever the commit points that symlink (the web root, say) and expose
// the shared file there.
func checkSharedParents(m Manifest, shared []string) error {
	idx := m.index()
	for _, s := range shared {
		for _, d := range parents(s) {
			if shadowed(d, shared) {
				continue // itself a shared path: replaced by its link
			}
			if e := idx[d]; e != nil && e.Type != TypeDir {
				kind := "a file"
				if e.Type == TypeSymlink {
					kind = "a symlink"
				}
				return fmt.Errorf("shared path %q: its parent %q is %s in the release, not a directory; the parents of a shared path must be real directories", s, d, kind)
			}
		}
	}
	return nil
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

// uploadPlan says which files of a release travel and which are hard links
// to the base release.
type uploadPlan struct {
	baseName string
	links    map[string]bool // paths hard-linked from releases/<baseName>
	linked   []ManifestEntry // those files
	sent     []ManifestEntry // files whose content travels
	bytes    int64
}

// planUpload links every file identical (content and mode) to the base
// release, unless a shared path covered it there or covers it now.
func planUpload(m Manifest, shared []string, base Manifest, baseName string, baseShared []string) uploadPlan {
	p := uploadPlan{baseName: baseName, links: map[string]bool{}}
	baseIdx := base.index()
	for _, e := range m {
		if e.Type != TypeFile || shadowed(e.Path, shared) {
			continue
		}
		if b := baseIdx[e.Path]; baseName != "" && b != nil && b.Type == TypeFile && b.SHA256 == e.SHA256 &&
			b.Mode == e.Mode && !shadowed(e.Path, baseShared) {
			p.links[e.Path] = true
			p.linked = append(p.linked, e)
			continue
		}
		p.sent = append(p.sent, e)
		p.bytes += e.Size
	}
	return p
}

// verifyList is the list of files (relative to the deploy path) the server
// hashes after extraction: every file of the release, sent or hard-linked,
// and the manifest.
func (p uploadPlan) verifyList(name string) []string {
	list := make([]string, 0, len(p.sent)+len(p.linked)+1)
	for _, e := range p.sent {
		list = append(list, "releases/"+name+"/"+e.Path)
	}
	for _, e := range p.linked {
		list = append(list, "releases/"+name+"/"+e.Path)
	}
	return append(list, ".tollgate/"+name+"/manifest")
}

// writeReleaseTar writes the tar stream that creates releases/<name> and its
// metadata under the deploy path, following plan.
func writeReleaseTar(ctx context.Context, w io.Writer, st *stagedTree, meta releaseMeta, plan uploadPlan) error {
	tw := tar.NewWriter(w)
	rel := "releases/" + meta.name + "/"
	mt := meta.created
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: mt})
	}
	if err := dir(strings.TrimSuffix(rel, "/"), 0o755); err != nil {
		return err
	}
	for _, e := range st.manifest {
		if err := ctx.Err(); err != nil {
			return err
		}
		if shadowed(e.Path, meta.shared) {
			continue
		}
		h := &tar.Header{Name: rel + e.Path, Mode: int64(e.Mode.Perm()), ModTime: mt}
		switch e.Type {
		case TypeDir:
			if err := dir(rel+e.Path, int64(e.Mode.Perm())); err != nil {
				return err
			}
			continue
		case TypeSymlink:
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.LinkTarget
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			continue
		}
		if plan.links[e.Path] {
			h.Typeflag, h.Linkname = tar.TypeLink, "releases/"+plan.baseName+"/"+e.Path
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			continue
		}
		h.Typeflag, h.Size = tar.TypeReg, e.Size
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if err := copyBlob(tw, st, e.SHA256, e.Size); err != nil {
			return fmt.Errorf("send %s: %w", e.Path, err)
		}
	}
	// A shared path's parent directories that the tree did not bring.
	added := map[string]bool{}
	for _, s := range meta.shared {
		for _, d := range parents(s) {
			if emitted := st.index[d] != nil && !shadowed(d, meta.shared); !emitted && !added[d] {
				added[d] = true
				if err := dir(rel+d, 0o755); err != nil {
					return err
				}
			}
		}
		h := &tar.Header{Typeflag: tar.TypeSymlink, Name: rel + s, Linkname: "../../shared/" + s, Mode: 0o777, ModTime: mt}
		if depth := strings.Count(s, "/"); depth > 0 {
			h.Linkname = strings.Repeat("../", depth) + h.Linkname
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
	}
	metaDir := ".tollgate/" + meta.name + "/"
	if err := dir(strings.TrimSuffix(metaDir, "/"), 0o755); err != nil {
		return err
	}
	for _, f := range []struct{ name, content string }{
		{"manifest", string(st.encoded)},
		{"shared", sharedFile(meta.shared)},
		{"sha", meta.sha + "\n"},
		{"created", meta.created.UTC().Format(time.RFC3339Nano) + "\n"},
		{"verify", strings.Join(plan.verifyList(meta.name), "\x00") + "\x00"},
	} {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: metaDir + f.name, Mode: 0o644, Size: int64(len(f.content)), ModTime: mt}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, f.content); err != nil {
			return err
		}
	}
	return tw.Close()
}

// parents lists the parent directories of p, outermost first.
func parents(p string) []string {
	var out []string
	for d := path.Dir(p); d != "."; d = path.Dir(d) {
		out = append([]string{d}, out...)
	}
	return out
}

func copyBlob(w io.Writer, st *stagedTree, sum string, size int64) error {
	r, err := st.open(sum)
	if err != nil {
		return err
	}
	n, err := io.Copy(w, r)
	if err == nil && n != size {
		err = fmt.Errorf("staged copy is %d bytes, want %d", n, size)
	}
	return err
}

// upload sends the release to r in one session that also hashes, on the
// server, every file sent; nothing runs in the release before the hashes
// match the manifest.
func (o *op) upload(ctx context.Context, r *serverRun, st *stagedTree, meta releaseMeta) error {
	plan := planUpload(st.manifest, meta.shared, r.base, r.res.Base, r.baseShared)
	r.res.FilesSent, r.res.BytesSent = len(plan.sent), plan.bytes
	r.res.Sent = make([]string, len(plan.sent))
	for i, e := range plan.sent {
		r.res.Sent[i] = e.Path
	}
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(throttle(ctx, pw, o.t.UploadBytesPerSecond), 256<<10)
		err := writeReleaseTar(ctx, bw, st, meta, plan)
		if err == nil {
			err = bw.Flush()
		}
		_ = pw.CloseWithError(err)
	}()
	r.created = true
	var hashes strings.Builder
	err := r.conn.run(ctx, extractScript(r.root, meta.name, "verify", false), pr, &hashes, nil)
	_ = pr.CloseWithError(fmt.Errorf("remote tar ended: %v", err))
	if err != nil && hashes.Len() == 0 {
		return fmt.Errorf("remote tar: %w", err)
	}
	o.logf(r, "uploaded release %s: %d files sent (%d bytes), %d hard-linked from %q",
		meta.name, len(plan.sent), plan.bytes, len(plan.linked), r.res.Base)
	return o.verifyUpload(ctx, r, st, meta.name, plan, hashes.String(), err)
}

// throttle limits writes to rate bytes per second (0: unlimited).
func throttle(ctx context.Context, w io.Writer, rate int64) io.Writer {
	if rate <= 0 {
		return w
	}
	return &throttledWriter{ctx: ctx, w: w, rate: rate, start: time.Now()}
}

type throttledWriter struct {
	ctx   context.Context
	w     io.Writer
	rate  int64
	start time.Time
	total int64
}

func (t *throttledWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), 16<<10)]
		n, err := t.w.Write(chunk)
		written += n
		t.total += int64(n)
		if err != nil {
			return written, err
		}
		p = p[n:]
		due := t.start.Add(time.Duration(float64(t.total) / float64(t.rate) * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			select {
			case <-t.ctx.Done():
				return written, t.ctx.Err()
			case <-time.After(wait):
			}
		}
	}
	return written, nil
}

// sharedFile lists shared paths one per line.
func sharedFile(shared []string) string {
	var b strings.Builder
	for _, s := range shared {
		b.WriteString(s + "\n")
	}
	return b.String()
}
