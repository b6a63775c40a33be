-- The webhook inbox: every delivery is stored before it is acknowledged and
-- processed from here, so a crash or a redelivery loses or doubles nothing.
CREATE TABLE inbox (
	id              INTEGER PRIMARY KEY,
	source          TEXT NOT NULL CHECK (source IN ('github', 'slack')),
	delivery_id     TEXT NOT NULL,
	event_type      TEXT NOT NULL,
	payload         BLOB NOT NULL,
	received_at     INTEGER NOT NULL,  -- unix nanoseconds
	state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,  -- unix nanoseconds
	lease_until     INTEGER NOT NULL DEFAULT 0, -- unix nanoseconds; claimed until then
	last_error      TEXT NOT NULL DEFAULT '',
	UNIQUE (source, delivery_id)
);
CREATE INDEX inbox_due ON inbox (state, next_attempt_at);
