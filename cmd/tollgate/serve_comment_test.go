package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/integrations/githubtest"
)

// TestServeAnswersPRCommentCommands: a PR comment command posted through
// the real server gets the 👀 reaction from the App, and a refused one a
// reply on the PR naming the reason, with no request created.
func TestServeAnswersPRCommentCommands(t *testing.T) {
	tests := []struct {
		name, body string
		wantReply  string // "" expects no reply
	}{
		{"unknown environment is refused with a reply", "/deploy nowhere", `@bob acme/shop has no environment "nowhere"`},
		{"an approval of an unknown request is refused with a reply", "/approve req-nope", "@bob there is no request req-nope in acme/shop"},
	}
	e := newE2E(t, e2eOptions{})
	// bob wrote the PR with write access: his commands get an answer.
	e.gh.SetCollaborator(e2eRepo, "bob", "write")
	e.start(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.gh.IssueComments(e2eRepo, 4))
			id := e.gh.AddIssueComment(e2eRepo, 4, "bob", tt.body)
			if code := e.sendComment(t, id, "5f1c0c2e-0000-4000-8000-00000000c0"+string(rune('0'+i))); code != http.StatusAccepted {
				t.Fatalf("comment webhook answered %d, want 202", code)
			}
			waitFor(t, "the 👀 reaction on comment "+tt.body, func() bool { return hasEyes(e.gh.Reactions(e2eRepo, id), e.gh.AppSlug()+"[bot]") })
			waitFor(t, "a reply to "+tt.body, func() bool { return len(e.gh.IssueComments(e2eRepo, 4)) > before+1 })
			cs := e.gh.IssueComments(e2eRepo, 4)
			reply := cs[len(cs)-1]
			if !strings.Contains(reply.Body, tt.wantReply) || reply.User != e.gh.AppSlug()+"[bot]" {
				t.Fatalf("reply by %s: %q; want one by the app containing %q", reply.User, reply.Body, tt.wantReply)
			}
		})
	}
	if code := e.stop(t); code != exitOK {
		t.Fatalf("serve exit code %d\n%s", code, e.stderr.String())
	}
	if n := len(e.gh.Deployments(e2eRepo)); n != 0 {
		t.Errorf("%d deployments after refused commands, want 0", n)
	}
}

// hasEyes reports whether who reacted with 👀.
func hasEyes(rs []githubtest.Reaction, who string) bool {
	for _, r := range rs {
		if r.Content == "eyes" && r.User == who {
			return true
		}
	}
	return false
}

// sendComment delivers the creation of comment id, signed like GitHub.
func (e *e2e) sendComment(t *testing.T, id int64, deliveryID string) int {
	t.Helper()
	p, err := e.gh.Payloads().IssueCommentCreated(e2eRepo, id)
	if err != nil {
		t.Fatal(err)
	}
	body, err := p.JSON()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.gh.SendWebhookDelivery(context.Background(), e.url("/webhooks/github"), e2eSecret, p.Event, deliveryID, body)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
