-- The notification outbox: every request transition writes the
-- notifications it implies here, in the transition's own transaction (with
-- the request row and its audit entries). A worker delivers each to every
-- external notifier (Slack, GitHub) in order per request, with retries, and
-- records which destinations have it: a crash never loses a notification,
-- and one delivered is not sent again.
CREATE TABLE outbox (
	seq             INTEGER PRIMARY KEY AUTOINCREMENT,
	request_id      TEXT NOT NULL,
	kind            TEXT NOT NULL,
	notification    BLOB NOT NULL,             -- JSON of bot.Notification
	created_at      INTEGER NOT NULL,          -- unix nanoseconds
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,          -- unix nanoseconds
	last_error      TEXT NOT NULL DEFAULT '',
	done_at         INTEGER NOT NULL DEFAULT 0, -- every destination has it, or it was given up
	failed          INTEGER NOT NULL DEFAULT 0  -- 1: given up after its retries
);
CREATE INDEX outbox_pending ON outbox (done_at, request_id, seq);

-- Which destinations have an outbox notification already, so a retry after
-- a partial failure sends only to those that do not.
CREATE TABLE outbox_deliveries (
	seq          INTEGER NOT NULL REFERENCES outbox (seq),
	destination  TEXT NOT NULL,
	delivered_at INTEGER NOT NULL,
	PRIMARY KEY (seq, destination)
);
