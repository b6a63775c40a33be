package audit

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// A key rotation hands checkpoint signing from one audit key to the next
// at a tree size N: the retiring key signs a final checkpoint of size N,
// entry N (action ActionKeyRotated) carries a handover note signed by both
// keys naming them, N and the tree root at N, and the successor signs the
// checkpoint of size N+1. From then on the retiring key is valid only for
// checkpoints of size ≤ N: Verify fails a later one, naming the key. The
// note needs both signatures, so a holder of a leaked old key can neither
// retire the successor nor hand back to itself.

// ActionKeyRotated is the action of a key rotation entry.
const ActionKeyRotated = "audit.key_rotated"

// RotationSubject is the subject of every key rotation entry, so the
// rotations are found through the subject index.
const RotationSubject = "audit/signing-key"

const handoverHeader = "tollgate audit key rotation"

// Handover is a verified key rotation: Retired signed checkpoints up to
// tree size Size, Successor from Size+1 on.
type Handover struct {
	Retired, Successor string // "name+hash"
	Size               int64  // the rotation entry's seq
	Root               tlog.Hash
	Time               time.Time
}

// rotationData is the data of a key rotation entry; Note is the handover
// note, signed by both keys, and the other fields repeat what it says.
type rotationData struct {
	Note      string `json:"handover"`
	Retired   string `json:"retired_key"`
	Successor string `json:"successor_key"`
	Size      int64  `json:"tree_size"`
}

func formatHandover(h Handover) string {
	return fmt.Sprintf("%s\nretired %s\nsuccessor %s\ntree-size %d\nroot %s\ntimestamp %s\n", handoverHeader,
		h.Retired, h.Successor, h.Size, base64.StdEncoding.EncodeToString(h.Root[:]), h.Time.UTC().Format(time.RFC3339Nano))
}

// openHandover checks a rotation entry's data: the note is signed by both
// the keys it names, each one trusted, and the data repeats the note.
func openHandover(data []byte, keys Keyring) (Handover, error) {
	var d rotationData
	if err := json.Unmarshal(data, &d); err != nil {
		return Handover{}, fmt.Errorf("data is not a key rotation: %w", err)
	}
	n, err := note.Open([]byte(d.Note), note.VerifierList(keys...))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return Handover{}, fmt.Errorf("handover note %s", keys.notSignedBy(unverified.Note))
		}
		return Handover{}, fmt.Errorf("handover note: %w", err)
	}
	h, err := parseHandover(n.Text)
	if err != nil {
		return Handover{}, err
	}
	signed := map[string]bool{}
	for _, s := range n.Sigs {
		signed[fmt.Sprintf("%s+%08x", s.Name, s.Hash)] = true
	}
	switch {
	case h.Retired == h.Successor:
		return Handover{}, fmt.Errorf("handover note retires key %s in favour of itself", h.Retired)
	case !signed[h.Retired]:
		return Handover{}, fmt.Errorf("handover note is not signed by the retiring key %s with a trusted public key", h.Retired)
	case !signed[h.Successor]:
		return Handover{}, fmt.Errorf("handover note is not signed by the successor key %s with a trusted public key (give its public key)", h.Successor)
	case d.Retired != h.Retired || d.Successor != h.Successor || d.Size != h.Size:
		return Handover{}, fmt.Errorf("entry data (retired %s, successor %s, tree size %d) differs from the signed handover note (%s, %s, %d)",
			d.Retired, d.Successor, d.Size, h.Retired, h.Successor, h.Size)
	}
	return h, nil
}

func parseHandover(text string) (Handover, error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	var h Handover
	field := func(i int, key string) (string, bool) {
		if i >= len(lines) {
			return "", false
		}
		return strings.CutPrefix(lines[i], key+" ")
	}
	retired, ok1 := field(1, "retired")
	successor, ok2 := field(2, "successor")
	size, ok3 := field(3, "tree-size")
	root, ok4 := field(4, "root")
	ts, ok5 := field(5, "timestamp")
	if len(lines) != 6 || lines[0] != handoverHeader || !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return Handover{}, fmt.Errorf("handover note is not a %q", handoverHeader)
	}
	var err error
	h.Retired, h.Successor = retired, successor
	if h.Size, err = strconv.ParseInt(size, 10, 64); err != nil || h.Size < 0 {
		return Handover{}, fmt.Errorf("handover note tree size %q is not a number", size)
	}
	raw, err := base64.StdEncoding.DecodeString(root)
	if err != nil || len(raw) != tlog.HashSize {
		return Handover{}, fmt.Errorf("handover note root %q is not a base64 SHA-256 hash", root)
	}
	copy(h.Root[:], raw)
	if h.Time, err = time.Parse(time.RFC3339Nano, ts); err != nil {
		return Handover{}, fmt.Errorf("handover note timestamp %q is malformed", ts)
	}
	return h, nil
}

// Rotate hands signing over from the log's signer to next, in one
// transaction: a final checkpoint by the current signer covering every
// entry (unless one exists), the rotation entry with the handover note
// signed by both, and a checkpoint by next covering the rotation entry.
// The log's signer must be the active key. After Rotate, reopen the store
// with next: this Log refuses to sign again.
func (l *Log) Rotate(ctx context.Context, next note.Signer) (Handover, error) {
	cur := l.opts.Signer
	if cur == nil || next == nil {
		return Handover{}, fmt.Errorf("rotate audit key: %w", ErrNoSigner)
	}
	var h Handover
	err := l.opts.RunTx(ctx, func(tx *sql.Tx) error {
		size, r, err := l.head(ctx, tx, true) // the edge holds every hash a checkpoint reads
		if err != nil {
			return err
		}
		if size > 0 {
			latest, ok, err := latestCheckpoint(ctx, tx)
			if err != nil {
				return err
			}
			if !ok || latest.Size != size {
				if _, err := l.signCheckpoint(ctx, tx, cur, size, r); err != nil {
					return err
				}
			} else if err := checkActive(ctx, tx, cur); err != nil {
				return err
			}
		}
		h = Handover{Retired: keyID(cur), Successor: keyID(next), Size: size, Time: l.opts.Now().UTC()}
		if h.Retired == h.Successor {
			return fmt.Errorf("the new key %s is the key in use", h.Successor)
		}
		if err := checkNeverRetired(ctx, tx, h.Successor); err != nil {
			return err
		}
		if h.Root, err = tlog.TreeHash(size, r); err != nil {
			return fmt.Errorf("tree hash at size %d: %w", size, err)
		}
		msg, err := note.Sign(&note.Note{Text: formatHandover(h)}, cur, next)
		if err != nil {
			return fmt.Errorf("sign handover: %w", err)
		}
		ev := Event{Actor: "tollgate", Action: ActionKeyRotated, Subject: RotationSubject,
			Data: rotationData{Note: string(msg), Retired: h.Retired, Successor: h.Successor, Size: size}}
		if _, err := l.appendEntries(ctx, tx, []Event{ev}, size, r); err != nil {
			return err
		}
		_, err = l.signCheckpoint(ctx, tx, next, size+1, r)
		return err
	})
	if err != nil {
		return Handover{}, fmt.Errorf("rotate audit key: %w", err)
	}
	return h, nil
}

// checkNeverRetired refuses to hand over to a key retired before: a
// retired key stays retired, so a signature by it after its rotation is a
// forgery whatever came later.
func checkNeverRetired(ctx context.Context, q queryer, key string) error {
	rows, err := q.QueryContext(ctx, `SELECT seq, data FROM audit_entries WHERE subject = ? AND action = ? ORDER BY seq`,
		RotationSubject, ActionKeyRotated)
	if err != nil {
		return fmt.Errorf("read audit key rotations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var data []byte
		var d rotationData
		if err := rows.Scan(&seq, &data); err != nil {
			return fmt.Errorf("read audit key rotations: %w", err)
		}
		if json.Unmarshal(data, &d) == nil && d.Retired == key {
			return fmt.Errorf("key %s was retired at tree size %d and may not sign again: make a new key", key, seq)
		}
	}
	return rows.Err()
}

// ActiveKey is the key ("name+hash") that may sign the next checkpoint:
// the successor of the latest key rotation, else the key of the first
// checkpoint; "" when neither exists (any key may start the log). It reads
// what is stored without verifying it; Verify is the check.
func (l *Log) ActiveKey(ctx context.Context) (string, error) { return activeKey(ctx, l.db) }

func activeKey(ctx context.Context, q queryer) (string, error) {
	var data []byte
	err := q.QueryRowContext(ctx, `SELECT data FROM audit_entries WHERE subject = ? AND action = ? ORDER BY seq DESC LIMIT 1`,
		RotationSubject, ActionKeyRotated).Scan(&data)
	switch {
	case err == nil:
		var d rotationData
		if err := json.Unmarshal(data, &d); err != nil {
			return "", fmt.Errorf("read the latest audit key rotation: %w", err)
		}
		return d.Successor, nil
	case !errors.Is(err, sql.ErrNoRows):
		return "", fmt.Errorf("read the latest audit key rotation: %w", err)
	}
	var msg []byte
	err = q.QueryRowContext(ctx, `SELECT note FROM audit_checkpoints ORDER BY id LIMIT 1`).Scan(&msg)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the first audit checkpoint: %w", err)
	}
	_, err = note.Open(msg, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if !errors.As(err, &unverified) || len(unverified.Note.UnverifiedSigs) == 0 {
		return "", fmt.Errorf("read the first audit checkpoint: not a signed note")
	}
	s := unverified.Note.UnverifiedSigs[0]
	return fmt.Sprintf("%s+%08x", s.Name, s.Hash), nil
}

// ErrKeyNotActive is returned when a key that is not the log's active key
// (a retired one, or one no rotation introduced) is asked to sign.
var ErrKeyNotActive = errors.New("not the audit log's active signing key")

// checkActive refuses a signer other than the active key.
func checkActive(ctx context.Context, q queryer, s note.Signer) error {
	active, err := activeKey(ctx, q)
	if err != nil {
		return err
	}
	if active != "" && active != keyID(s) {
		return fmt.Errorf("key %s: %w (%s); a new key signs only after a key rotation (`tollgate audit rotate`)",
			keyID(s), ErrKeyNotActive, active)
	}
	return nil
}

// CheckSigner reports whether the log's signer may sign: it is the active
// key (ActiveKey), or the log has no checkpoint yet. A store opened with a
// retired key, or with a new key before the rotation, fails here.
func (l *Log) CheckSigner(ctx context.Context) error {
	if l.opts.Signer == nil {
		return nil
	}
	if err := checkActive(ctx, l.db, l.opts.Signer); err != nil {
		return fmt.Errorf("audit signing %w", err)
	}
	return nil
}

// Rotations returns the key rotations of the log, in order, each verified
// with keys (its handover note signed by both keys it names). It does not
// check the log around them; Verify does.
func Rotations(ctx context.Context, db *sql.DB, keys ...note.Verifier) ([]Handover, error) {
	ring := Keyring(keys).Unique()
	rows, err := db.QueryContext(ctx, `SELECT seq, data FROM audit_entries WHERE subject = ? AND action = ? ORDER BY seq`,
		RotationSubject, ActionKeyRotated)
	if err != nil {
		return nil, fmt.Errorf("read audit key rotations: %w", err)
	}
	defer rows.Close()
	var out []Handover
	for rows.Next() {
		var seq int64
		var data []byte
		if err := rows.Scan(&seq, &data); err != nil {
			return nil, fmt.Errorf("read audit key rotations: %w", err)
		}
		h, err := OpenRotation(seq, data, ring...)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit key rotations: %w", err)
	}
	return out, nil
}

// KeyAt is the key that may sign a checkpoint of tree size size, by the
// rotations in log order: the successor of the last rotation inside the
// tree (seq < size), else the first rotation's retiring key; "" when there
// are no rotations.
func KeyAt(rotations []Handover, size int64) string {
	key := ""
	for i, h := range rotations {
		switch {
		case i == 0 && h.Size >= size:
			return h.Retired
		case h.Size < size:
			key = h.Successor
		}
	}
	return key
}

// CheckKeyAt fails a checkpoint whose key may not sign at its size
// (KeyAt): a key retired before it, or one not yet introduced. rotations
// must be all of the log's, in order.
func CheckKeyAt(rotations []Handover, cp Checkpoint) error {
	if err := CheckNotRetired(rotations, cp); err != nil {
		return err
	}
	if want := KeyAt(rotations, cp.Size); want != "" && want != cp.Key {
		return fmt.Errorf("checkpoint of tree size %d is signed by key %s, but the active key at that size is %s", cp.Size, cp.Key, want)
	}
	return nil
}

// CheckNotRetired fails a checkpoint signed by a key that one of rotations
// retired before the checkpoint's size. A retired key is never active
// again, so any subset of the log's rotations (those in an exported
// range, say) suffices to catch it.
func CheckNotRetired(rotations []Handover, cp Checkpoint) error {
	for _, h := range rotations {
		if h.Retired == cp.Key && h.Size < cp.Size {
			return fmt.Errorf("checkpoint of tree size %d is signed by key %s, retired at tree size %d (key rotation to %s)",
				cp.Size, cp.Key, h.Size, h.Successor)
		}
	}
	return nil
}

// OpenRotation verifies the data of the key rotation entry seq with keys
// (Rotate's handover note, signed by both keys it names, for tree size seq).
func OpenRotation(seq int64, data []byte, keys ...note.Verifier) (Handover, error) {
	h, err := openHandover(data, Keyring(keys).Unique())
	if err == nil && h.Size != seq {
		err = fmt.Errorf("handover note names tree size %d", h.Size)
	}
	if err != nil {
		return Handover{}, fmt.Errorf("audit key rotation at seq %d: %w", seq, err)
	}
	return h, nil
}
