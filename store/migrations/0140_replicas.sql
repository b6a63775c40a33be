-- Several `tollgate serve` replicas share one database (issue 12). Each
-- registers here when it starts and renews its row with a heartbeat; a row
-- whose expires_at passed is a replica that died (or lost the database),
-- and what it held is taken over: its inbox leases (inbox.lease_owner),
-- its outbox claims, and its running deploys (requests.runner), which end
-- interrupted. Times are unix nanoseconds.
CREATE TABLE replicas (
	id           TEXT PRIMARY KEY,     -- random, new at every start
	host         TEXT NOT NULL,
	pid          INTEGER NOT NULL,
	version      TEXT NOT NULL DEFAULT '',
	started_at   INTEGER NOT NULL,
	heartbeat_at INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL
);

-- Singleton jobs (reminders, sweeps, anchoring, access checks) run on the
-- replica holding the lease named for them: taken when free or expired,
-- renewed by its holder's heartbeat, given up at shutdown. term is the
-- fencing token: it grows with every election.
CREATE TABLE leader_leases (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	term       INTEGER NOT NULL,
	elected_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);

-- Who holds an inbox item's lease: a lease whose replica is no longer
-- alive can be claimed again at once, without waiting for lease_until.
ALTER TABLE inbox ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';

-- The replica running a request's deploy; another replica interrupts the
-- request when that replica's heartbeat stops.
ALTER TABLE requests ADD COLUMN runner TEXT NOT NULL DEFAULT '';

-- One replica delivers a request's outbox notifications at a time: the
-- claim names it (owner) until the delivery ends, it expires, or the
-- owner's heartbeat stops.
CREATE TABLE outbox_claims (
	request_id TEXT PRIMARY KEY,
	owner      TEXT NOT NULL,
	token      INTEGER NOT NULL,
	until      INTEGER NOT NULL
);
