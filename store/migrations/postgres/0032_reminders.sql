-- PostgreSQL twin of ../0032_reminders.sql.
-- When something (a lock, the access review) was last reminded about.
CREATE TABLE reminders (
	key        TEXT PRIMARY KEY,
	last_at    BIGINT  NOT NULL, -- unix nanoseconds
	count      BIGINT  NOT NULL
);
