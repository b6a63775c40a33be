-- PostgreSQL twin of ../0020_oauth_states.sql.
-- One-time secrets of the Slack → GitHub linking flow: the link handed to a
-- Slack user (kind 'link') and the OAuth state of the web flow it starts
-- (kind 'flow'). Only a SHA-256 of each secret is stored; each is used once.
CREATE TABLE oauth_states (
	key_hash     TEXT PRIMARY KEY,      -- hex SHA-256 of the secret handed out
	kind         TEXT NOT NULL CHECK (kind IN ('link', 'flow')),
	slack_team   TEXT NOT NULL,
	slack_user   TEXT NOT NULL,
	verifier     TEXT NOT NULL DEFAULT '', -- PKCE code verifier (flow)
	browser_hash TEXT NOT NULL DEFAULT '', -- hex SHA-256 of the browser-binding cookie (flow)
	created_at   BIGINT  NOT NULL,      -- unix nanoseconds
	expires_at   BIGINT  NOT NULL,      -- unix nanoseconds
	used_at      BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);
