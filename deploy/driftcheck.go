package deploy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/deploy/drift"
)

// DriftExpect is what Tollgate recorded as live on an environment: the
// trusted side of a drift check. Nothing in it is read from a server.
type DriftExpect struct {
	// Release is the release Tollgate put live last ("" when it has no
	// record of one).
	Release string
	// ManifestDigest is the digest ("sha256:<hex>") Tollgate recorded for
	// Release when it deployed it.
	ManifestDigest string
	// Attested says Tollgate wrote Release's attestation on every server:
	// one missing from the live release is then a finding.
	Attested bool
}

// DriftOptions are the optional parts of a drift check.
type DriftOptions struct {
	// VerifyAttestation, when set, checks the attestation envelope found
	// on a server for release (with the manifest digest Tollgate recorded).
	// A nil error makes the attestation "verified", an error "invalid" (a
	// finding). Unset, an attestation found is only "present".
	VerifyAttestation func(ctx context.Context, server, release, manifestDigest string, envelope []byte) error
}

// AttestationStatus is what a drift check knows of a release's attestation
// on one server.
type AttestationStatus string

// Attestation statuses.
const (
	AttestationMissing  AttestationStatus = "missing"
	AttestationPresent  AttestationStatus = "present"  // found, not verified (no verifier)
	AttestationVerified AttestationStatus = "verified" // found and verified
	AttestationInvalid  AttestationStatus = "invalid"  // found, verification failed
	AttestationUnknown  AttestationStatus = ""         // not looked at (no live release, or the check failed)
)

// Finding kinds: what is wrong on a server besides changed files.
const (
	FindingNoCurrent        = "no_current"          // current points at no release of ours
	FindingUnexpected       = "unexpected_release"  // current points at a release Tollgate did not put live last
	FindingManifestMismatch = "manifest_mismatch"   // the server's manifest is not the one Tollgate recorded
	FindingNoManifest       = "no_manifest"         // the live release has no readable manifest
	FindingAttestation      = "attestation_invalid" // the verifier refused the release's attestation
	FindingNoAttestation    = "attestation_missing" // the attestation Tollgate wrote next to the live release is gone
)

// Finding is one problem on a server other than a drifted path.
type Finding struct {
	Kind   string
	Detail string
}

// ServerDrift is the drift check of one server.
type ServerDrift struct {
	Server      string // host:port
	Live        string // release current points at; "" when none
	Findings    []Finding
	Changes     []drift.Change
	Attestation AttestationStatus
	// AttestationError says why an attestation is invalid.
	AttestationError string
	// Error says why the server could not be checked (connect, host key,
	// a remote command); the check found nothing there, not "no drift".
	Error   string
	Seconds float64
}

// Drifted reports whether the server differs from what Tollgate put live.
func (s ServerDrift) Drifted() bool { return len(s.Changes) > 0 || len(s.Findings) > 0 }

// DriftReport is a drift check of every server of an environment.
type DriftReport struct {
	Environment string
	Expect      DriftExpect
	Servers     []ServerDrift
	Started     time.Time
	Finished    time.Time
}

// Drifted reports whether any server drifted.
func (r DriftReport) Drifted() bool {
	for _, s := range r.Servers {
		if s.Drifted() {
			return true
		}
	}
	return false
}

// Failed lists the servers that could not be checked.
func (r DriftReport) Failed() []ServerDrift {
	var out []ServerDrift
	for _, s := range r.Servers {
		if s.Error != "" {
			out = append(out, s)
		}
	}
	return out
}

// Drift checks every server of t against what Tollgate recorded as live
// (want): which release current points at, that release's manifest (whose
// digest must be the one Tollgate recorded), and every entry of the live
// release, each file hashed on the server as a deploy's verification
// hashes them (hashSetup, hashFiles), compared with drift.Compare. Host keys are checked as for a
// deploy and at most MaxParallel servers are checked at once. It takes no
// lock and writes nothing under the deploy path (the hashers' output is
// gathered in a private temporary directory, removed when the command
// ends). The error joins the servers that could not be checked; the
// report holds every server either way.
func (e *Engine) Drift(ctx context.Context, t Target, want DriftExpect, opts DriftOptions) (DriftReport, error) {
	rep := DriftReport{Environment: t.Environment, Expect: want, Started: e.now()}
	t, err := t.validate()
	if err != nil {
		return rep, err
	}
	if want.Release != "" && !releaseNameRe.MatchString(want.Release) {
		return rep, fmt.Errorf("drift check of %s: invalid recorded release name %q", t.Environment, want.Release)
	}
	o := e.newOp(t, nil, want.Release)
	defer o.close()
	out := make([]ServerDrift, len(o.runs))
	idx := make(map[*serverRun]int, len(o.runs))
	for i, r := range o.runs {
		idx[r] = i
		out[i] = ServerDrift{Server: r.addr}
	}
	err = o.each(ctx, "drift", nil, func(ctx context.Context, r *serverRun) error {
		sd := &out[idx[r]]
		start := time.Now()
		defer func() { sd.Seconds = time.Since(start).Seconds() }()
		c, err := dial(ctx, o.t, r.srv)
		if err != nil {
			return err
		}
		r.conn = c
		return checkServer(ctx, r, o.t, want, opts, sd)
	})
	for i, r := range o.runs {
		if r.res.Error != "" {
			out[i].Error = r.res.Error
		}
	}
	rep.Servers = out
	rep.Finished = e.now()
	if err != nil {
		return rep, fmt.Errorf("drift check of %s: %w", t.Environment, err)
	}
	return rep, nil
}

// checkServer fills sd for one connected server.
func checkServer(ctx context.Context, r *serverRun, t Target, want DriftExpect, opts DriftOptions, sd *ServerDrift) error {
	cur, err := r.conn.output(ctx, currentScript(r.root), nil)
	if err != nil {
		return fmt.Errorf("read current: %w", err)
	}
	cur = strings.TrimSuffix(cur, "\n")
	name, ok := strings.CutPrefix(cur, "releases/")
	if cur == "" && want.Release == "" {
		return nil // nothing deployed yet, and nothing live: clean
	}
	if cur == "" || !ok || !releaseNameRe.MatchString(name) {
		detail := "current points at no release"
		if cur != "" {
			detail = fmt.Sprintf("current points at %q, not a release of ours", cur)
		}
		sd.Findings = append(sd.Findings, Finding{FindingNoCurrent, detail})
		return nil
	}
	sd.Live = name
	switch {
	case want.Release == "":
		sd.Findings = append(sd.Findings, Finding{FindingUnexpected,
			fmt.Sprintf("current points at release %s, but Tollgate has no record of putting a release live on %s", name, t.Environment)})
		return nil
	case name != want.Release:
		sd.Findings = append(sd.Findings, Finding{FindingUnexpected,
			fmt.Sprintf("current points at release %s, but Tollgate put %s live last", name, want.Release)})
		// Its files are still compared with its own manifest below; the
		// finding already makes the server drifted.
	}
	data, err := r.conn.output(ctx, readManifestScript(r.root, name), nil)
	var m Manifest
	if err == nil {
		m, err = ParseManifest([]byte(data))
	}
	if err != nil {
		sd.Findings = append(sd.Findings, Finding{FindingNoManifest, fmt.Sprintf("release %s: manifest unreadable: %v", name, err)})
		return nil
	}
	digest := m.Digest()
	if name == want.Release && want.ManifestDigest != "" && digest != want.ManifestDigest {
		sd.Findings = append(sd.Findings, Finding{FindingManifestMismatch,
			fmt.Sprintf("release %s: the manifest on the server has digest %s, Tollgate recorded %s", name, digest, want.ManifestDigest)})
	}
	if err := checkAttestation(ctx, r, name, want, opts, sd); err != nil {
		return err
	}
	live, after, err := listLive(ctx, r, name)
	if err != nil {
		return err
	}
	if after != cur {
		// A deploy or rollback switched: what was compared may mix two
		// releases. Not a finding; the server is not checked this time.
		sd.Findings = nil
		return fmt.Errorf("current changed from %s to %s during the check; check again", cur, after)
	}
	sd.Changes = drift.Compare(m.driftEntries(), live, drift.Options{Shared: t.Shared})
	return nil
}

// driftEntries is m as deploy/drift compares it.
func (m Manifest) driftEntries() []drift.Entry {
	out := make([]drift.Entry, len(m))
	for i, e := range m {
		out[i] = drift.Entry{Path: e.Path, Type: drift.Type(e.Type.String()), Mode: e.Mode, Size: e.Size, SHA256: e.SHA256, LinkTarget: e.LinkTarget}
	}
	return out
}

// checkAttestation reads the release's attestation, if any, and verifies
// it when opts can.
func checkAttestation(ctx context.Context, r *serverRun, name string, want DriftExpect, opts DriftOptions, sd *ServerDrift) error {
	var out strings.Builder
	err := r.conn.run(ctx, readAttestationScript(r.root, name), nil, &out, nil)
	switch {
	case exitCode(err) == exitNoAttestation:
		sd.Attestation = AttestationMissing
		if want.Attested && name == want.Release {
			sd.Findings = append(sd.Findings, Finding{FindingNoAttestation, fmt.Sprintf("release %s: the attestation Tollgate wrote is gone", name)})
		}
		return nil
	case err != nil:
		return fmt.Errorf("read attestation: %w", err)
	}
	sd.Attestation = AttestationPresent
	if opts.VerifyAttestation == nil {
		return nil
	}
	digest := want.ManifestDigest
	if name != want.Release {
		digest = ""
	}
	if verr := opts.VerifyAttestation(ctx, r.addr, name, digest, []byte(out.String())); verr != nil {
		sd.Attestation, sd.AttestationError = AttestationInvalid, verr.Error()
		sd.Findings = append(sd.Findings, Finding{FindingAttestation, fmt.Sprintf("release %s: attestation: %v", name, verr)})
		return nil
	}
	sd.Attestation = AttestationVerified
	return nil
}

// listLive lists and hashes every entry of release name on r; after is
// what current pointed at once the listing ended.
func listLive(ctx context.Context, r *serverRun, name string) (entries []drift.Entry, after string, err error) {
	var out strings.Builder
	runErr := r.conn.run(ctx, liveTreeScript(r.root, name), nil, &out, nil)
	if runErr != nil {
		return nil, "", fmt.Errorf("list and hash release %s: %w", name, runErr)
	}
	return parseLiveTree(out.String())
}

// parseLiveTree reads liveTreeScript's output: hashes, the entries marker,
// NUL-separated entries, the current marker.
func parseLiveTree(out string) ([]drift.Entry, string, error) {
	hashes, rest, ok := strings.Cut(out, entriesMarker+"\n")
	if !ok {
		return nil, "", errors.New("list of the live release: output incomplete")
	}
	end := strings.LastIndex(rest, currentMarker)
	if end < 0 || (end > 0 && rest[end-1] != 0) {
		return nil, "", errors.New("list of the live release: output incomplete")
	}
	list, after := rest[:end], strings.TrimSuffix(rest[end+len(currentMarker):], "\n")
	sums := parseSHA256Sum(hashes)
	var entries []drift.Entry
	f := strings.Split(list, "\x00")
	for i := 0; i+1 < len(f); i += 2 {
		head, target := f[i], f[i+1]
		typ, head, _ := strings.Cut(head, " ")
		mode, head, _ := strings.Cut(head, " ")
		size, path, ok := strings.Cut(head, " ")
		n, merr := strconv.ParseUint(mode, 8, 32)
		sz, serr := strconv.ParseInt(size, 10, 64)
		if !ok || merr != nil || serr != nil {
			return nil, "", fmt.Errorf("list of the live release: bad entry %q", head)
		}
		path = strings.TrimPrefix(path, "./")
		e := drift.Entry{Path: path, Type: drift.Type(typ), Mode: drift.ModeFromOctal(uint32(n))}
		switch e.Type {
		case drift.File:
			e.Size = sz
			e.SHA256 = sums["./"+path]
		case drift.Symlink:
			e.LinkTarget = target
		case drift.Dir:
		default:
			e.Type = drift.Type("o") // a device, fifo or socket: never ours
		}
		entries = append(entries, e)
	}
	return entries, after, nil
}

// exitNoAttestation is readAttestationScript's exit status when the
// release has no attestation file.
const exitNoAttestation = 3

// currentScript prints what current points at ("" when nothing, or no
// deploy path yet).
func currentScript(root string) string {
	return fmt.Sprintf("cd %s 2>/dev/null || exit 0\nreadlink current 2>/dev/null; exit 0", shq(root))
}

// readAttestationScript prints release name's attestation, at most
// attest.MaxSize bytes; exit status exitNoAttestation when there is none.
func readAttestationScript(root, name string) string {
	f := shq(root + "/releases/" + name + "/" + attest.FileName)
	return fmt.Sprintf("[ -f %s ] && [ ! -L %s ] || exit %d\nhead -c %d %s", f, f, exitNoAttestation, attest.MaxSize, f)
}

// Markers in liveTreeScript's output.
const (
	entriesMarker = "-- entries"
	currentMarker = "-- current "
)

// liveTreeScript hashes every file of release name (the deploy's hashing:
// hashSetup, hashFiles) but those whose name holds a newline (openssl does
// not escape names, so such a name could forge another file's hash line;
// no manifest has one, so the file is "added" whatever its content), and
// lists every entry with lstat: "<type> <octal mode>
// <size> <path>" NUL its symlink target NUL, then says what current
// points at once it is done (a switch during the check is not a drift).
func liveTreeScript(root, name string) string {
	return fmt.Sprintf(`cd %s/releases/%s || exit 1
dir=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-drift.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
%s
find . -type f ! -name '*
*' -print0 | %s
status=$?
cat "$dir"/hashes.* 2>/dev/null
echo '%s'
find . -mindepth 1 -print0 | perl -0ne 'chomp; my @s = lstat or next; my $t = -l _ ? "l" : -d _ ? "d" : -f _ ? "f" : "o"; printf "%%s %%04o %%d %%s\0%%s\0", $t, $s[2] & 07777, $s[7], $_, ($t eq "l" ? readlink($_) : "")' || status=1
printf '%%s%%s\n' '%s' "$(readlink %s/current 2>/dev/null)"
exit $status`, shq(root), shq(name), hashSetup, hashFiles(`"$dir"`), entriesMarker, currentMarker, shq(root))
}
