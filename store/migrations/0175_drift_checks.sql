-- Drift checks (issue 13): every check of an environment's servers
-- against the release Tollgate put live there, with what it found. The
-- last check of each environment feeds the environments page and doctor;
-- alerted_at deduplicates the Slack alert of one finding durably.
CREATE TABLE drift_checks (
	id              INTEGER PRIMARY KEY,
	repo            TEXT NOT NULL,
	environment     TEXT NOT NULL,
	checked_at      INTEGER NOT NULL,            -- unix nanoseconds
	request_id      TEXT NOT NULL DEFAULT '',    -- the request that put the expected release live
	release_name    TEXT NOT NULL DEFAULT '',    -- the release Tollgate put live
	manifest_digest TEXT NOT NULL DEFAULT '',    -- recorded for that release
	drifted         INTEGER NOT NULL,            -- 0 or 1
	complete        INTEGER NOT NULL,            -- 1 when every server was checked
	servers         TEXT NOT NULL,               -- JSON: bot.DriftServer per server
	alerted_at      INTEGER NOT NULL DEFAULT 0   -- unix nanoseconds; 0 not announced
);
CREATE INDEX drift_checks_env ON drift_checks (repo, environment, checked_at);
CREATE INDEX drift_checks_time ON drift_checks (checked_at);
