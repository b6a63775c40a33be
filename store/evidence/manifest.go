package evidence

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/store/audit"
)

// The MANIFEST is a signed note (golang.org/x/mod/sumdb/note, the audit
// key, like the checkpoints) whose text lists the SHA-256 of every other
// file in the pack in sha256sum's format, so `sha256sum -c` also reads it.

const manifestHeader = "tollgate evidence pack v1"

// ManifestName is the file name of the signed manifest in a pack.
const ManifestName = "MANIFEST"

// writeManifest hashes every file under dir (but MANIFEST) and writes the
// signed MANIFEST.
func writeManifest(dir, rangeLine string, signer note.Signer) (int, error) {
	sums, err := hashTree(dir)
	if err != nil {
		return 0, err
	}
	var b strings.Builder
	fmt.Fprintln(&b, manifestHeader)
	fmt.Fprintf(&b, "range %s\n", rangeLine)
	fmt.Fprintf(&b, "files %d\n", len(sums))
	for _, s := range sums {
		fmt.Fprintf(&b, "%s  %s\n", s.sum, s.path)
	}
	msg, err := note.Sign(&note.Note{Text: b.String()}, signer)
	if err != nil {
		return 0, fmt.Errorf("sign MANIFEST: %w", err)
	}
	return len(sums), writeFile(filepath.Join(dir, ManifestName), msg)
}

type fileSum struct{ path, sum string }

// hashTree returns the SHA-256 of every regular file under dir except the
// MANIFEST, by slash-separated relative path, sorted. Anything that is not
// a regular file or directory is an error: a pack holds files only.
func hashTree(dir string) ([]fileSum, error) {
	var out []fileSum
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			return fmt.Errorf("%s is not a regular file", rel)
		case rel == ManifestName:
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return fmt.Errorf("hash %s: %w", rel, err)
		}
		out = append(out, fileSum{path: rel, sum: hex.EncodeToString(h.Sum(nil))})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hash pack files: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out, nil
}

// PackProblem is one reason a pack does not verify, naming the file.
type PackProblem struct {
	File   string
	Reason string
}

func (p PackProblem) String() string { return p.File + ": " + p.Reason }

// PackCheck is the result of VerifyPack.
type PackCheck struct {
	Files    int    // files listed in the MANIFEST
	Range    string // the range line of the MANIFEST
	KeyName  string // the trusted key that signed the MANIFEST
	Problems []PackProblem
}

// OK reports whether the pack verified.
func (c PackCheck) OK() bool { return len(c.Problems) == 0 }

// VerifyPack checks that the MANIFEST is signed by one of the trusted
// audit keys (a pack written before a key rotation is signed by the old
// key), then that every file it lists is present with its SHA-256 and
// that no file was added. The error is for a pack that cannot be read at
// all; tampering is reported as Problems, each naming its file.
func VerifyPack(dir string, verifiers ...note.Verifier) (PackCheck, error) {
	var res PackCheck
	msg, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if errors.Is(err, fs.ErrNotExist) {
		res.Problems = append(res.Problems, PackProblem{ManifestName, "missing"})
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("read %s: %w", ManifestName, err)
	}
	keys := audit.Keyring(verifiers).Unique()
	if len(keys) == 0 {
		return res, errors.New("no audit public key to verify the MANIFEST with")
	}
	n, err := note.Open(msg, note.VerifierList(keys...))
	if err != nil {
		res.Problems = append(res.Problems, PackProblem{ManifestName, fmt.Sprintf("signature does not verify with key %s: %v", keys, err)})
		return res, nil
	}
	res.KeyName = n.Sigs[0].Name
	want := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(n.Text))
	for i := 0; sc.Scan(); i++ {
		line := sc.Text()
		switch {
		case i == 0:
			if line != manifestHeader {
				res.Problems = append(res.Problems, PackProblem{ManifestName, fmt.Sprintf("first line %q, want %q", line, manifestHeader)})
				return res, nil
			}
		case strings.HasPrefix(line, "range "):
			res.Range = strings.TrimPrefix(line, "range ")
		case strings.HasPrefix(line, "files "):
		default:
			sum, path, ok := strings.Cut(line, "  ")
			if !ok || len(sum) != 64 || path == "" {
				res.Problems = append(res.Problems, PackProblem{ManifestName, fmt.Sprintf("malformed line %q", line)})
				return res, nil
			}
			want[path] = sum
		}
	}
	res.Files = len(want)
	have, err := hashTree(dir)
	if err != nil {
		return res, err
	}
	seen := map[string]bool{}
	for _, f := range have {
		seen[f.path] = true
		sum, listed := want[f.path]
		switch {
		case !listed:
			res.Problems = append(res.Problems, PackProblem{f.path, "not listed in the signed MANIFEST (added after signing)"})
		case sum != f.sum:
			res.Problems = append(res.Problems, PackProblem{f.path, fmt.Sprintf("SHA-256 %s, the signed MANIFEST says %s (edited after signing)", f.sum, sum)})
		}
	}
	var missing []string
	for path := range want {
		if !seen[path] {
			missing = append(missing, path)
		}
	}
	sort.Strings(missing)
	for _, path := range missing {
		res.Problems = append(res.Problems, PackProblem{path, "listed in the signed MANIFEST but missing"})
	}
	return res, nil
}
