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
	"strconv"
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
	Files int    // files listed in the MANIFEST
	Range string // the time range of the MANIFEST's range line
	// Repo and Environment are the pack's signed filters ("" = all);
	// FiltersSigned is false for a MANIFEST whose range line names none
	// (written before filters were signed), whose scope is then unknown.
	Repo, Environment string
	FiltersSigned     bool
	KeyName           string // the trusted key that signed the MANIFEST
	Problems          []PackProblem
}

// Scope says which changes the pack holds, as its MANIFEST signs it:
// "all repositories, all environments", or the filters it was cut by.
func (c PackCheck) Scope() string {
	if !c.FiltersSigned {
		return "repository and environment filters not recorded in the MANIFEST: the pack may be filtered"
	}
	return scopeText(c.Repo, c.Environment, ", ")
}

// Filtered reports whether the pack holds only some repositories or
// environments (or may, when the filters were not signed).
func (c PackCheck) Filtered() bool { return !c.FiltersSigned || c.Repo != "" || c.Environment != "" }

// manifestRange is the MANIFEST's range line: the time range, then the
// repository and environment filters, each quoted when set, so a filtered
// pack never reads as the whole population.
func manifestRange(o Options) string {
	return o.Range.String() + "; " + scopeText(o.Repo, o.Environment, "; ")
}

func scopeText(repo, env, sep string) string {
	r, e := "all repositories", "all environments"
	if repo != "" {
		r = "repository " + strconv.Quote(repo)
	}
	if env != "" {
		e = "environment " + strconv.Quote(env)
	}
	return r + sep + e
}

// parseRangeLine splits a MANIFEST range line into its time range and
// filters; FiltersSigned stays false when it names none.
func parseRangeLine(line string, c *PackCheck) error {
	timeRange, rest, ok := strings.Cut(line, "; ") // the time range holds no ';'
	c.Range = timeRange
	if !ok {
		return nil
	}
	bad := fmt.Errorf("range line %q: want the time range; all repositories or repository \"NAME\"; all environments or environment \"NAME\"", line)
	repo, rest, err := cutFilter(rest, "repository", "all repositories")
	if err != nil {
		return bad
	}
	rest, ok = strings.CutPrefix(rest, "; ")
	if !ok {
		return bad
	}
	env, rest, err := cutFilter(rest, "environment", "all environments")
	if err != nil || rest != "" {
		return bad
	}
	c.Repo, c.Environment, c.FiltersSigned = repo, env, true
	return nil
}

// cutFilter reads `all` or `key "NAME"` from the start of s.
func cutFilter(s, key, all string) (value, rest string, err error) {
	if rest, ok := strings.CutPrefix(s, all); ok {
		return "", rest, nil
	}
	q, ok := strings.CutPrefix(s, key+" ")
	if !ok {
		return "", "", fmt.Errorf("no %s filter", key)
	}
	quoted, err := strconv.QuotedPrefix(q)
	if err != nil {
		return "", "", err
	}
	value, _ = strconv.Unquote(quoted)
	if value == "" {
		return "", "", fmt.Errorf("empty %s filter", key)
	}
	return value, q[len(quoted):], nil
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
			if err := parseRangeLine(strings.TrimPrefix(line, "range "), &res); err != nil {
				res.Problems = append(res.Problems, PackProblem{ManifestName, err.Error()})
				return res, nil
			}
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
