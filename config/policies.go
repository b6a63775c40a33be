package config

import "github.com/tollgate-dev/tollgate/bot"

// Policies returns the domain's policy of every configured environment,
// routing included (which merges and labels deploy where). It was built
// when the file was parsed, so a configuration that parses converts.
func (c *Config) Policies() bot.PolicySet { return c.policies }

// buildPolicies converts every environment into the domain's policy.
func (c *Config) buildPolicies() {
	var ps []*bot.EnvironmentPolicy
	for _, env := range c.Environments() {
		ps = append(ps, c.policyOf(env))
	}
	c.policies = bot.NewPolicySet(ps...)
}

// policyOf converts one environment.
func (c *Config) policyOf(env *Environment) *bot.EnvironmentPolicy {
	org := c.GitHub.Org
	p := &bot.EnvironmentPolicy{
		Repo:                  env.Repository,
		Environment:           env.Name,
		Deployers:             QualifiedTeams(org, env.Deployers),
		Approvers:             QualifiedTeams(org, env.Approvers),
		Emergency:             QualifiedTeams(org, env.Emergency.Teams),
		Admins:                QualifiedTeams(org, c.Teams.Admins),
		RequiredApprovals:     env.RequiredApprovals,
		ApprovalTTL:           env.ApprovalTTL,
		Branches:              append([]string(nil), env.Branches...),
		RequirePRReview:       env.Require.PRReview,
		RequireChecks:         env.Require.Checks,
		RequiredContexts:      append([]string(nil), env.Require.CheckNames...),
		Production:            env.Production,
		EmergencyReviewWithin: env.Emergency.ReviewWithin,
		OnMergeTo:             append([]string(nil), env.AutoDeploy.OnMergeTo...),
		Labels:                append([]string(nil), env.Labels...),

		ApprovalsRequireWebAuthn: env.Approvals.RequireWebAuthn,
		EmergencyRequireWebAuthn: env.Emergency.RequireWebAuthn,
	}
	// require_ticket asks a ticket of every request; emergency.require_ticket
	// only of emergency changes (with require_ticket's pattern, or the
	// default the decoder put there).
	if env.RequireTicket {
		p.TicketPattern = env.TicketPattern
	}
	if env.Emergency.RequireTicket {
		p.EmergencyTicketPattern = env.TicketPattern
	}
	for _, f := range env.Freezes {
		p.FreezeWindows = append(p.FreezeWindows, f.Window)
	}
	return p
}

// QualifiedTeams qualifies config team slugs with the organisation.
func QualifiedTeams(org string, slugs []string) []bot.Team {
	if len(slugs) == 0 {
		return nil
	}
	out := make([]bot.Team, len(slugs))
	for i, s := range slugs {
		out[i] = bot.Team{Org: org, Slug: s}
	}
	return out
}
