package evidence_test

import (
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/store/evidence"
	"github.com/tollgate-dev/tollgate/store/evidence/evidencetest"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

func TestVerifyPackNamesTheTamperedFile(t *testing.T) {
	storetest.Run(t, testVerifyPackNamesTheTamperedFile)
}

func testVerifyPackNamesTheTamperedFile(t *testing.T) {
	h := evidencetest.Build(t, 60, 3)
	pack := filepath.Join(t.TempDir(), "pack")
	buildPack(t, h, pack, 3, 1)
	res, err := evidence.VerifyPack(pack, h.Keys.Verifier)
	if err != nil || !res.OK() || res.Files < 20 {
		t.Fatalf("fresh pack: %d files, problems %v, %v", res.Files, res.Problems, err)
	}
	sample, _ := os.ReadDir(filepath.Join(pack, "sample"))
	first := "sample/" + sample[0].Name() + "/approvals.json"

	otherSigner := func() note.Signer {
		skey, _, err := note.GenerateKey(rand.Reader, "test-key")
		if err != nil {
			t.Fatal(err)
		}
		s, _ := note.NewSigner(skey)
		return s
	}()
	tests := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		file   string
		reason string
	}{
		{"a CSV edited by hand", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "changes.csv")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(b), ",succeeded,succeeded,", ",succeeded,failed,", 1)), 0o644)
		}, "changes.csv", "edited after signing"},
		{"a file added", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "approvals-extra.csv"), []byte("x\n"), 0o644)
		}, "approvals-extra.csv", "not listed"},
		{"a sample file removed", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, filepath.FromSlash(first)))
		}, first, "missing"},
		{"the MANIFEST re-signed with another key", func(t *testing.T, dir string) {
			p := filepath.Join(dir, evidence.ManifestName)
			b, _ := os.ReadFile(p)
			text := string(b[:strings.LastIndex(string(b), "\n\n")+1])
			msg, err := note.Sign(&note.Note{Text: text}, otherSigner)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(p, msg, 0o644)
		}, evidence.ManifestName, "signature does not verify"},
		{"a MANIFEST line edited", func(t *testing.T, dir string) {
			p := filepath.Join(dir, evidence.ManifestName)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(b), "  changes.csv", "  changes2.csv", 1)), 0o644)
		}, evidence.ManifestName, "signature does not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "copy")
			if out, err := exec.Command("cp", "-r", pack, dir).CombinedOutput(); err != nil {
				t.Fatalf("copy pack: %v %s", err, out)
			}
			tt.tamper(t, dir)
			res, err := evidence.VerifyPack(dir, h.Keys.Verifier)
			if err != nil {
				t.Fatal(err)
			}
			if res.OK() || res.Problems[0].File != tt.file || !strings.Contains(res.Problems[0].Reason, tt.reason) {
				t.Fatalf("problems %v, want the first on %s saying %q", res.Problems, tt.file, tt.reason)
			}
		})
	}
}
