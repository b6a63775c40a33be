package deploy

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzEntryBudget is the most validating one tarball entry may take (ten
// times that under the race detector). The validator's own work per entry
// is bounded (paths of at most 4096 bytes, at most 40 symlinks followed per
// link); this is far above that bound and far below a hang, even on a
// loaded machine.
const fuzzEntryBudget = 200 * time.Millisecond

// FuzzTarballValidator builds a tarball from a line-oriented description
// (see fuzzTarball), validates it as a deploy would, and checks that
//   - an accepted tree never escapes its release: materialised on disk,
//     every entry's parents are real directories and every symlink, resolved
//     by os.Root (the standard library's resolver, not ours), stays inside;
//   - validation never takes more than fuzzEntryBudget per entry.
func FuzzTarballValidator(f *testing.F) {
	for _, seed := range []string{
		"d app\nf app/index.html\thi\nl public\tapp",
		"l up\t..\nl a/b\t..",
		"d s0\nC 45",
		"C 12\nl x\ts12/x",
		"N 300\nf n\tx",
		"D 2100",
		"D 2040",
		"D 600\nl deep\tp/p/p/../../..",
		"l loop1\tloop2\nl loop2\tloop1",
		"d d\nl d/e\t../../etc\n",
		"l dir\t.\nf dir/x\tx",
		"h hard\tapp\nc null\t",
		"f a\tx\nf a\ty",
		"d a\nl a/b\t../a\nl c\ta/b/b/b/b/b/b/b/..",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, desc []byte) {
		data, entries := fuzzTarball(desc)
		if entries == 0 {
			return
		}
		start := time.Now()
		m, err := validateSource(TarSource(bytes.NewReader(data), 0), t.TempDir())
		if took := time.Since(start); took > raceSlowdown*(time.Second+time.Duration(entries)*fuzzEntryBudget) {
			t.Fatalf("validating %d entries took %v", entries, took)
		}
		if err != nil {
			return
		}
		assertStaysInside(t, m)
	})
}

// validateSource reads and validates src as a deploy does, with no server
// following, and returns the manifest.
func validateSource(src Source, dir string) (Manifest, error) {
	st, err := newStage(dir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	ctx := context.Background()
	st.run(ctx, nil, func(ctx context.Context) error { return st.readSource(ctx, src) })
	if err := st.await(ctx, func() bool { return st.done }); err != nil {
		return nil, err
	}
	return st.manifest, nil
}

// assertStaysInside materialises m in a fresh directory and checks that
// nothing in it leads outside. Entries are created relative to their
// parent's directory handle, so a deep tree costs no more than a flat one.
func assertStaysInside(t *testing.T, m Manifest) {
	t.Helper()
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]*os.Root{".": root}
	defer func() {
		for _, d := range dirs {
			_ = d.Close()
		}
	}()
	for _, e := range m { // sorted: parents first
		parent, name := dirs[path.Dir(e.Path)], path.Base(e.Path)
		if parent == nil {
			t.Fatalf("accepted entry %q has no directory as its parent", e.Path)
		}
		switch e.Type {
		case TypeDir:
			if err = parent.Mkdir(name, 0o755); err == nil {
				dirs[e.Path], err = parent.OpenRoot(name)
			}
		case TypeFile:
			err = parent.WriteFile(name, nil, 0o644)
		case TypeSymlink:
			err = parent.Symlink(e.LinkTarget, name)
		}
		if err != nil {
			t.Fatalf("accepted entry %q cannot be created as the manifest says: %v", e.Path, err)
		}
	}
	for _, e := range m {
		if e.Type != TypeSymlink {
			continue
		}
		if _, err := root.Stat(e.Path); err != nil && strings.Contains(err.Error(), "escapes") {
			t.Fatalf("accepted symlink %q -> %q escapes the release: %v", e.Path, e.LinkTarget, err)
		}
	}
}

// fuzzTarball turns a description into a tar stream. Each line is one
// entry: a type letter, a space, a path, and for some types a tab and an
// argument: "f path\tcontent", "d path", "l path\ttarget", "h path\ttarget"
// (hard link), "c path" (character device). Three macros make the
// expensive shapes cheap to reach: "C n" a chain of n symlinks
// s<k> -> s<k-1>/../s<k-1>; "D n" a file n directories deep; "N n" a file
// whose name is n bytes long. It returns the stream and its entry count.
func fuzzTarball(desc []byte) ([]byte, int) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	count := 0
	add := func(h *tar.Header, body string) {
		if count >= 5000 {
			return
		}
		h.ModTime = time.Unix(1700000000, 0)
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		h.Size = int64(len(body))
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if tw.WriteHeader(h) != nil {
			return
		}
		if h.Size > 0 {
			_, _ = tw.Write([]byte(body))
		}
		count++
	}
	for _, line := range strings.Split(string(desc), "\n") {
		if len(line) < 3 || line[1] != ' ' {
			continue
		}
		name, arg, _ := strings.Cut(line[2:], "\t")
		n, _ := strconv.Atoi(name)
		n = min(max(n, 0), 5000)
		switch line[0] {
		case 'f':
			add(&tar.Header{Typeflag: tar.TypeReg, Name: name}, arg)
		case 'd':
			add(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}, "")
		case 'l':
			add(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: arg}, "")
		case 'h':
			add(&tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: arg}, "")
		case 'c':
			add(&tar.Header{Typeflag: tar.TypeChar, Name: name}, "")
		case 'C':
			for k := 1; k <= n; k++ {
				prev := "s" + strconv.Itoa(k-1)
				add(&tar.Header{Typeflag: tar.TypeSymlink, Name: "s" + strconv.Itoa(k), Linkname: prev + "/../" + prev}, "")
			}
		case 'D':
			add(&tar.Header{Typeflag: tar.TypeReg, Name: strings.Repeat("p/", n) + "f"}, "deep")
		case 'N':
			add(&tar.Header{Typeflag: tar.TypeReg, Name: strings.Repeat("n", n)}, "long")
		}
	}
	_ = tw.Close()
	return b.Bytes(), count
}
