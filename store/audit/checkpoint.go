package audit

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tollgate-dev/tollgate/internal/auditproof"
)

// Checkpoint is a signed statement of the log's size and root hash; its
// encoding and verification live in internal/auditproof, which offline
// verifiers (deploy/attest) share without pulling in storage.
type Checkpoint = auditproof.Checkpoint

// Origin is the checkpoint origin line for a key name.
func Origin(keyName string) string { return auditproof.Origin(keyName) }

// FormatCheckpointText is the unsigned body of a checkpoint.
func FormatCheckpointText(origin string, size int64, root tlog.Hash, at time.Time) string {
	return auditproof.FormatText(origin, size, root, at)
}

// OpenCheckpoint verifies a signed checkpoint with the trusted keys (the
// current key and any rotated out, see Keyring) and parses it. It fails
// if no signature is by one of those keys or a signature does not verify,
// or if the origin is not that of the key that signed it.
func OpenCheckpoint(msg []byte, verifiers ...note.Verifier) (Checkpoint, error) {
	return auditproof.OpenCheckpoint(msg, verifiers...)
}

// parseUnverifiedCheckpoint reads a checkpoint's body without checking its
// signature, for printing it next to a proof that check-proof verifies.
func parseUnverifiedCheckpoint(msg []byte) (Checkpoint, error) {
	i := bytes.LastIndex(msg, []byte("\n\n"))
	if i < 0 {
		return Checkpoint{}, fmt.Errorf("checkpoint is not a signed note")
	}
	cp, err := auditproof.ParseText(string(msg[:i+1]))
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
		size, r, err := l.head(ctx, tx, true) // the edge holds every hash a checkpoint reads
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
