package config

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteSummary writes a human summary of the configuration: per repository
// and environment, where it deploys, who may deploy and approve, and what a
// change must pass. It never prints a secret.
func (c *Config) WriteSummary(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: valid (sha256 %s)\n", c.File, c.hash)
	fmt.Fprintf(&b, "GitHub:   org %s, app %d, API %s\n", c.GitHub.Org, c.GitHub.AppID, c.GitHub.APIURL)
	if c.Slack.Enabled {
		var chans []string
		for _, id := range sortedKeys(c.Slack.Channels) {
			chans = append(chans, id+" → "+c.Slack.Channels[id])
		}
		fmt.Fprintf(&b, "Slack:    approvals in %s; channels: %s\n", c.Slack.Channel, list(chans))
	} else {
		fmt.Fprintf(&b, "Slack:    not configured\n")
	}
	anchor := "not anchored"
	if c.Audit.AnchorRepository != "" {
		anchor = "anchored in " + c.Audit.AnchorRepository
	}
	fmt.Fprintf(&b, "Audit:    checkpoint every %d entries, kept %d days, %s\n", c.Audit.CheckpointEvery, c.Audit.RetentionDays, anchor)
	fmt.Fprintf(&b, "Teams:    admins %s; access reviewers %s (every %s); auditors %s\n",
		list(c.Teams.Admins), list(c.Teams.AccessReviewers), FormatDuration(c.AccessReview.Interval), list(c.Teams.Auditors))
	for _, rn := range c.RepositoryNames() {
		r := c.Repositories[rn]
		fmt.Fprintf(&b, "\n%s\n", rn)
		for _, en := range r.EnvironmentNames() {
			writeEnvironment(&b, r.Environments[en])
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeEnvironment(b *strings.Builder, e *Environment) {
	var tags []string
	if e.Production {
		tags = append(tags, "production")
	}
	if e.Transient {
		tags = append(tags, "transient")
	}
	if e.GateOnly {
		tags = append(tags, "gate only: GitHub Actions deploys")
	}
	head := "  " + e.Name
	if len(tags) > 0 {
		head += "  [" + strings.Join(tags, ", ") + "]"
	}
	b.WriteString(head + "\n")
	row := func(label, value string) { fmt.Fprintf(b, "    %-11s %s\n", label+":", value) }
	if !e.GateOnly {
		samePath := true
		for _, s := range e.Servers {
			samePath = samePath && s.Path == e.Path
		}
		var servers []string
		for _, s := range e.Servers {
			id := fmt.Sprintf("%s@%s:%d", s.User, s.Host, s.Port)
			if !samePath {
				id += " → " + s.Path
			}
			servers = append(servers, id)
		}
		where := list(servers)
		if samePath {
			where += " → " + e.Path
		}
		row("servers", fmt.Sprintf("%s (keep %d releases, %d at once)", where, e.KeepReleases, e.MaxParallel))
	}
	row("deployers", list(e.Deployers))
	approvers := list(e.Approvers)
	if e.RequiredApprovals > 0 {
		approvers += fmt.Sprintf(" (%d required, valid %s)", e.RequiredApprovals, FormatDuration(e.ApprovalTTL))
	} else {
		approvers += " (no approval required)"
	}
	row("approvers", approvers)
	row("branches", list(e.Branches))
	row("requires", listSemi(requirements(e)))
	if len(e.Emergency.Teams) > 0 {
		em := fmt.Sprintf("%s (review within %s", list(e.Emergency.Teams), FormatDuration(e.Emergency.ReviewWithin))
		if e.Emergency.RequireTicket {
			em += ", ticket required"
		}
		row("emergency", em+")")
	} else {
		row("emergency", "none")
	}
	var freezes []string
	for _, f := range e.Freezes {
		if w := f.Window; w.Weekly == nil {
			freezes = append(freezes, fmt.Sprintf("%s: %s – %s", w.Name, w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339)))
		} else {
			freezes = append(freezes, w.Name+": "+f.String())
		}
	}
	row("freezes", listSemi(freezes))
	var triggers []string
	if len(e.Labels) > 0 {
		triggers = append(triggers, "labels "+strings.Join(e.Labels, ", "))
	}
	if len(e.AutoDeploy.OnMergeTo) > 0 {
		triggers = append(triggers, "deploy on merge to "+strings.Join(e.AutoDeploy.OnMergeTo, ", "))
	}
	row("triggers", list(triggers))
}

func requirements(e *Environment) []string {
	var req []string
	if e.Require.PRReview {
		req = append(req, "PR review")
	}
	switch {
	case len(e.Require.CheckNames) > 0:
		req = append(req, "checks "+strings.Join(e.Require.CheckNames, ", "))
	case e.Require.Checks:
		req = append(req, "all checks green")
	}
	if e.RequireTicket {
		req = append(req, "ticket matching "+e.TicketPattern.String())
	}
	return req
}

// list joins items with ", ", or says "none".
func list(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}

// listSemi joins items whose text may hold commas with "; ".
func listSemi(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, "; ")
}

// FormatDuration writes d the way the config accepts it: "90d", "1h",
// "1d12h", "1h30m", "10s".
func FormatDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	units := []struct {
		suffix string
		size   time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}}
	for _, u := range units {
		if n := d / u.size; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.suffix)
			d -= n * u.size
		}
	}
	if d > 0 {
		b.WriteString(d.String()) // sub-second remainder, e.g. "500ms"
	}
	return b.String()
}
