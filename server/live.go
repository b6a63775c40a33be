package server

import (
	"fmt"

	"path"
	"slices"
	"sync/atomic"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/deploy"
)

// loaded is one configuration with everything converted from it. It is
// swapped as a whole, so policies, targets and routes always come from the
// same file.
type loaded struct {
	cfg      *config.Config
	policies bot.PolicySet
	targets  config.SSHTargets
}

// load converts cfg; nothing is swapped when it fails.
func load(cfg *config.Config) (*loaded, error) {
	ts, err := cfg.SSHTargets()
	if err != nil {
		return nil, err
	}
	return &loaded{cfg: cfg, policies: cfg.Policies(), targets: ts}, nil
}

// liveConfig is the configuration in force. A reload swaps it atomically;
// every question reads the current one. It implements bot.Policies and the
// deploy targets lookup; Current feeds the transports' routing.
type liveConfig struct {
	cur atomic.Pointer[loaded]
}

func newLiveConfig(l *loaded) *liveConfig {
	lc := &liveConfig{}
	lc.cur.Store(l)
	return lc
}

// Current returns the configuration in force.
func (lc *liveConfig) Current() *config.Config { return lc.cur.Load().cfg }

// Swap puts l in force.
func (lc *liveConfig) Swap(l *loaded) { lc.cur.Store(l) }

// Environment implements bot.Policies.
func (lc *liveConfig) Environment(repo, env string) (*bot.EnvironmentPolicy, bool) {
	return lc.cur.Load().policies.Environment(repo, env)
}

// Environments implements bot.Policies.
func (lc *liveConfig) Environments(repo string) []string {
	return lc.cur.Load().policies.Environments(repo)
}

// Policies lists every environment policy in force, by repository and
// environment, in a new slice the caller may reorder.
func (lc *liveConfig) Policies() []*bot.EnvironmentPolicy { return lc.cur.Load().policies.All() }

// RepoForChannel implements the Slack transport's Routing: the repository
// a channel is mapped to (slack.channels).
func (lc *liveConfig) RepoForChannel(channelID string) (string, bool) {
	return lc.Current().RepoForChannel(channelID)
}

// AdminTeams returns the admins teams in force (teams.admins), for bot.
func (lc *liveConfig) AdminTeams() []bot.Team {
	c := lc.Current()
	return config.QualifiedTeams(c.GitHub.Org, c.Teams.Admins)
}

// Repositories implements the Slack transport's Routing.
func (lc *liveConfig) Repositories() []string { return lc.Current().RepositoryNames() }

// TargetType returns the deploy target type of repo's env in force.
func (lc *liveConfig) TargetType(repo, env string) string {
	return lc.Current().TargetType(repo, env)
}

// Target returns the SSH deploy target of repo's env.
func (lc *liveConfig) Target(repo, env string) (deploy.Target, bool) {
	return lc.cur.Load().targets.Target(repo, env)
}

// restartOnly lists what a reload cannot change in a running process, so
// the operator learns that it needs a restart instead of believing it took
// effect.
func restartOnly(old, next *config.Config) []string {
	var out []string
	diff := func(key string, changed bool) {
		if changed {
			out = append(out, key)
		}
	}
	diff("listen", old.Listen != next.Listen)
	diff("public_url", old.PublicURL != next.PublicURL)
	diff("database", old.Database != next.Database)
	diff("replicas.lease", old.Replicas.Lease != next.Replicas.Lease)
	diff("audit.signing_key_file", old.Audit.SigningKeyFile != next.Audit.SigningKeyFile)
	diff("attestation.signing_key_file", old.Attestation.SigningKeyFile != next.Attestation.SigningKeyFile)
	diff("audit.checkpoint_every", old.Audit.CheckpointEvery != next.Audit.CheckpointEvery)
	diff("github.api_url", old.GitHub.APIURL != next.GitHub.APIURL)
	diff("github.app_id", old.GitHub.AppID != next.GitHub.AppID)
	diff("github.private_key", old.GitHub.PrivateKey.Value() != next.GitHub.PrivateKey.Value() ||
		old.GitHub.PrivateKeyFile != next.GitHub.PrivateKeyFile)
	diff("github.webhook_secret", old.GitHub.WebhookSecret.Value() != next.GitHub.WebhookSecret.Value())
	diff("github.oauth_client_id", old.GitHub.OAuthClientID != next.GitHub.OAuthClientID ||
		old.GitHub.OAuthClientSecret.Value() != next.GitHub.OAuthClientSecret.Value())
	diff("github.org (web login)", old.GitHub.Org != next.GitHub.Org)
	diff("teams.auditors (web login)", !slices.Equal(old.Teams.Auditors, next.Teams.Auditors))
	diff("slack", old.Slack.Enabled != next.Slack.Enabled || old.Slack.APIURL != next.Slack.APIURL ||
		old.Slack.BotToken.Value() != next.Slack.BotToken.Value() ||
		old.Slack.SigningSecret.Value() != next.Slack.SigningSecret.Value() || old.Slack.Channel != next.Slack.Channel ||
		old.Slack.WebURL != next.Slack.WebURL || old.Slack.ClientID != next.Slack.ClientID ||
		old.Slack.ClientSecret.Value() != next.Slack.ClientSecret.Value())
	return out
}

// requestLogName is the file name of a request's deployment log; request
// ids are validated so a crafted id cannot name another path.
func requestLogName(id string) (string, error) {
	if id == "" || len(id) > 64 || path.Base(id) != id || slices.ContainsFunc([]rune(id), func(r rune) bool {
		return !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) {
		return "", fmt.Errorf("invalid request id %q", id)
	}
	return id + ".log", nil
}
