package deploy

import (
	"fmt"
	"strings"
)

// Remote commands. Every value placed in a command is validated by its
// caller and single-quoted here; release file paths never appear in a
// command line (they travel in the tar stream or NUL-separated on stdin).

// shq quotes s for a POSIX shell.
func shq(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// requiredTools are the programs the engine runs on a server.
var requiredTools = []string{"tar", "sha256sum", "xargs", "find", "readlink", "sed", "flock", "perl"}

// exitLockBusy is flock's exit status (-E) when another deploy holds the lock.
const exitLockBusy = 75

// exitMissingTools is the lock script's exit status when a tool is missing.
const exitMissingTools = 69

func lockScript(root, owner string, waitSeconds int) string {
	wait := "-n"
	if waitSeconds > 0 {
		wait = fmt.Sprintf("-w %d", waitSeconds)
	}
	return fmt.Sprintf(`missing=
for c in %s; do command -v "$c" >/dev/null 2>&1 || missing="$missing $c"; done
if [ -n "$missing" ]; then echo "missing on server:$missing" >&2; exit %d; fi
mkdir -p %s/releases %s/shared %s/.tollgate && cd %s || exit 1
exec flock %s -E %d .tollgate-lock sh -c %s sh %s`,
		strings.Join(requiredTools, " "), exitMissingTools,
		shq(root), shq(root), shq(root), shq(root), wait, exitLockBusy, shq(lockedScript(root)), shq(owner))
}

// lockedScript runs while the lock is held: it records the owner, reports
// the layout (inspectScript's lines) and the current release's manifest
// ("m " lines), shared paths ("s " lines) and the files it holds now ("e "
// lines: a file of the manifest removed on the server cannot be
// hard-linked), says "locked" and waits for the end of its input.
func lockedScript(root string) string {
	return `printf '%s\n' "$1" > .tollgate-lock || exit 1
` + inspectScript(root) + `
cur=$(readlink current 2>/dev/null); cur=${cur#releases/}
if [ -n "$cur" ] && [ -f ".tollgate/$cur/manifest" ] && [ -d "releases/$cur" ]; then
  printf 'base\t%s\n' "$cur"
  sed 's/^/m /' ".tollgate/$cur/manifest" && sed 's/^/s /' ".tollgate/$cur/shared" && echo || exit 1
  (cd "releases/$cur" && find . -type f) | sed 's/^\.\//e /' || exit 1
fi
echo locked
exec cat >/dev/null`
}

func lockOwnerScript(root string) string {
	return fmt.Sprintf("cat %s/.tollgate-lock 2>/dev/null", shq(root))
}

// inspectScript lists the current release and every release with its
// metadata, one tab-separated line each.
func inspectScript(root string) string {
	return fmt.Sprintf(`cd %s 2>/dev/null || exit 0
printf 'current\t%%s\n' "$(readlink current 2>/dev/null)"
for d in releases/* .tollgate/*; do
  [ -d "$d" ] && [ ! -L "$d" ] || continue
  n=${d#releases/}; n=${n#.tollgate/}
  printf 'release\t%%s\t%%s\t%%s\t%%s\n' "$n" "$(cat ".tollgate/$n/created" 2>/dev/null)" "$(cat ".tollgate/$n/ok" 2>/dev/null)" "$([ -f ".tollgate/$n/manifest" ] && [ -d "releases/$n" ] && echo complete)"
done`, shq(root))
}

func readManifestScript(root, name string) string {
	return fmt.Sprintf("cat %s/.tollgate/%s/manifest", shq(root), shq(name))
}

// removeScript deletes releases and their metadata, refusing the current one.
// Directories of a release are never shared with another release, so making
// them writable cannot change any other release; files are only unlinked.
func removeScript(root string, names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = shq(n)
	}
	return fmt.Sprintf(`cd %s || exit 1
cur=$(readlink current 2>/dev/null)
for n in %s; do
  if [ "$cur" = "releases/$n" ]; then echo "refusing to remove the current release $n" >&2; exit 1; fi
  if [ -d "releases/$n" ] && [ ! -L "releases/$n" ]; then find "releases/$n" -type d ! -perm -u+wx -exec chmod u+wx {} + || exit 1; fi
  rm -rf -- "releases/$n" ".tollgate/$n" || exit 1
done`, shq(root), strings.Join(q, " "))
}

// extractScript unpacks the release tar stream from stdin into root, then
// hashes the files listed in the stream's .tollgate/<name>/<list>, one
// hasher per core, each appending to its own file so lines never mix. The
// hasher is openssl when present (it uses the CPU's SHA instructions: about
// five times faster than coreutils 9 sha256sum), else sha256sum;
// parseSHA256Sum reads either's output. Batches of 1024 files keep process
// starts (a few milliseconds each for openssl) small against the hashing
// itself. Then perl lists each file's permission bits.
func extractScript(root, name, list string, mode extractMode) string {
	meta := shq(".tollgate/" + name)
	pre := fmt.Sprintf(`if [ -e releases/%s ] || [ -L releases/%s ]; then printf 'release %%s already exists\n' %s >&2; exit 1; fi
tar -x -p -o -f - || exit 1`, shq(name), shq(name), shq(name))
	if mode != extractNew {
		unlink := map[extractMode]string{extractMore: "", extractResend: "-U "}[mode]
		pre = fmt.Sprintf(`[ -d releases/%s ] || { printf 'release %%s does not exist\n' %s >&2; exit 1; }
tar -x -p -o %s-f - || exit 1`, shq(name), shq(name), unlink)
	}
	return fmt.Sprintf(`cd %s || exit 1
%s
%s
%s < %s/%s
status=$?
cat %s/hashes.* 2>/dev/null
rm -f %s/hashes.*
echo '%s'
perl -0ne 'chomp; my @s = lstat or next; printf "%%04o %%s\n", $s[2] & 07777, $_' < %s/%s || status=1
exit $status`, shq(root), pre, hashSetup, hashFiles(meta), meta, shq(list), meta, meta, modesMarker, meta, shq(list))
}

// hashSetup picks the hasher and the number of hashers (one per core):
// openssl when present (it uses the CPU's SHA instructions: about five
// times faster than coreutils 9 sha256sum), else sha256sum;
// parseSHA256Sum reads either's output. Deploys (extractScript) and drift
// checks (liveTreeScript) hash with it and hashFiles.
const hashSetup = `n=$(nproc 2>/dev/null) || n=2
hash='sha256sum --'
command -v openssl >/dev/null 2>&1 && hash='openssl dgst -sha256 -r --'`

// hashFiles is the command (after hashSetup) that hashes the NUL-separated
// paths on its standard input, in batches of 1024, each hasher appending
// to its own file hashes.<pid> in dir (a shell word) so lines never mix.
func hashFiles(dir string) string {
	return `xargs -0 -P "$n" -n 1024 sh -c 'exec '"$hash"' "$@" >> "$0/hashes.$$"' ` + dir
}

// extractMode says what an extraction adds to.
type extractMode int

const (
	// extractNew creates the release; it refuses one that already exists.
	extractNew extractMode = iota
	// extractMore adds entries to a release a first part created.
	extractMore
	// extractResend writes files anew into the release, unlinking each
	// first (-U), so a hard link to an earlier release is replaced, never
	// written through.
	extractResend
)

// modesMarker separates, in extractScript's output, the hashes from the
// files' permission bits ("<octal mode> <path>" lines; paths have no
// control characters).
const modesMarker = "-- modes"

// switchScript points current at releases/<name> with one rename(2).
func switchScript(root, name, token string) string {
	tmp := ".current.tmp-" + token
	return fmt.Sprintf(`cd %s || exit 1
if [ ! -d releases/%s ]; then printf 'release %%s does not exist\n' %s >&2; exit 1; fi
rm -f %s && ln -s releases/%s %s || exit 1
perl -e 'rename($ARGV[0], $ARGV[1]) or die "rename $ARGV[0] over $ARGV[1]: $!\n"' %s current || { rm -f %s; exit 1; }`,
		shq(root), shq(name), shq(name), shq(tmp), shq(name), shq(tmp), shq(tmp), shq(tmp))
}

// unlinkCurrentScript removes current if it still points at releases/<name>
// (switching back a first deploy, which had no previous release).
func unlinkCurrentScript(root, name string) string {
	return fmt.Sprintf(`cd %s || exit 1
if [ "$(readlink current 2>/dev/null)" = releases/%s ]; then rm -f current; fi`, shq(root), shq(name))
}

// markGoodScript writes the success marker of a release.
func markGoodScript(root, name, at string) string {
	return fmt.Sprintf("printf '%%s\\n' %s > %s/.tollgate/%s/ok || exit 1", shq(at), shq(root), shq(name))
}

// hookEnv is what a hook learns about the deploy, as environment variables.
type hookEnv struct {
	Environment, Release, SHA, Ref, Previous, Root string
}

// hookScript runs a configured command in dir with the deploy's environment.
// The command is the operator's own shell code; the values around it are quoted.
func hookScript(dir, command string, env hookEnv) string {
	return fmt.Sprintf(`cd %s || exit 1
export TOLLGATE_ENVIRONMENT=%s TOLLGATE_RELEASE=%s TOLLGATE_SHA=%s TOLLGATE_REF=%s TOLLGATE_PREVIOUS_RELEASE=%s TOLLGATE_DEPLOY_PATH=%s TOLLGATE_RELEASE_PATH=%s
exec sh -c %s 2>&1`,
		shq(dir), shq(env.Environment), shq(env.Release), shq(env.SHA), shq(env.Ref), shq(env.Previous),
		shq(env.Root), shq(dir), shq(command))
}

// sharedScript creates missing shared directories and checks shared files.
func sharedScript(root string, dirs, files []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cd %s/shared || exit 1\n", shq(root))
	for _, d := range dirs {
		fmt.Fprintf(&b, "mkdir -p -- %s || exit 1\n", shq(d))
	}
	for _, f := range files {
		fmt.Fprintf(&b, "[ -e %s ] || { printf 'shared file %%s is missing\\n' %s >&2; exit 1; }\n", shq(f), shq(root+"/shared/"+f))
	}
	return b.String()
}
