-- PostgreSQL twin of ../0120_refusal_limits.sql.
-- Refusals counted per person in fixed windows (issue 15): a flood of PR
-- comment commands or slash commands from one account is recorded a
-- bounded number of times. In the database, not in memory, so the limit
-- survives a restart and holds across replicas sharing a PostgreSQL.
CREATE TABLE refusal_limits (
	key          TEXT PRIMARY KEY,   -- "github:<id>", "login:<login>" or "chat:<workspace/user>"
	window_start BIGINT NOT NULL,    -- unix nanoseconds: the window's first refusal
	used         BIGINT NOT NULL     -- refusals counted in the window
);
CREATE INDEX refusal_limits_window ON refusal_limits (window_start);
