-- WebAuthn credentials (security keys, passkeys) people registered for
-- phishing-resistant approvals (issue 14), by GitHub numeric id. Nothing
-- here is secret: a credential's public key and its id.
CREATE TABLE mfa_credentials (
	credential_id      TEXT PRIMARY KEY,          -- base64url (no padding) of the credential id
	github_id          INTEGER NOT NULL,
	github_login       TEXT NOT NULL,             -- at registration, for display
	name               TEXT NOT NULL,             -- chosen by the owner
	public_key         BLOB NOT NULL,             -- COSE_Key
	aaguid             BLOB NOT NULL,
	sign_count         INTEGER NOT NULL DEFAULT 0,
	backup_eligible    INTEGER NOT NULL DEFAULT 0, -- 0 or 1
	backup_state       INTEGER NOT NULL DEFAULT 0, -- 0 or 1
	transports         TEXT NOT NULL DEFAULT '',  -- space-separated
	attestation_format TEXT NOT NULL DEFAULT '',
	created_at         INTEGER NOT NULL,          -- unix nanoseconds
	last_used_at       INTEGER NOT NULL DEFAULT 0,
	UNIQUE (github_id, name)
);
