package config

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// validate checks rules that span sections: credential separation between
// environments, Slack channel mappings, shared servers.
func (d *decoder) validate(c *Config) {
	d.credentialSeparation()
	d.validateWebAuthn(c)
	if c.Slack.Enabled {
		for _, ch := range sortedKeys(c.Slack.Channels) {
			repo := c.Slack.Channels[ch]
			if _, ok := c.Repositories[repo]; !ok {
				hint := ""
				if best, close := closest(repo, c.RepositoryNames()); close {
					hint = fmt.Sprintf(" (did you mean %q?)", best)
				}
				d.errorf(d.channelLines[ch], "slack.channels."+ch, "repository %q is not configured under repositories%s", repo, hint)
			}
		}
		if c.GitHub.OAuthClientID == "" && c.GitHub.AppID != 0 {
			d.errorf(d.slackLine, "github.oauth_client_id", "required when slack is configured: Slack users link their GitHub identity through the App's OAuth flow")
		}
	}
	for _, rn := range c.RepositoryNames() {
		d.uniqueLabels(c.Repositories[rn])
	}
	type place struct {
		env  *Environment
		line int
	}
	servers := map[string]place{}
	for _, env := range c.Environments() {
		// A required_approvals that is misspelt or invalid was already
		// reported: the 0 it leaves is not the operator's choice.
		if env.Production && env.RequiredApprovals == 0 && !env.GateOnly && !d.hasProblemUnder(envPath(env)) {
			d.warnf(env.Line, fmt.Sprintf("repositories.%s.environments.%s.required_approvals", env.Repository, env.Name),
				"production environment deploys without any approval; set required_approvals and approvers")
		}
		for _, s := range env.Servers {
			target := fmt.Sprintf("%s:%d", strings.ToLower(s.Host), s.Port)
			if first, ok := servers[target]; ok && first.env != env {
				d.warnf(env.Line, fmt.Sprintf("repositories.%s.environments.%s.servers", env.Repository, env.Name),
					"server %s is also a target of %s (line %d); environments should not share servers", target, first.env, first.line)
				continue
			}
			servers[target] = place{env, env.Line}
		}
	}
}

// envPath is the key path of an environment.
func envPath(env *Environment) string {
	return fmt.Sprintf("repositories.%s.environments.%s", env.Repository, env.Name)
}

// hasProblemUnder reports whether an error was reported on the key path
// or below it.
func (d *decoder) hasProblemUnder(path string) bool {
	for _, p := range d.problems {
		if p.Key == path || strings.HasPrefix(p.Key, path+".") {
			return true
		}
	}
	return false
}

// credentialSeparation refuses an SSH private key used by two environments:
// a staging key must never be able to reach production.
func (d *decoder) credentialSeparation() {
	first := map[string]fileRef{}
	for _, f := range d.files {
		if !f.sshKey {
			continue
		}
		p := filepath.Clean(f.path)
		if prev, ok := first[p]; ok && prev.env != f.env {
			d.errorf(f.line, f.key, "SSH key file %q is also used by %s (line %d); each environment needs its own key", f.path, prev.env, prev.line)
			continue
		}
		first[p] = f
	}
}

// uniqueLabels refuses a PR label that would request deploys to two
// environments of one repository at once.
func (d *decoder) uniqueLabels(r *Repository) {
	envs := make([]*Environment, 0, len(r.Environments))
	for _, en := range r.EnvironmentNames() {
		envs = append(envs, r.Environments[en])
	}
	// Report the later environment in the file, naming the earlier.
	sort.SliceStable(envs, func(i, j int) bool { return envs[i].Line < envs[j].Line })
	owner := map[string]string{}
	for _, env := range envs {
		en := env.Name
		for _, l := range env.Labels {
			if other, ok := owner[l]; ok {
				d.errorf(env.Line, fmt.Sprintf("repositories.%s.environments.%s.labels", r.Name, en),
					"label %q also deploys environment %s; each label deploys one environment", l, other)
				continue
			}
			owner[l] = en
		}
	}
}
