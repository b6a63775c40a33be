-- Pages, /deploy status and sweeps read what is open, not history, so
-- their cost follows what is active:
-- * the requests not finished, per repository and environment (/environments,
--   /deploy status): a partial index holding only those rows. ListRequests
--   writes this exact state list for that set, so the planner uses it;
-- * the latest request in a state per repository and environment (what
--   runs there, the rollback target);
-- * the latest requests in a state with a trigger (the sweep of emergency
--   changes awaiting their review).
CREATE INDEX requests_active ON requests (repo, environment, created_at)
	WHERE state IN ('requested', 'awaiting_approval', 'queued', 'running');
CREATE INDEX requests_env_state ON requests (repo, environment, state, created_at);
CREATE INDEX requests_state_trigger ON requests (state, trigger, created_at);
