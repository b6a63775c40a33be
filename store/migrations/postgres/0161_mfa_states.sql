-- PostgreSQL twin of ../0161_mfa_states.sql.
-- One-time secrets of the security key pages (issue 14): links handed out
-- in Slack (register a key, confirm an emergency change) and the WebAuthn
-- ceremonies a page started, with the relying party's session state and
-- what the challenge is bound to. Only a SHA-256 of each secret is stored;
-- each is used once.
CREATE TABLE mfa_states (
	key_hash       TEXT PRIMARY KEY,           -- hex SHA-256 of the secret handed out
	kind           TEXT NOT NULL,
	chat_workspace TEXT NOT NULL DEFAULT '',   -- the chat user a link was minted for
	chat_user      TEXT NOT NULL DEFAULT '',
	github_id      BIGINT NOT NULL DEFAULT 0,  -- the person a ceremony was started for
	subject        TEXT NOT NULL DEFAULT '',   -- the request, or the ask, it is about
	data           TEXT NOT NULL DEFAULT '',   -- JSON: ceremony session and challenge, or the command
	created_at     BIGINT NOT NULL,            -- unix nanoseconds
	expires_at     BIGINT NOT NULL,
	used_at        BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX mfa_states_expiry ON mfa_states (expires_at);
