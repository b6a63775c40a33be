package github

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"

	"github.com/tollgate-dev/tollgate/bot"
)

// Audit actions for the app's installations.
const (
	ActionInstallationCreated   = "github.installation.created"
	ActionInstallationDeleted   = "github.installation.deleted"
	ActionInstallationSuspend   = "github.installation.suspend"
	ActionInstallationUnsuspend = "github.installation.unsuspend"
)

var installationActions = map[string]string{
	"created": ActionInstallationCreated, "deleted": ActionInstallationDeleted,
	"suspend": ActionInstallationSuspend, "unsuspend": ActionInstallationUnsuspend,
}

// onInstallation audits where the app was installed or removed: what
// Tollgate can reach is part of the evidence.
func (d *Dispatcher) onInstallation(ctx context.Context, dl hookDelivery, e *github.InstallationEvent) error {
	action, ok := installationActions[e.GetAction()]
	if !ok {
		return nil
	}
	in := e.GetInstallation()
	repos := make([]string, 0, len(e.Repositories))
	for _, r := range e.Repositories {
		repos = append(repos, r.GetFullName())
	}
	ev := bot.AuditEvent{Actor: e.GetSender().GetLogin(), Action: action, Subject: in.GetAccount().GetLogin(),
		Data: map[string]any{
			"installation_id": in.GetID(), "account": in.GetAccount().GetLogin(), "account_type": in.GetAccount().GetType(),
			"repository_selection": in.GetRepositorySelection(), "repositories": repos,
			"sender_id": e.GetSender().GetID(), "delivery": dl.id,
		}}
	if err := d.audit.AppendAudit(ctx, ev); err != nil {
		return fmt.Errorf("auditing installation %d %s: %w", in.GetID(), e.GetAction(), err)
	}
	dl.log.Info("installation audited", "installation", in.GetID(), "account", in.GetAccount().GetLogin())
	return nil
}
