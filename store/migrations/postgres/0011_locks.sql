-- PostgreSQL twin of ../0011_locks.sql.
-- Environment locks (bot.Lock): at most one per repository and environment.
CREATE TABLE env_locks (
	repo        TEXT NOT NULL,
	environment TEXT NOT NULL,
	owner_login TEXT NOT NULL,
	owner_id    BIGINT  NOT NULL,
	owner_slack TEXT NOT NULL DEFAULT '',
	reason      TEXT NOT NULL,
	created_at  BIGINT  NOT NULL, -- unix nanoseconds
	expires_at  BIGINT  NOT NULL DEFAULT 0, -- 0 = until unlocked
	PRIMARY KEY (repo, environment)
);
