package auditproof

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is a signed statement of the audit log's size and root hash.
// Its note text follows the C2SP tlog-checkpoint layout:
//
//	tollgate/<key name>
//	<tree size>
//	<base64 root hash>
//	timestamp <RFC 3339 UTC>
//
// followed by the ed25519 note signature.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
	Time   time.Time
	Note   []byte // the signed note, verbatim
	// Key ("name+hash") and KeyName name the key that signed it: the
	// trusted key OpenCheckpoint verified, or the signer that wrote it;
	// empty on a checkpoint read unverified.
	Key, KeyName string
}

// Origin is the checkpoint origin line for a key name.
func Origin(keyName string) string { return "tollgate/" + keyName }

// ErrNoKeys fails a check closed when no key is trusted at all.
var ErrNoKeys = errors.New("no audit public key to verify with")

// FormatText is the unsigned body of a checkpoint.
func FormatText(origin string, size int64, root tlog.Hash, at time.Time) string {
	return fmt.Sprintf("%s\n%d\n%s\ntimestamp %s\n", origin, size,
		base64.StdEncoding.EncodeToString(root[:]), at.UTC().Format(time.RFC3339Nano))
}

// OpenCheckpoint verifies a signed checkpoint with the trusted keys (the
// current audit key and any rotated out) and parses it. It fails if no
// signature is by one of those keys or a signature does not verify, or if
// the origin is not that of the key that signed it, so a checkpoint cannot
// be passed off as another key's.
func OpenCheckpoint(msg []byte, verifiers ...note.Verifier) (Checkpoint, error) {
	keys := Unique(verifiers)
	if len(keys) == 0 {
		return Checkpoint{}, ErrNoKeys
	}
	n, err := note.Open(msg, note.VerifierList(keys...))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return Checkpoint{}, errors.New(NotSignedBy(keys, unverified.Note))
		}
		return Checkpoint{}, fmt.Errorf("signature check failed: %w", err)
	}
	cp, err := ParseText(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	var want []string
	for _, sig := range n.Sigs {
		if cp.Origin == Origin(sig.Name) {
			cp.Key, cp.KeyName = keyID(sig.Name, sig.Hash), sig.Name
			break
		}
		want = append(want, strconv.Quote(Origin(sig.Name)))
	}
	if cp.Key == "" {
		return Checkpoint{}, fmt.Errorf("checkpoint origin %q, want %s", cp.Origin, strings.Join(want, " or "))
	}
	cp.Note = msg
	return cp, nil
}

// ParseText reads the unsigned body written by FormatText.
func ParseText(text string) (Checkpoint, error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 4 {
		return Checkpoint{}, fmt.Errorf("checkpoint has %d lines, want 4", len(lines))
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return Checkpoint{}, fmt.Errorf("checkpoint tree size %q is not a number", lines[1])
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		return Checkpoint{}, fmt.Errorf("checkpoint root hash %q is not a base64 SHA-256 hash", lines[2])
	}
	ts, ok := strings.CutPrefix(lines[3], "timestamp ")
	at, err := time.Parse(time.RFC3339Nano, ts)
	if !ok || err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint timestamp line %q is malformed", lines[3])
	}
	cp := Checkpoint{Origin: lines[0], Size: size, Time: at}
	copy(cp.Root[:], raw)
	return cp, nil
}

// CheckInclusion verifies that e is leaf e.Seq of the tree cp signed.
func CheckInclusion(e Entry, proof tlog.RecordProof, cp Checkpoint) error {
	if e.Seq < 0 || e.Seq >= cp.Size {
		return fmt.Errorf("audit entry seq %d is beyond the checkpoint's tree size %d", e.Seq, cp.Size)
	}
	if err := tlog.CheckRecord(proof, cp.Size, cp.Root, e.Seq, e.LeafHash()); err != nil {
		return fmt.Errorf("audit entry seq %d is not in the tree of size %d signed by %s: %w", e.Seq, cp.Size, cp.Key, err)
	}
	return nil
}

// KeyID names a key as a signature does: "name+hash".
func KeyID(v note.Verifier) string { return keyID(v.Name(), v.KeyHash()) }

func keyID(name string, hash uint32) string { return fmt.Sprintf("%s+%08x", name, hash) }

// Unique drops nil and repeated keys (the same name and hash, such as the
// signing key's public key listed twice): note.VerifierList refuses two
// verifiers for one signature as ambiguous.
func Unique(vs []note.Verifier) []note.Verifier {
	out := make([]note.Verifier, 0, len(vs))
	seen := map[string]bool{}
	for _, v := range vs {
		if v == nil || seen[KeyID(v)] {
			continue
		}
		seen[KeyID(v)] = true
		out = append(out, v)
	}
	return out
}

// NotSignedBy explains a note none of the keys signed.
func NotSignedBy(keys []note.Verifier, n *note.Note) string {
	trusted := make([]string, len(keys))
	for i, v := range keys {
		trusted[i] = KeyID(v)
	}
	sigs := make([]string, 0, len(n.UnverifiedSigs))
	for _, s := range n.UnverifiedSigs {
		sigs = append(sigs, keyID(s.Name, s.Hash))
	}
	if len(sigs) == 0 {
		sigs = append(sigs, "none")
	}
	if len(keys) == 1 {
		return fmt.Sprintf("not signed by key %s (signatures: %s)", trusted[0], strings.Join(sigs, ", "))
	}
	return fmt.Sprintf("not signed by any trusted key (trusted: %s; signatures: %s)",
		strings.Join(trusted, ", "), strings.Join(sigs, ", "))
}
