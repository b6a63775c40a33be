package drift_test

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/deploy/drift"
)

func sum(c byte) string { return strings.Repeat(string(c), 64) }

// release is an attested tree: a web app with a shared uploads directory.
func release() []drift.Entry {
	return []drift.Entry{
		{Path: "app", Type: drift.Dir, Mode: 0o755},
		{Path: "app/config.php", Type: drift.File, Mode: 0o644, Size: 120, SHA256: sum('a')},
		{Path: "app/index.php", Type: drift.File, Mode: 0o644, Size: 300, SHA256: sum('b')},
		{Path: "bin", Type: drift.Dir, Mode: 0o755},
		{Path: "bin/run", Type: drift.File, Mode: 0o755, Size: 80, SHA256: sum('c')},
		{Path: "public", Type: drift.Dir, Mode: 0o755},
		{Path: "public/robots.txt", Type: drift.File, Mode: 0o644, Size: 20, SHA256: sum('d')},
		{Path: "public/latest", Type: drift.Symlink, Mode: 0o777, LinkTarget: "../app/index.php"},
		{Path: "storage/uploads/.keep", Type: drift.File, Mode: 0o644, Size: 0, SHA256: sum('e')}, // shadowed by the shared path
	}
}

var opts = drift.Options{Shared: []string{"storage/uploads/"}}

// live is the attested tree as the engine lays it out on a server: shared
// paths are symlinks (in a directory the engine created), the attestation
// sits in .tollgate/, and the shared directory holds what users uploaded.
func live() []drift.Entry {
	var out []drift.Entry
	for _, e := range release() {
		if !strings.HasPrefix(e.Path, "storage/") {
			out = append(out, e)
		}
	}
	return append(out,
		drift.Entry{Path: "storage", Type: drift.Dir, Mode: 0o755},
		drift.Entry{Path: "storage/uploads", Type: drift.Symlink, Mode: 0o777, LinkTarget: "../../../shared/storage/uploads"},
		drift.Entry{Path: "storage/uploads/cat.jpg", Type: drift.File, Mode: 0o644, Size: 9000, SHA256: sum('9')},
		drift.Entry{Path: ".tollgate", Type: drift.Dir, Mode: 0o755},
		drift.Entry{Path: ".tollgate/attestation.dsse.json", Type: drift.File, Mode: 0o644, Size: 4000, SHA256: sum('8')},
	)
}

func edit(entries []drift.Entry, path string, change func(*drift.Entry)) []drift.Entry {
	out := make([]drift.Entry, 0, len(entries))
	for _, e := range entries {
		if e.Path == path {
			if change == nil {
				continue
			}
			change(&e)
		}
		out = append(out, e)
	}
	return out
}

func TestNoDriftOnAFreshRelease(t *testing.T) {
	if got := drift.Compare(release(), live(), opts); got != nil {
		t.Fatalf("drift on an untouched release: %v", got)
	}
}

// TestTheFourDriftsOfTheIssue edits a file, adds one, removes one and
// chmods one, as an intruder on the server would, and expects exactly
// those four paths, in path order.
func TestTheFourDriftsOfTheIssue(t *testing.T) {
	l := live()
	l = edit(l, "app/config.php", func(e *drift.Entry) { e.SHA256, e.Size = sum('f'), 131 })
	l = append(l, drift.Entry{Path: "public/shell.php", Type: drift.File, Mode: 0o644, Size: 42, SHA256: sum('0')})
	l = edit(l, "public/robots.txt", nil)
	l = edit(l, "bin/run", func(e *drift.Entry) { e.Mode = 0o777 })
	rand.Shuffle(len(l), func(i, j int) { l[i], l[j] = l[j], l[i] }) // a listing comes in any order
	got := drift.Compare(release(), l, opts)
	var lines []string
	for _, c := range got {
		lines = append(lines, c.String())
	}
	want := []string{
		"changed app/config.php: sha256 aaaaaaaa… -> ffffffff…, size 120 -> 131",
		"mode_changed bin/run: mode 0755 -> 0777",
		"removed public/robots.txt (file, 0644, 20 bytes)",
		"added public/shell.php (file, 0644, 42 bytes)",
	}
	if !reflect.DeepEqual(lines, want) {
		t.Fatalf("drift:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestEveryKindOfDrift(t *testing.T) {
	tests := []struct {
		name string
		live func([]drift.Entry) []drift.Entry
		want string // the one change's String
	}{
		{"content and mode", func(l []drift.Entry) []drift.Entry {
			return edit(l, "app/index.php", func(e *drift.Entry) { e.SHA256, e.Mode = sum('1'), 0o600 })
		}, "changed app/index.php: sha256 bbbbbbbb… -> 11111111…, mode 0644 -> 0600"},
		{"same size, other content", func(l []drift.Entry) []drift.Entry {
			return edit(l, "app/index.php", func(e *drift.Entry) { e.SHA256 = sum('2') })
		}, "changed app/index.php: sha256 bbbbbbbb… -> 22222222…"},
		{"setuid", func(l []drift.Entry) []drift.Entry {
			return edit(l, "bin/run", func(e *drift.Entry) { e.Mode = drift.ModeFromOctal(0o4755) })
		}, "mode_changed bin/run: mode 0755 -> 4755"},
		{"directory mode", func(l []drift.Entry) []drift.Entry {
			return edit(l, "public", func(e *drift.Entry) { e.Mode = 0o777 })
		}, "mode_changed public: mode 0755 -> 0777"},
		{"file replaced by a symlink", func(l []drift.Entry) []drift.Entry {
			return edit(l, "app/config.php", func(e *drift.Entry) { *e = drift.Entry{Path: e.Path, Type: drift.Symlink, LinkTarget: "/etc/passwd"} })
		}, "changed app/config.php: file -> symlink"},
		{"symlink retargeted", func(l []drift.Entry) []drift.Entry {
			return edit(l, "public/latest", func(e *drift.Entry) { e.LinkTarget = "/etc" })
		}, `changed public/latest: target "../app/index.php" -> "/etc"`},
		{"symlink's own mode is not drift", func(l []drift.Entry) []drift.Entry {
			return edit(l, "public/latest", func(e *drift.Entry) { e.Mode = 0o755 })
		}, ""},
		{"shared symlink replaced by a directory", func(l []drift.Entry) []drift.Entry {
			return edit(l, "storage/uploads", func(e *drift.Entry) { *e = drift.Entry{Path: e.Path, Type: drift.Dir, Mode: 0o755} })
		}, "changed storage/uploads: symlink -> directory"},
		{"shared symlink gone", func(l []drift.Entry) []drift.Entry { return edit(l, "storage/uploads", nil) },
			`removed storage/uploads (symlink to "")`},
		{"a file in Tollgate's directory", func(l []drift.Entry) []drift.Entry {
			return append(l, drift.Entry{Path: ".tollgate/evil.php", Type: drift.File, Mode: 0o644, Size: 1, SHA256: sum('3')})
		}, "added .tollgate/evil.php (file, 0644, 1 bytes)"},
		{"the attestation replaced by a symlink", func(l []drift.Entry) []drift.Entry {
			return edit(l, ".tollgate/attestation.dsse.json", func(e *drift.Entry) { *e = drift.Entry{Path: e.Path, Type: drift.Symlink, LinkTarget: "/tmp/x"} })
		}, `added .tollgate/attestation.dsse.json (symlink to "/tmp/x")`},
		{"a path listed twice", func(l []drift.Entry) []drift.Entry { return append(l, l[1]) }, ""},
		{"a directory removed with its files", func(l []drift.Entry) []drift.Entry {
			return edit(edit(l, "bin", nil), "bin/run", nil)
		}, "removed bin (directory, 0755)\nremoved bin/run (file, 0755, 80 bytes)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var lines []string
			for _, c := range drift.Compare(release(), tc.live(live()), opts) {
				lines = append(lines, c.String())
			}
			if got := strings.Join(lines, "\n"); got != tc.want {
				t.Fatalf("drift:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestChangesCarryBothSides(t *testing.T) {
	l := edit(live(), "bin/run", func(e *drift.Entry) { e.Mode = 0o700 })
	got := drift.Compare(release(), l, opts)
	if len(got) != 1 || got[0].Kind != drift.ModeChanged || got[0].Attested.Mode != 0o755 || got[0].Live.Mode != 0o700 {
		t.Fatalf("%+v", got)
	}
}

func TestModeFromOctal(t *testing.T) {
	for n, want := range map[uint32]fs.FileMode{
		0o644: 0o644, 0o4755: fs.ModeSetuid | 0o755, 0o2750: fs.ModeSetgid | 0o750, 0o1777: fs.ModeSticky | 0o777,
	} {
		if got := drift.ModeFromOctal(n); got != want {
			t.Errorf("ModeFromOctal(%04o) = %v, want %v", n, got, want)
		}
	}
}

// BenchmarkCompare20000Files compares a release of the issue's benchmark
// size (20,000 files) with a live listing of it that drifted in four paths.
func BenchmarkCompare20000Files(b *testing.B) {
	var attested []drift.Entry
	for d := range 200 {
		attested = append(attested, drift.Entry{Path: fmt.Sprintf("dir%03d", d), Type: drift.Dir, Mode: 0o755})
		for f := range 100 {
			attested = append(attested, drift.Entry{Path: fmt.Sprintf("dir%03d/file%03d.php", d, f), Type: drift.File,
				Mode: 0o644, Size: 10 << 10, SHA256: fmt.Sprintf("%064x", d*100+f)})
		}
	}
	l := append([]drift.Entry(nil), attested...)
	l[5].SHA256, l[500].Mode = sum('f'), 0o777
	l = append(l[:900], l[901:]...)
	l = append(l, drift.Entry{Path: "dir000/new.php", Type: drift.File, Mode: 0o644, SHA256: sum('0')})
	b.ReportAllocs()
	for b.Loop() {
		if got := drift.Compare(attested, l, drift.Options{}); len(got) != 4 {
			b.Fatalf("%d changes, want 4", len(got))
		}
	}
}
