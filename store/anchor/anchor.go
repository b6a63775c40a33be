// Package anchor publishes the audit log's signed checkpoints somewhere the
// database's owner cannot rewrite alone (a GitHub repository), and proves
// the local log consistent with every checkpoint published there.
package anchor

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// Receipt says where a checkpoint was published.
type Receipt struct {
	Repository string // "owner/name"
	Path       string // file in the repository
	Commit     string // commit that added it; empty when it was already there
}

// Publisher commits one signed checkpoint to the anchor repository. It
// must be idempotent: publishing a checkpoint already there succeeds.
type Publisher interface {
	Publish(ctx context.Context, cp audit.Checkpoint) (Receipt, error)
}

// Anchorer publishes checkpoints not yet anchored, oldest first, and
// records each publication in the audit log (anchor.published).
type Anchorer struct {
	store    *store.Store
	pub      Publisher
	verifier note.Verifier
	previous []note.Verifier // keys rotated out (TrustPrevious)
	now      func() time.Time
}

// New returns an Anchorer over s. Only checkpoints that verify with
// verifier are published; now may be nil.
func New(s *store.Store, pub Publisher, verifier note.Verifier, now func() time.Time) *Anchorer {
	if now == nil {
		now = time.Now
	}
	return &Anchorer{store: s, pub: pub, verifier: verifier, now: now}
}

// TrustPrevious makes a also publish checkpoints signed by keys rotated
// out (audit.previous_public_key_files), such as the old key's shutdown
// checkpoint when GitHub could not be reached before the rotation.
func (a *Anchorer) TrustPrevious(keys ...note.Verifier) *Anchorer {
	a.previous = append(a.previous, keys...)
	return a
}

// PublishPending publishes every stored checkpoint larger than the last
// anchored one and returns how many it published. It stops at the first
// failure; the next call carries on from there.
func (a *Anchorer) PublishPending(ctx context.Context) (int, error) {
	pending, err := a.pending(ctx)
	if err != nil {
		return 0, err
	}
	for i, cp := range pending {
		rc, err := a.pub.Publish(ctx, cp)
		if err != nil {
			return i, fmt.Errorf("anchoring checkpoint of size %d: %w", cp.Size, err)
		}
		if err := a.record(ctx, cp, rc); err != nil {
			return i, err
		}
	}
	return len(pending), nil
}

// pending reads the checkpoints larger than the last anchored size.
func (a *Anchorer) pending(ctx context.Context) ([]audit.Checkpoint, error) {
	rows, err := a.store.DB().QueryContext(ctx, `SELECT note FROM audit_checkpoints
		WHERE tree_size > (SELECT coalesce(max(tree_size), 0) FROM audit_anchors)
		ORDER BY tree_size, id`)
	if err != nil {
		return nil, fmt.Errorf("reading checkpoints to anchor: %w", err)
	}
	defer rows.Close()
	keys := append([]note.Verifier{a.verifier}, a.previous...)
	rotations, err := audit.Rotations(ctx, a.store.DB(), keys...)
	if err != nil {
		return nil, fmt.Errorf("reading checkpoints to anchor: %w", err)
	}
	var out []audit.Checkpoint
	seen := map[int64]bool{}
	for rows.Next() {
		var msg []byte
		if err := rows.Scan(&msg); err != nil {
			return nil, fmt.Errorf("reading checkpoints to anchor: %w", err)
		}
		cp, err := audit.OpenCheckpoint(msg, keys...)
		if err == nil {
			// A retired key's signature after its rotation is a forgery.
			err = audit.CheckKeyAt(rotations, cp)
		}
		if err != nil {
			// Never publish what does not verify: it would anchor a forgery.
			return nil, fmt.Errorf("checkpoint to anchor does not verify: %w", err)
		}
		if !seen[cp.Size] {
			seen[cp.Size] = true
			out = append(out, cp)
		}
	}
	return out, rows.Err()
}

// record stores the publication and audits it in one transaction.
func (a *Anchorer) record(ctx context.Context, cp audit.Checkpoint, rc Receipt) error {
	root := base64.StdEncoding.EncodeToString(cp.Root[:])
	err := a.store.WithTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_anchors (tree_size, root, repository, path, commit_sha, published_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tree_size) DO NOTHING`, cp.Size, root, rc.Repository, rc.Path, rc.Commit, a.now().UTC().UnixNano()); err != nil {
			return err
		}
		_, err := a.store.Audit().Append(ctx, tx, audit.Event{Actor: "tollgate", Action: bot.ActionAnchorPublished,
			Subject: rc.Repository + ":" + rc.Path, Data: map[string]any{
				"size": cp.Size, "root": root, "path": rc.Path, "commit": rc.Commit, "repository": rc.Repository,
				"signed_at": cp.Time}})
		return err
	})
	if err != nil {
		return fmt.Errorf("recording the anchor of checkpoint %d in %s: %w", cp.Size, rc.Path, err)
	}
	return nil
}

// PublisherFunc adapts a function to Publisher (the wiring adapts the
// GitHub contents-API publisher with it).
type PublisherFunc func(ctx context.Context, cp audit.Checkpoint) (Receipt, error)

// Publish implements Publisher.
func (f PublisherFunc) Publish(ctx context.Context, cp audit.Checkpoint) (Receipt, error) {
	return f(ctx, cp)
}
