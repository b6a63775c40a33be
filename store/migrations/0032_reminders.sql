-- When something (a lock, the access review) was last reminded about.
CREATE TABLE reminders (
	key        TEXT PRIMARY KEY,
	last_at    INTEGER NOT NULL, -- unix nanoseconds
	count      INTEGER NOT NULL
);
