-- Deployment attestations (docs/attestation.md): the signed DSSE envelope
-- of every release that went live, one per request. A row is written once
-- the envelope is signed; written_at is set (with the release.attested
-- audit entry's seq, in the same transaction) once it is on every server.
CREATE TABLE attestations (
	request_id   TEXT PRIMARY KEY,
	repo         TEXT NOT NULL,
	environment  TEXT NOT NULL,
	release_name TEXT NOT NULL,
	digest       TEXT NOT NULL, -- "sha256:<hex>" of envelope
	envelope     BLOB NOT NULL,
	signed_at    INTEGER NOT NULL, -- unix nanoseconds
	written_at   INTEGER NOT NULL DEFAULT 0, -- 0 until it is on every server
	audit_seq    INTEGER NOT NULL DEFAULT 0  -- the release.attested entry, once written
);
CREATE INDEX attestations_release ON attestations (repo, environment, release_name);
