-- The audit log: an RFC 6962 Merkle tree over the entries (store/audit).
-- seq is the leaf index in the tree and starts at 0.
CREATE TABLE audit_entries (
	seq         INTEGER PRIMARY KEY,
	at          TEXT NOT NULL,    -- UTC, RFC 3339 with nanoseconds
	actor       TEXT NOT NULL,
	action      TEXT NOT NULL,
	subject     TEXT NOT NULL,
	data        TEXT NOT NULL,    -- canonical JSON (sorted keys, no whitespace)
	leaf_hash   BLOB NOT NULL,    -- tlog.RecordHash(leaf bytes) = tree stored hash at level 0
	tree_hashes BLOB NOT NULL     -- the interior hashes this leaf completed, 32 bytes each, level 1 up
);

-- Signed checkpoints: a signed note naming the tree size and root hash.
CREATE TABLE audit_checkpoints (
	id         INTEGER PRIMARY KEY,
	tree_size  INTEGER NOT NULL,
	signed_at  TEXT NOT NULL,
	note       TEXT NOT NULL     -- the signed note verbatim
);
CREATE INDEX audit_checkpoints_size ON audit_checkpoints (tree_size);

CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
