package audit

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is a signed statement of the log's size and root hash. Its
// note text follows the C2SP tlog-checkpoint layout:
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
	// empty on a checkpoint read unverified (LatestCheckpoint).
	Key, KeyName string
}

// Origin is the checkpoint origin line for a key name.
func Origin(keyName string) string { return "tollgate/" + keyName }

// FormatCheckpointText is the unsigned body of a checkpoint.
func FormatCheckpointText(origin string, size int64, root tlog.Hash, at time.Time) string {
	return fmt.Sprintf("%s\n%d\n%s\ntimestamp %s\n", origin, size,
		base64.StdEncoding.EncodeToString(root[:]), at.UTC().Format(time.RFC3339Nano))
}

// parseCheckpointText reads the body written by FormatCheckpointText.
func parseCheckpointText(text string) (Checkpoint, error) {
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

// OpenCheckpoint verifies a signed checkpoint with the trusted keys (the
// current key and any rotated out, see Keyring) and parses it. It fails
// if no signature is by one of those keys or a signature does not verify,
// or if the origin is not that of the key that signed it.
func OpenCheckpoint(msg []byte, verifiers ...note.Verifier) (Checkpoint, error) {
	keys := Keyring(verifiers).Unique()
	if len(keys) == 0 {
		return Checkpoint{}, errNoKeys
	}
	n, err := note.Open(msg, note.VerifierList(keys...))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return Checkpoint{}, errors.New(keys.notSignedBy(unverified.Note))
		}
		return Checkpoint{}, fmt.Errorf("signature check failed: %w", err)
	}
	cp, err := parseCheckpointText(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	// Each key signs under its own origin, so a checkpoint cannot be
	// passed off as another key's.
	var want []string
	for _, sig := range n.Sigs {
		if cp.Origin == Origin(sig.Name) {
			cp.Key, cp.KeyName = fmt.Sprintf("%s+%08x", sig.Name, sig.Hash), sig.Name
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

func signerNames(n *note.Note) string {
	var names []string
	for _, s := range n.UnverifiedSigs {
		names = append(names, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// parseUnverifiedCheckpoint reads a checkpoint's body without checking its
// signature, for printing it next to a proof that check-proof verifies.
func parseUnverifiedCheckpoint(msg []byte) (Checkpoint, error) {
	i := bytes.LastIndex(msg, []byte("\n\n"))
	if i < 0 {
		return Checkpoint{}, fmt.Errorf("checkpoint is not a signed note")
	}
	cp, err := parseCheckpointText(string(msg[:i+1]))
	if err != nil {
		return Checkpoint{}, err
	}
	cp.Note = msg
	return cp, nil
}

// ErrNoSigner is returned by Checkpoint on a log opened without a signing key.
var ErrNoSigner = errors.New("audit log has no signing key")

// Checkpoint signs and stores a checkpoint of the current log, unless the
// latest checkpoint already covers every entry, in which case it returns
// that one. On an empty log it returns the zero Checkpoint and writes nothing.
// Call it on clean shutdown so the signed head covers the whole log.
func (l *Log) Checkpoint(ctx context.Context) (Checkpoint, error) {
	if l.opts.Signer == nil {
		return Checkpoint{}, ErrNoSigner
	}
	var cp Checkpoint
	err := l.opts.RunTx(ctx, func(tx *sql.Tx) error {
		size, r, err := l.head(ctx, tx)
		if err != nil || size == 0 {
			return err
		}
		latest, ok, err := latestCheckpoint(ctx, tx)
		if err != nil {
			return err
		}
		if ok && latest.Size == size {
			cp = latest
			return nil
		}
		cp, err = l.writeCheckpoint(ctx, tx, size, r)
		return err
	})
	if err != nil {
		return Checkpoint{}, fmt.Errorf("write audit checkpoint: %w", err)
	}
	return cp, nil
}

// writeCheckpoint signs the tree of the given size with the log's signer
// and stores the note in tx.
func (l *Log) writeCheckpoint(ctx context.Context, tx *sql.Tx, size int64, r tlog.HashReader) (Checkpoint, error) {
	if l.opts.Signer == nil {
		return Checkpoint{}, ErrNoSigner
	}
	return l.signCheckpoint(ctx, tx, l.opts.Signer, size, r)
}

// signCheckpoint signs the tree of the given size with signer, which must
// be the log's active key (checkActive), and stores the note in tx.
func (l *Log) signCheckpoint(ctx context.Context, tx *sql.Tx, signer note.Signer, size int64, r tlog.HashReader) (Checkpoint, error) {
	if err := checkActive(ctx, tx, signer); err != nil {
		return Checkpoint{}, fmt.Errorf("audit checkpoint at size %d: %w", size, err)
	}
	root, err := tlog.TreeHash(size, r)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit checkpoint at size %d: tree hash: %w", size, err)
	}
	at := l.opts.Now().UTC()
	text := FormatCheckpointText(Origin(signer.Name()), size, root, at)
	msg, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit checkpoint at size %d: sign: %w", size, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_checkpoints (tree_size, signed_at, note) VALUES (?, ?, ?)`,
		size, at.Format(time.RFC3339Nano), string(msg)); err != nil {
		return Checkpoint{}, fmt.Errorf("audit checkpoint at size %d: store: %w", size, err)
	}
	return Checkpoint{Origin: Origin(signer.Name()), Size: size, Root: root, Time: at, Note: msg,
		Key: keyID(signer), KeyName: signer.Name()}, nil
}

// LatestCheckpoint returns the most recent stored checkpoint, unverified
// (OpenCheckpoint verifies one); ok is false when there is none.
func (l *Log) LatestCheckpoint(ctx context.Context) (cp Checkpoint, ok bool, err error) {
	return latestCheckpoint(ctx, l.db)
}

func latestCheckpoint(ctx context.Context, q queryer) (Checkpoint, bool, error) {
	var msg string
	err := q.QueryRowContext(ctx, `SELECT note FROM audit_checkpoints ORDER BY tree_size DESC, id DESC LIMIT 1`).Scan(&msg)
	if err == sql.ErrNoRows {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("read latest audit checkpoint: %w", err)
	}
	cp, err := parseUnverifiedCheckpoint([]byte(msg))
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("read latest audit checkpoint: %w", err)
	}
	return cp, true, nil
}
