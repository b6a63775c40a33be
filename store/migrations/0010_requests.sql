-- Deploy requests (bot.Request) and their approvals. Times are unix
-- nanoseconds UTC (0 = not set) so they sort and compare as numbers.
CREATE TABLE requests (
	id                   TEXT PRIMARY KEY,
	source_key           TEXT NOT NULL UNIQUE, -- idempotency: delivery id, Slack trigger id, deployment id
	repo                 TEXT NOT NULL,
	environment          TEXT NOT NULL,
	ref                  TEXT NOT NULL,
	sha                  TEXT NOT NULL,
	trigger              TEXT NOT NULL,
	state                TEXT NOT NULL CHECK (state IN ('requested', 'awaiting_approval', 'queued', 'running',
	                         'succeeded', 'failed', 'rolled_back', 'interrupted', 'rejected', 'expired', 'canceled')),
	state_reason         TEXT NOT NULL DEFAULT '',
	requester_login      TEXT NOT NULL,
	requester_id         INTEGER NOT NULL,
	requester_slack      TEXT NOT NULL DEFAULT '',
	pr_number            INTEGER NOT NULL DEFAULT 0,
	pr_author_login      TEXT NOT NULL DEFAULT '',
	pr                   TEXT NOT NULL DEFAULT 'null', -- JSON of bot.PullRequest with its reviews
	reason               TEXT NOT NULL DEFAULT '',
	ticket               TEXT NOT NULL DEFAULT '',
	config_hash          TEXT NOT NULL DEFAULT '',
	required_approvals   INTEGER NOT NULL DEFAULT 0,
	approval_nonce       TEXT NOT NULL,
	approval_deadline    INTEGER NOT NULL DEFAULT 0,
	github_deployment_id INTEGER NOT NULL DEFAULT 0,
	protection_rule      TEXT NOT NULL DEFAULT 'null', -- JSON of bot.ProtectionRuleRun
	release              TEXT NOT NULL DEFAULT '',
	external_refs        TEXT NOT NULL DEFAULT '{}',   -- JSON object
	decision             TEXT NOT NULL DEFAULT 'null', -- JSON of bot.Decision
	result               TEXT NOT NULL DEFAULT 'null', -- JSON of bot.DeployOutcome
	created_at           INTEGER NOT NULL,
	updated_at           INTEGER NOT NULL,
	queued_at            INTEGER NOT NULL DEFAULT 0,
	started_at           INTEGER NOT NULL DEFAULT 0,
	finished_at          INTEGER NOT NULL DEFAULT 0,
	version              INTEGER NOT NULL DEFAULT 1
);
-- One running deploy per repository and environment, whatever the workers do.
CREATE UNIQUE INDEX requests_one_running ON requests (repo, environment) WHERE state = 'running';
CREATE INDEX requests_queue ON requests (state, queued_at);
CREATE INDEX requests_env ON requests (repo, environment, created_at);

CREATE TABLE approvals (
	id             INTEGER PRIMARY KEY,
	request_id     TEXT NOT NULL REFERENCES requests (id),
	approver_login TEXT NOT NULL,
	approver_id    INTEGER NOT NULL,
	approver_slack TEXT NOT NULL DEFAULT '',
	at             INTEGER NOT NULL,
	sha            TEXT NOT NULL,
	config_hash    TEXT NOT NULL,
	expires_at     INTEGER NOT NULL,
	revoked_at     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX approvals_request ON approvals (request_id, id);
CREATE INDEX approvals_approver ON approvals (approver_id);
