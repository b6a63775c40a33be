-- PostgreSQL twin of ../0012_identity_links.sql.
-- Slack user → GitHub account links, proved through GitHub OAuth (bot.Link).
-- The numeric GitHub id is what counts; the login is kept for display.
CREATE TABLE identity_links (
	slack_team   TEXT NOT NULL,
	slack_user   TEXT NOT NULL,
	github_login TEXT NOT NULL,
	github_id    BIGINT  NOT NULL,
	linked_at    BIGINT  NOT NULL, -- unix nanoseconds
	PRIMARY KEY (slack_team, slack_user)
);
CREATE INDEX identity_links_github ON identity_links (github_id);
