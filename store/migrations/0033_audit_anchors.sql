-- Signed checkpoints committed to the external anchor repository.
CREATE TABLE audit_anchors (
	tree_size    INTEGER PRIMARY KEY,
	root         TEXT NOT NULL, -- base64
	repository   TEXT NOT NULL,
	path         TEXT NOT NULL,
	commit_sha   TEXT NOT NULL,
	published_at INTEGER NOT NULL -- unix nanoseconds
);
