package slack

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/tollgate-dev/tollgate/bot"
)

// hostile are Slack control sequences anyone can put in a branch name, a
// PR title, a reason, a ticket or a note.
var hostile = []string{"<!channel>", "<@U123>", "<https://evil|click>"}

// TestEveryMessageKindEscapesUserText (issue 15 item 6) renders every
// kind of message Tollgate sends to Slack (request messages in each
// state with their fallback text and thread lines, emergency reviews and
// their reminders, lock reminders, access reviews, replies) from a
// request whose every person-written field carries the hostile sequences,
// and wants none of them to reach Slack unescaped. Fails before this
// change: the fallback text carried the ref, the emergency review and
// access review fallbacks the logins, the lock reminder its command.
func TestEveryMessageKindEscapesUserText(t *testing.T) {
	bad := strings.Join(hostile, " ")
	l := links{web: "https://github.com/", public: "https://tollgate.example"}
	now := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	who := bot.Identity{Login: bad, ChatUser: "T1/" + bad}
	r := bot.Request{ID: "r-abc234", Repo: "acme/shop", Environment: "production", SHA: strings.Repeat("a", 40),
		Ref: bad, Trigger: bot.TriggerLabel, Requester: who, Reason: bad, Ticket: bad, StateReason: bad,
		PR: &bot.PullRequest{Number: 4, Title: bad, Author: who,
			Reviews: []bot.Review{{User: who, State: bot.ReviewApproved}}},
		RequiredApprovals: 1, ApprovalDeadline: now.Add(time.Hour),
		Approvals: []bot.Approval{{Approver: who, At: now, ExpiresAt: now.Add(time.Hour)}},
		Decision:  &bot.Decision{Reason: bad, Checks: []bot.PolicyCheck{{Name: bot.CheckChecks, Detail: bad, Outcome: bot.OutcomeFail}}},
		Result:    &bot.DeployOutcome{Error: bad, Servers: []string{bad}},
	}
	rev := bot.EmergencyReview{RequestID: r.ID, Repo: r.Repo, Environment: r.Environment, SHA: r.SHA, Deployer: who,
		Reason: bad, Ticket: bad, DeployedAt: now, DueAt: now.Add(time.Hour), Approvers: []bot.Team{{Org: "acme", Slug: "sre"}}}
	reviewed := rev
	reviewed.Outcome, reviewed.Reviewer, reviewed.ReviewedAt, reviewed.Note = bot.ReviewNotAcceptable, who, now, bad
	grant := bot.AccessGrant{Repo: r.Repo, Environment: r.Environment, Role: "deploy", Login: bad, Team: "acme/deployers"}
	ar := bot.AccessReview{ID: "ar-1", TakenAt: now, TakenBy: bad, Grants: []bot.AccessGrant{grant},
		Added: []bot.AccessGrant{grant}, PreviousID: "ar-0"}
	signed := ar
	signed.Outcome, signed.SignedOffBy, signed.SignedOffAt, signed.Note = bot.AccessChangesNeeded, who, now, bad
	lock := bot.Lock{Repo: r.Repo, Environment: r.Environment, Owner: who, Reason: bad, CreatedAt: now}

	texts := map[string]string{}
	blocks := map[string][]slackapi.Block{}
	for _, s := range []bot.State{bot.StateAwaitingApproval, bot.StateRejected, bot.StateQueued, bot.StateRunning,
		bot.StateSucceeded, bot.StateFailed, bot.StateRolledBack, bot.StateInterrupted, bot.StateExpired, bot.StateCanceled} {
		x := r
		x.State = s
		blocks["request "+string(s)] = requestBlocks(x, &x, nil, l, now)
		texts["fallback "+string(s)] = fallbackText(x)
		texts["thread "+string(s)] = threadText(x, l)
		texts["reply "+string(s)] = submitted(bot.Outcome{Request: x, Created: true})
	}
	for _, trig := range []bot.Trigger{bot.TriggerMerge, bot.TriggerEmergency, bot.TriggerComment} {
		x := r
		x.State, x.StateReason, x.Approvals, x.Trigger, x.PR = bot.StateQueued, "", nil, trig, nil
		texts["queued "+string(trig)] = queuedText(x)
	}
	em := r
	em.Trigger, em.State = bot.TriggerEmergency, bot.StateSucceeded
	blocks["emergency request, review pending"] = requestBlocks(em, &em, &rev, l, now)
	blocks["emergency request, reviewed"] = requestBlocks(em, &em, &reviewed, l, now)
	blocks["emergency review"] = emergencyReviewBlocks(em, rev, l, now)
	blocks["emergency reviewed"] = emergencyReviewBlocks(em, reviewed, l, now)
	texts["emergency review fallback"] = emergencyReviewFallback(rev)
	texts["emergency reviewed fallback"] = emergencyReviewFallback(reviewed)
	texts["emergency reminder"] = reminderText(rev, now)
	texts["emergency overdue"] = overdueText(rev)
	texts["lock reminder"] = lockReminderText(lock, now.Add(time.Hour))
	blocks["access review"] = accessReviewBlocks(ar)
	blocks["access review signed"] = accessReviewBlocks(signed)
	texts["access review fallback"] = accessReviewFallback(ar)
	texts["access review signed fallback"] = accessReviewFallback(signed)
	texts["mentions"] = mentions(r)
	blocks["reject modal"] = rejectModal(r, "{}").Blocks.BlockSet

	for name, bs := range blocks {
		b, err := json.Marshal(bs)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var v any
		_ = json.Unmarshal(b, &v)
		texts[name+" blocks"] = strings.Join(allStrings(v), "\n")
	}
	for name, text := range texts {
		for _, h := range hostile {
			if strings.Contains(text, h) {
				t.Errorf("%s sends %s unescaped:\n%s", name, h, text)
			}
		}
	}
	if !strings.Contains(texts["request awaiting_approval blocks"], "&lt;!channel&gt;") {
		t.Error("the request message does not show the ref as text")
	}
}

// allStrings lists every string in a decoded JSON value.
func allStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, allStrings(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, allStrings(e)...)
		}
		return out
	}
	return nil
}
