-- Access review snapshots and their sign-off (bot.AccessReview).
CREATE TABLE access_reviews (
	id                TEXT PRIMARY KEY,
	taken_at          INTEGER NOT NULL, -- unix nanoseconds
	taken_by          TEXT NOT NULL,
	grants            TEXT NOT NULL, -- JSON list of bot.AccessGrant
	added             TEXT NOT NULL DEFAULT '[]',
	removed           TEXT NOT NULL DEFAULT '[]',
	previous_id       TEXT NOT NULL DEFAULT '',
	digest            TEXT NOT NULL,
	outcome           TEXT NOT NULL DEFAULT '', -- '' unsigned, no_changes, changes_needed
	signed_off_login  TEXT NOT NULL DEFAULT '',
	signed_off_id     INTEGER NOT NULL DEFAULT 0,
	signed_off_slack  TEXT NOT NULL DEFAULT '',
	signed_off_at     INTEGER NOT NULL DEFAULT 0,
	note              TEXT NOT NULL DEFAULT ''
);
CREATE INDEX access_reviews_taken ON access_reviews (taken_at);

-- When the daily reconciliation last saw each organisation member, so a
-- departure's revocation latency has an upper bound.
CREATE TABLE org_members_seen (
	org          TEXT NOT NULL,
	login        TEXT NOT NULL, -- lower case
	github_id    INTEGER NOT NULL DEFAULT 0,
	last_seen_at INTEGER NOT NULL,
	PRIMARY KEY (org, login)
);
