-- PostgreSQL twin of ../0030_emergency_reviews.sql.
-- After-the-fact reviews of emergency changes (bot.EmergencyReview), one
-- per emergency request that succeeded.
CREATE TABLE emergency_reviews (
	request_id       TEXT PRIMARY KEY,
	repo             TEXT NOT NULL,
	environment      TEXT NOT NULL,
	sha              TEXT NOT NULL,
	deployer_login   TEXT NOT NULL,
	deployer_id      BIGINT  NOT NULL,
	deployer_slack   TEXT NOT NULL DEFAULT '',
	reason           TEXT NOT NULL DEFAULT '',
	ticket           TEXT NOT NULL DEFAULT '',
	approvers        TEXT NOT NULL DEFAULT '[]', -- JSON list of "org/team"
	deployed_at      BIGINT  NOT NULL, -- unix nanoseconds
	opened_at        BIGINT  NOT NULL,
	due_at           BIGINT  NOT NULL,
	reminders        BIGINT  NOT NULL DEFAULT 0,
	last_reminded_at BIGINT  NOT NULL DEFAULT 0,
	overdue_at       BIGINT  NOT NULL DEFAULT 0,
	outcome          TEXT NOT NULL DEFAULT '', -- '' pending, acceptable, not_acceptable
	reviewer_login   TEXT NOT NULL DEFAULT '',
	reviewer_id      BIGINT  NOT NULL DEFAULT 0,
	reviewer_slack   TEXT NOT NULL DEFAULT '',
	reviewed_at      BIGINT  NOT NULL DEFAULT 0,
	note             TEXT NOT NULL DEFAULT ''
);
CREATE INDEX emergency_reviews_pending ON emergency_reviews (outcome, deployed_at);
