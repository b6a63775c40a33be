package slack

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

// pendingReviews returns the emergency changes awaiting their review for
// /deploy status; a failure is logged and shows nothing, since the rest of
// the status is still worth answering.
func (h *Handler) pendingReviews(ctx context.Context) []bot.EmergencyReview {
	revs, err := h.svc.EmergencyReviews(ctx, true)
	if err != nil {
		h.log.WarnContext(ctx, "status: listing emergency reviews", slog.Any("err", err))
		return nil
	}
	return revs
}

// complianceStatus writes, for repo/env, the freeze windows in force now
// and the emergency changes awaiting review, overdue ones flagged.
func (h *Handler) complianceStatus(b *strings.Builder, repo, env string, pending []bot.EmergencyReview, now time.Time) {
	if h.policies != nil {
		if p, ok := h.policies.Environment(repo, env); ok {
			for _, w := range p.FreezeWindows {
				if active, end := w.ActiveAt(now); active {
					fmt.Fprintf(b, "    :snowflake: freeze %q in force until %s: deploys need the emergency path\n", w.Name, stamp(end))
				}
			}
		}
	}
	for _, rev := range pending {
		if rev.Repo != repo || rev.Environment != env {
			continue
		}
		state := "awaits review, due " + stamp(rev.DueAt)
		if rev.Overdue(now) {
			state = ":warning: *OVERDUE* for review since " + stamp(rev.DueAt)
		}
		fmt.Fprintf(b, "    :rotating_light: emergency change %s `%s` by %s %s\n", rev.RequestID, short(rev.SHA),
			esc(rev.Deployer.Login), state)
	}
}
