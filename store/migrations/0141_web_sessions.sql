-- Signed-in browsers of the web pages, shared by every replica so a user
-- signed in on one stays signed in on another. key is the SHA-256 of the
-- cookie value (the table holds no usable cookie); sealed_token is the
-- user's GitHub token sealed with a key derived from the OAuth client
-- secret (integrations/web), useless without the configuration.
CREATE TABLE web_sessions (
	key          TEXT PRIMARY KEY,
	login        TEXT NOT NULL,
	github_id    INTEGER NOT NULL,
	role         TEXT NOT NULL,
	sealed_token BLOB NOT NULL,
	created_at   INTEGER NOT NULL, -- unix nanoseconds
	last_seen_at INTEGER NOT NULL,
	checked_at   INTEGER NOT NULL
);
CREATE INDEX web_sessions_last_seen ON web_sessions (last_seen_at);

-- Deployment logs (hook output, redacted by deploy, and the file manifest),
-- in chunks appended as the deploy runs, readable by every replica.
CREATE TABLE deploy_logs (
	request_id TEXT NOT NULL,
	chunk      INTEGER NOT NULL,
	at         INTEGER NOT NULL, -- unix nanoseconds
	data       BLOB NOT NULL,
	PRIMARY KEY (request_id, chunk)
);
