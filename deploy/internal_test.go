package deploy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestManifestEncodingRoundTrips(t *testing.T) {
	m := Manifest{
		{Path: "a dir", Type: TypeDir, Mode: 0o755},
		{Path: "a dir/file with spaces.txt", Type: TypeFile, Mode: 0o644, Size: 3, SHA256: strings.Repeat("ab", 32)},
		{Path: "link", Type: TypeSymlink, Mode: 0o777, LinkTarget: "a dir/file with spaces.txt"},
		{Path: `odd\name$(x)`, Type: TypeFile, Mode: 0o755, Size: 0, SHA256: strings.Repeat("00", 32)},
	}
	got, err := ParseManifest(m.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, m) || got.Digest() != m.Digest() {
		t.Errorf("round trip:\n got %v\nwant %v", got, m)
	}
	for name, bad := range map[string]string{
		"unknown type":      "x\t0644\t1\t-\ta\n",
		"escaping path":     "f\t0644\t1\t" + strings.Repeat("ab", 32) + "\t../a\n",
		"symlink no target": "l\t0777\t0\t-\ta\n",
		"short hash":        "f\t0644\t1\tabc\ta\n",
	} {
		if _, err := ParseManifest([]byte(bad)); err == nil {
			t.Errorf("%s: accepted %q", name, bad)
		}
	}
}

func TestRedactorCatchesSecretsSplitAcrossWrites(t *testing.T) {
	cases := []struct {
		name    string
		secrets []string
		writes  []string
		want    string
	}{
		{"whole", []string{"hunter2"}, []string{"pw=hunter2\n"}, "pw=[REDACTED]\n"},
		{"split in three", []string{"hunter2"}, []string{"pw=hun", "te", "r2 ok\n"}, "pw=[REDACTED] ok\n"},
		{"longest first", []string{"abc", "abcdef"}, []string{"xabcdefx abc\n"}, "x[REDACTED]x [REDACTED]\n"},
		{"prefix only at end", []string{"hunter2"}, []string{"hunt"}, "hunt"},
		{"no secrets", nil, []string{"plain\n"}, "plain\n"},
		{"newline inside, split at it", []string{"two\nlines"}, []string{"a two\n", "lines b\n"}, "a [REDACTED] b\n"},
		{"escaped by %q", []string{`q"uo\te`}, []string{`cmd "q\"uo\\te"` + "\n"}, `cmd "[REDACTED]"` + "\n"},
		{"non-ASCII escaped by %+q", []string{"nön"}, []string{`x "n\u00f6n"` + "\n"}, `x "[REDACTED]"` + "\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var log strings.Builder
			h := &hookOutput{red: newRedactor(tc.secrets), log: newLineLog(&log, nil)}
			for _, w := range tc.writes {
				_, _ = h.Write([]byte(w))
			}
			if got := h.finish(); got != tc.want {
				t.Errorf("kept %q, want %q", got, tc.want)
			}
			if got := strings.TrimSuffix(log.String(), "\n"); got != strings.TrimSuffix(tc.want, "\n") {
				t.Errorf("logged %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSymlinkResolutionStaysInsideRelease(t *testing.T) {
	tree := Manifest{
		{Path: "a", Type: TypeDir}, {Path: "a/b", Type: TypeSymlink, LinkTarget: ".."},
		{Path: "a/c", Type: TypeSymlink, LinkTarget: "../d"}, {Path: "d", Type: TypeDir},
		{Path: "loop1", Type: TypeSymlink, LinkTarget: "loop2"}, {Path: "loop2", Type: TypeSymlink, LinkTarget: "loop1"},
	}
	idx := tree.index()
	cases := []struct {
		name, dir, target string
		ok                bool
	}{
		{"sibling", "a", "../d", true},
		{"through symlink to root", "", "a/b", true},
		{"escape via symlink parent", "", "a/b/..", false},
		{"plain escape", "a", "../..", false},
		{"dangling inside", "", "missing/file", true},
		{"loop", "", "loop1", false},
		{"through dir symlink", "", "a/c/../a", true},
	}
	for _, tc := range cases {
		dir := tc.dir
		if dir == "" {
			dir = "."
		}
		_, err := resolveLink(idx, dir, tc.target)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %q from %q: err %v, want ok=%v", tc.name, tc.target, tc.dir, err, tc.ok)
		}
	}
}

func TestCleanupKeepsCurrentAndNewestGood(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2025, 1, 1, 0, m, 0, 0, time.UTC) }
	st := serverState{current: "r5", releases: map[string]*ReleaseInfo{
		"r1": {Name: "r1", Created: at(1), Good: true, Complete: true},
		"r2": {Name: "r2", Created: at(2), Good: true, Complete: true},
		"r3": {Name: "r3", Created: at(3), Complete: true},
		"r4": {Name: "r4", Created: at(4)},
		"r5": {Name: "r5", Created: at(5), Complete: true}, // live but never marked good (crash after switch)
	}}
	if got, want := st.expired(1), []string{"r4", "r3", "r1"}; !slices.Equal(got, want) {
		t.Errorf("expired(1) = %v, want %v", got, want)
	}
	if got, want := st.unfinished(), []string{"r4", "r3"}; !slices.Equal(got, want) {
		t.Errorf("unfinished = %v, want %v", got, want)
	}
}

func TestParseSHA256SumUnescapesNames(t *testing.T) {
	h := strings.Repeat("a", 64)
	out := h + "  plain.txt\n\\" + h + "  back\\\\slash\\nnewline\n"
	got := parseSHA256Sum(out)
	if got["plain.txt"] != h || got["back\\slash\nnewline"] != h || len(got) != 2 {
		t.Errorf("parsed %v", got)
	}
}

// openssl dgst -sha256 -r marks names with "*" and never escapes them.
func TestParseSHA256SumReadsOpenSSL(t *testing.T) {
	h := strings.Repeat("b", 64)
	got := parseSHA256Sum(h + " *plain.txt\n" + h + " *back\\slash\n" + h + " **star\n")
	if got["plain.txt"] != h || got["back\\slash"] != h || got["*star"] != h || len(got) != 3 {
		t.Errorf("parsed %v", got)
	}
}

func TestReleaseSpecValidation(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 30, 45, 0, time.UTC)
	cases := []struct {
		name     string
		spec     ReleaseSpec
		wantName string
		wantErr  bool
	}{
		{"default name", ReleaseSpec{SHA: "0123456789abcdef"}, "20250301123045-0123456", false},
		{"own name", ReleaseSpec{SHA: "0123456", Name: "v1.2.3"}, "v1.2.3", false},
		{"uppercase sha", ReleaseSpec{SHA: "ABCDEF0"}, "", true},
		{"sha with option", ReleaseSpec{SHA: "--output=x"}, "", true},
		{"name with slash", ReleaseSpec{SHA: "0123456", Name: "../x"}, "", true},
		{"name with quote", ReleaseSpec{SHA: "0123456", Name: "a'b"}, "", true},
		{"ref with newline", ReleaseSpec{SHA: "0123456", Ref: "main\nx"}, "", true},
	}
	for _, tc := range cases {
		got, err := tc.spec.validate(now)
		if (err != nil) != tc.wantErr || (err == nil && got.Name != tc.wantName) {
			t.Errorf("%s: name %q err %v", tc.name, got.Name, err)
		}
	}
}

func TestShellQuoting(t *testing.T) {
	for _, s := range []string{"", "plain", "it's", `"$(x)"`, "a'b'c", "`x`", "\n"} {
		q := shq(s)
		if !strings.HasPrefix(q, "'") || !strings.HasSuffix(q, "'") {
			t.Errorf("shq(%q) = %s", s, q)
		}
	}
}
