package evidence_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/cryptotest"

	"github.com/tollgate-dev/tollgate/store/evidence"
	"github.com/tollgate-dev/tollgate/store/evidence/evidencetest"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/golden-manifest.txt from this build")

// The pack is a pure function of the database, the options and the key:
// with crypto/rand made deterministic (request ids, nonces, the key), the
// same generated history gives the same pack, byte for byte. The golden
// MANIFEST (the SHA-256 of every file, signed) was written by the
// evidence code before it was made to stream (issue 17); any change to
// what a pack holds shows up here file by file.
func TestThePackIsByteIdenticalToTheGolden(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 17)
	h := evidencetest.Build(t, 300, 7)
	out := filepath.Join(t.TempDir(), "pack")
	for _, o := range []evidence.Options{
		{SampleSize: 5, Seed: 3},
		{Repo: evidencetest.Repo, Environment: "production", SampleSize: 2, Seed: 4},
	} {
		o.Range, o.Signer, o.Verifier, o.Now, o.Source = evidence.Range{From: h.From, To: h.To}, h.Keys.Signer, h.Keys.Verifier, h.Clock.Now, "tollgate.db"
		o.Out = out + "-" + o.Environment
		if _, err := evidence.Build(context.Background(), h.Store, o); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(filepath.Join(out+"-", evidence.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	filtered, err := os.ReadFile(filepath.Join(out+"-production", evidence.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	got = append(append(got, "\n"...), filtered...)
	golden := filepath.Join("testdata", "golden-manifest.txt")
	if *updateGolden {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) == string(want) {
		return
	}
	wantLines := map[string]bool{}
	for _, l := range strings.Split(string(want), "\n") {
		wantLines[l] = true
	}
	for _, l := range strings.Split(string(got), "\n") {
		if !wantLines[l] {
			t.Errorf("not in the golden MANIFEST: %s", l)
		}
	}
	t.Fatalf("the pack differs from the golden (%s). If bot or the history generator changed what is audited, "+
		"check the difference is intended and rewrite it: go test ./store/evidence -run Golden -update-golden", golden)
}
