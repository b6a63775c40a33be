package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

func isNotFound(err error) bool { return errors.Is(err, bot.ErrNotFound) }

// status answers /deploy status: what runs where now, since when, by whom,
// what waits, and locks.
func (h *Handler) status(ctx context.Context, cmd bot.Command) (string, error) {
	repos := []string{cmd.Repo}
	if cmd.Repo == "" {
		repos = h.routing.Repositories()
	}
	var b strings.Builder
	pending := h.pendingReviews(ctx)
	for _, repo := range repos {
		envs := []string{cmd.Environment}
		if cmd.Environment == "" {
			envs = h.routing.Environments(repo)
		}
		for _, env := range envs {
			if err := h.statusLine(ctx, &b, repo, env, pending); err != nil {
				return "", err
			}
		}
	}
	if b.Len() == 0 {
		return "Nothing is configured to deploy here.", nil
	}
	return b.String(), nil
}

func (h *Handler) statusLine(ctx context.Context, b *strings.Builder, repo, env string, pending []bot.EmergencyReview) error {
	live, ok, err := h.svc.Live(ctx, repo, env)
	if err != nil {
		return err
	}
	fmt.Fprintf(b, "*%s %s*: ", esc(repo), esc(env))
	if ok {
		fmt.Fprintf(b, "`%s` (%s) since %s, by %s (request %s)\n", short(live.SHA), esc(live.Ref),
			stamp(live.FinishedAt), esc(live.Requester.Login), live.ID)
	} else {
		b.WriteString("nothing deployed by Tollgate yet\n")
	}
	active, err := h.svc.Active(ctx, repo, env)
	if err != nil {
		return err
	}
	for _, r := range active {
		fmt.Fprintf(b, "    • %s `%s` %s, requested by %s\n", r.ID, short(r.SHA), stateText(r), esc(r.Requester.Login))
	}
	lock, err := h.svc.EnvironmentLock(ctx, repo, env)
	if err != nil {
		return err
	}
	if lock != nil {
		fmt.Fprintf(b, "    :lock: locked by %s since %s: %s\n", esc(lock.Owner.Login), stamp(lock.CreatedAt), esc(lock.Reason))
	}
	h.complianceStatus(b, repo, env, pending, h.now())
	return nil
}

// history answers /deploy history: the last 10 requests.
func (h *Handler) history(ctx context.Context, cmd bot.Command) (string, error) {
	rs, err := h.svc.History(ctx, cmd.Repo, cmd.Environment, 10)
	if err != nil {
		return "", err
	}
	if len(rs) == 0 {
		return fmt.Sprintf("No deploys of %s to %s yet.", esc(cmd.Repo), esc(cmd.Environment)), nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*Last %d requests for %s %s*\n", len(rs), esc(cmd.Repo), esc(cmd.Environment))
	for _, r := range rs {
		fmt.Fprintf(&b, "• %s  %s  `%s` (%s) by %s, %s\n", stamp(r.CreatedAt), r.ID, short(r.SHA), esc(r.Ref),
			esc(r.Requester.Login), stateText(r))
	}
	return b.String(), nil
}

// stateText says where a request is, for people.
func stateText(r bot.Request) string {
	switch r.State {
	case bot.StateAwaitingApproval:
		return fmt.Sprintf("awaiting approval (%d of %d)", len(r.ValidApprovals(r.UpdatedAt)), r.RequiredApprovals)
	}
	return strings.ReplaceAll(string(r.State), "_", " ")
}

// stamp formats a time for Slack text in UTC.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// short abbreviates a SHA.
func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
