-- PostgreSQL twin of ../0033_audit_anchors.sql.
-- Signed checkpoints committed to the external anchor repository.
CREATE TABLE audit_anchors (
	tree_size    BIGINT PRIMARY KEY,
	root         TEXT NOT NULL, -- base64
	repository   TEXT NOT NULL,
	path         TEXT NOT NULL,
	commit_sha   TEXT NOT NULL,
	published_at BIGINT  NOT NULL -- unix nanoseconds
);
