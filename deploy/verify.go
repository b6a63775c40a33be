package deploy

import (
	"archive/tar"
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// verifyUpload checks every file of the new release on r, sent or
// hard-linked, against the manifest, from the hashes the server computed
// once extraction had finished; nothing runs in the release before this
// passes. A hard-linked file that differs is an earlier release's file
// changed on the server after it was verified: it is sent anew, replacing
// the link, and checked again. Any other difference fails the upload.
func (o *op) verifyUpload(ctx context.Context, r *serverRun, st *stage, name string, w *releaseWriter, got serverFiles, runErr error) error {
	want := make(map[string]wantFile, len(w.sent)+len(w.linked)+1)
	linked := make(map[string]stageItem, len(w.linked))
	for _, e := range w.sent {
		want["releases/"+name+"/"+e.Path] = wantFile{e.SHA256, e.Mode}
	}
	for _, it := range w.linked {
		want["releases/"+name+"/"+it.Path] = wantFile{it.SHA256, it.Mode}
		linked["releases/"+name+"/"+it.Path] = it
	}
	want[".tollgate/"+name+"/manifest"] = wantFile{sum: st.manifestSum}
	differ, err := compareFiles(want, got, runErr)
	if err != nil {
		return err
	}
	var drifted []stageItem
	for _, p := range slices.Sorted(maps.Keys(differ)) {
		it, ok := linked[p]
		if !ok {
			return fmt.Errorf("%s has %s on the server, manifest says otherwise", p, differ[p])
		}
		drifted = append(drifted, it)
	}
	if runErr != nil {
		return fmt.Errorf("extract and hash: %w", runErr)
	}
	if len(drifted) > 0 {
		paths := make([]string, len(drifted))
		for i, it := range drifted {
			paths[i] = it.Path
		}
		o.logf(r, "WARNING: release %s has files that no longer match its manifest (changed on the server after they were verified), sending them anew: %s",
			w.plan.base, strings.Join(paths, ", "))
		if err := o.resend(ctx, r, st, name, drifted); err != nil {
			return fmt.Errorf("send changed files anew: %w", err)
		}
	}
	o.logf(r, "verified %d files against the manifest (%d sent, %d hard-linked; digest sha256:%s)",
		len(want)-1, len(r.res.Sent), len(w.linked)-len(drifted), st.manifestSum)
	return nil
}

// resend writes files anew into release name on r (unlinking what is
// there, so an earlier release's inode is never written through), hashes
// them on the server and checks them.
func (o *op) resend(ctx context.Context, r *serverRun, st *stage, name string, files []stageItem) error {
	files, err := st.ensureContent(ctx, files)
	if err != nil {
		return err
	}
	want := make(map[string]wantFile, len(files))
	list := make([]string, len(files))
	for i, it := range files {
		list[i] = "releases/" + name + "/" + it.Path
		want[list[i]] = wantFile{it.SHA256, it.Mode}
	}
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 256<<10)
		tw := tar.NewWriter(bw)
		err := func() error {
			for i, it := range files {
				h := &tar.Header{Typeflag: tar.TypeReg, Name: list[i], Mode: int64(it.Mode.Perm()), Size: it.Size}
				if err := tw.WriteHeader(h); err != nil {
					return err
				}
				c, err := st.content(it)
				if err == nil {
					_, err = io.Copy(tw, c)
				}
				if err != nil {
					return fmt.Errorf("send %s: %w", it.Path, err)
				}
			}
			content := strings.Join(list, "\x00") + "\x00"
			h := &tar.Header{Typeflag: tar.TypeReg, Name: ".tollgate/" + name + "/resend", Mode: 0o644, Size: int64(len(content))}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if _, err := io.WriteString(tw, content); err != nil {
				return err
			}
			if err := tw.Close(); err != nil {
				return err
			}
			return bw.Flush()
		}()
		_ = pw.CloseWithError(err)
	}()
	var hashes strings.Builder
	runErr := r.conn.run(ctx, extractScript(r.root, name, "resend", extractResend), pr, &hashes, nil)
	_ = pr.CloseWithError(fmt.Errorf("remote tar ended: %v", runErr))
	got := serverFiles{hashes: map[string]string{}, modes: map[string]uint32{}}
	got.add(hashes.String())
	differ, err := compareFiles(want, got, runErr)
	if err != nil {
		return err
	}
	for _, p := range slices.Sorted(maps.Keys(differ)) {
		return fmt.Errorf("%s has %s on the server after it was sent anew, manifest says otherwise", p, differ[p])
	}
	if runErr != nil {
		return fmt.Errorf("extract and hash: %w", runErr)
	}
	for _, it := range files {
		r.res.Sent = append(r.res.Sent, it.Path)
		r.res.FilesSent++
		r.res.BytesSent += it.Size
	}
	sort.Strings(r.res.Sent)
	return nil
}

// wantFile is what a file on the server must be: its content's SHA-256
// and, when mode is not 0, its permission bits.
type wantFile struct {
	sum  string
	mode fs.FileMode
}

// serverFiles is what the server reported of the files it hashed: their
// SHA-256 and mode bits, by path relative to the deploy path.
type serverFiles struct {
	hashes map[string]string
	modes  map[string]uint32
}

// add reads one extractScript output: hashes, the modes marker, modes.
func (s serverFiles) add(out string) {
	hashes, modes, _ := strings.Cut(out, modesMarker+"\n")
	for p, h := range parseSHA256Sum(hashes) {
		s.hashes[p] = h
	}
	for p, m := range parseModes(modes) {
		s.modes[p] = m
	}
}

// compareFiles checks the files in want against what the server reported
// and returns those that differ, saying how ("sha256 <hex>", "mode 0666").
// A file with no hash at all is an error (naming runErr, the run's own
// error, which usually says why); the caller decides about runErr
// otherwise.
func compareFiles(want map[string]wantFile, got serverFiles, runErr error) (map[string]string, error) {
	differ := map[string]string{}
	for _, p := range slices.Sorted(maps.Keys(want)) {
		w := want[p]
		h, ok := got.hashes[p]
		switch {
		case !ok:
			return nil, fmt.Errorf("%s is missing after upload (%v)", p, runErr)
		case h != w.sum:
			differ[p] = "sha256 " + h
		case w.mode != 0 && got.modes[p] != uint32(w.mode.Perm()):
			differ[p] = fmt.Sprintf("mode %04o", got.modes[p])
		}
	}
	return differ, nil
}

// parseModes reads "<octal mode> <path>" lines: all twelve mode bits, so
// a setuid bit added on the server differs from the manifest too.
func parseModes(out string) map[string]uint32 {
	modes := map[string]uint32{}
	for _, line := range strings.Split(out, "\n") {
		m, p, ok := strings.Cut(line, " ")
		if n, err := strconv.ParseUint(m, 8, 32); ok && err == nil {
			modes[p] = uint32(n)
		}
	}
	return modes
}

// parseSHA256Sum reads the output of sha256sum ("<hex>  <name>", undoing its
// escaping of names that contain a backslash or newline: such lines start
// with a backslash) or of openssl dgst -sha256 -r ("<hex> *<name>", never
// escaped; its lines start with a hex digit).
func parseSHA256Sum(out string) map[string]string {
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		escaped := strings.HasPrefix(line, `\`)
		line = strings.TrimPrefix(line, `\`)
		if len(line) < 66 || (line[64:66] != "  " && line[64:66] != " *") {
			continue
		}
		name := line[66:]
		if escaped {
			name = strings.NewReplacer(`\\`, `\`, `\n`, "\n", `\r`, "\r").Replace(name)
		}
		got[name] = line[:64]
	}
	return got
}
