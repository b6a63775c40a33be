package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// AttestationFile is where a release's deployment attestation lives,
// relative to the release directory (attest.FileName): inside ReservedDir,
// which no source may hold, so only Tollgate writes it.
const AttestationFile = ReservedDir + "/attestation.dsse.json"

// maxAttestationSize bounds what WriteAttestation sends (attest.MaxSize).
const maxAttestationSize = 16 << 20

// ServerWrite is the outcome of writing a file on one server.
type ServerWrite struct {
	Server string // host:port
	Err    error  // nil when the file is in place
}

// WriteAttestation writes envelope to releases/<release>/AttestationFile
// on every server of t, in parallel, and returns each server's outcome in
// the order of t.Servers. The content travels on standard input (never in
// a command line) into a temporary file beside the target, which is
// checked against envelope's SHA-256 and size, made read-only (0444) and
// renamed over the target: a reader sees the old file or the new one,
// never part of one. Writing the same envelope again is harmless.
func (e *Engine) WriteAttestation(ctx context.Context, t Target, release string, envelope []byte) []ServerWrite {
	out := make([]ServerWrite, len(t.Servers))
	for i, s := range t.Servers {
		out[i].Server = s.Addr()
	}
	failAll := func(err error) []ServerWrite {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	t, err := t.validate()
	if err != nil {
		return failAll(fmt.Errorf("write attestation of release %q: %w", release, err))
	}
	if !releaseNameRe.MatchString(release) {
		return failAll(fmt.Errorf("write attestation: invalid release name %q", release))
	}
	if len(envelope) == 0 || len(envelope) > maxAttestationSize {
		return failAll(fmt.Errorf("write attestation of release %q: %d bytes (want 1 to %d)", release, len(envelope), maxAttestationSize))
	}
	o := e.newOp(t, nil, release)
	defer o.close()
	sum := sha256.Sum256(envelope)
	script := func(root string) string {
		return writeAttestationScript(root, release, o.token, hex.EncodeToString(sum[:]), len(envelope))
	}
	_ = o.each(ctx, "write_attestation", nil, func(ctx context.Context, r *serverRun) error {
		c, err := dial(ctx, o.t, r.srv)
		if err != nil {
			return err
		}
		r.conn = c
		return c.run(ctx, script(r.root), bytes.NewReader(envelope), nil, nil)
	})
	for i, r := range o.runs {
		if r.res.Error != "" {
			out[i].Err = fmt.Errorf("write attestation of release %s: %s", release, r.res.Error)
		}
	}
	return out
}

// writeAttestationScript writes standard input to the release's
// attestation file: refused when the release is incomplete or its
// .tollgate is not a real directory; written to a temporary name, checked
// (size and SHA-256), made read-only and renamed into place.
func writeAttestationScript(root, release, token, sha256hex string, size int) string {
	dir := "releases/" + release + "/" + ReservedDir
	tmp := dir + "/.attestation.tmp-" + token
	final := "releases/" + release + "/" + AttestationFile
	return fmt.Sprintf(`cd %s || exit 1
if [ ! -d releases/%s ] || [ -L releases/%s ] || [ ! -f .tollgate/%s/manifest ]; then printf 'release %%s is not complete on this server\n' %s >&2; exit 1; fi
d=%s
if [ -L "$d" ] || { [ -e "$d" ] && [ ! -d "$d" ]; }; then printf '%%s is not a directory\n' "$d" >&2; exit 1; fi
mkdir -p "$d" || exit 1
tmp=%s
cat > "$tmp" || { rm -f "$tmp"; exit 1; }
hash='sha256sum'
command -v openssl >/dev/null 2>&1 && hash='openssl dgst -sha256 -r'
got=$($hash < "$tmp" | cut -c1-64)
n=$(wc -c < "$tmp")
if [ "$got" != %s ] || [ "$n" -ne %d ]; then rm -f "$tmp"; printf 'attestation arrived damaged (%%s bytes, sha256 %%s)\n' "$n" "$got" >&2; exit 1; fi
chmod 0444 "$tmp" && mv -f "$tmp" %s || { rm -f "$tmp"; exit 1; }`,
		shq(root), shq(release), shq(release), shq(release), shq(release),
		shq(dir), shq(tmp), shq(sha256hex), size, shq(final))
}
