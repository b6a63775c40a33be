package githubtest

import (
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-github/v60/github"
)

func TestCommentReactionAndLabels(t *testing.T) {
	gh, inst := newFake(t)
	n := gh.AddPullRequest("acme/web", PullRequest{Author: "alice", HeadSHA: sha("pr"), Labels: []string{"deploy:staging", "bug"}})
	c := installationClient(t, gh, inst)

	cmd := gh.AddIssueComment("acme/web", n, "bob", "/deploy staging")
	for _, want := range []int{http.StatusCreated, http.StatusOK} { // a repeated reaction is answered 200
		_, resp, err := c.Reactions.CreateIssueCommentReaction(ctx(t), "acme", "web", cmd, "eyes")
		if err != nil || resp.StatusCode != want {
			t.Fatalf("reaction: %v %v, want %d", resp, err, want)
		}
	}
	if got := gh.Reactions("acme/web", cmd); len(got) != 1 || got[0].Content != "eyes" || got[0].User != "tollgate[bot]" {
		t.Errorf("reactions = %+v", got)
	}

	made, _, err := c.Issues.CreateComment(ctx(t), "acme", "web", n, &github.IssueComment{Body: github.String("Deploying…")})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Issues.EditComment(ctx(t), "acme", "web", made.GetID(), &github.IssueComment{Body: github.String("Deployed ✓")}); err != nil {
		t.Fatal(err)
	}
	if _, resp, _ := c.Issues.EditComment(ctx(t), "acme", "web", cmd, &github.IssueComment{Body: github.String("hijack")}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("editing someone else's comment: status %d, want 403", resp.StatusCode)
	}
	got := gh.IssueComments("acme/web", n)
	if len(got) != 2 || got[1].Body != "Deployed ✓" || got[1].Edits != 1 || got[1].User != "tollgate[bot]" || got[0].Body != "/deploy staging" {
		t.Errorf("comments = %+v", got)
	}
	listed, _, err := c.Issues.ListComments(ctx(t), "acme", "web", n, nil)
	if err != nil || len(listed) != 2 || listed[1].GetBody() != "Deployed ✓" {
		t.Errorf("list comments = %v, %v", listed, err)
	}
	if _, resp, _ := c.Issues.CreateComment(ctx(t), "acme", "web", 999, &github.IssueComment{Body: github.String("x")}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("comment on missing PR: status %d, want 404", resp.StatusCode)
	}

	if _, err := c.Issues.RemoveLabelForIssue(ctx(t), "acme", "web", n, "deploy:staging"); err != nil {
		t.Fatalf("remove label: %v", err)
	}
	if got := gh.Labels("acme/web", n); !slices.Equal(got, []string{"bug"}) {
		t.Errorf("labels = %v", got)
	}
	if resp, _ := c.Issues.RemoveLabelForIssue(ctx(t), "acme", "web", n, "deploy:staging"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("removing an absent label: status %d, want 404", resp.StatusCode)
	}
}

func TestIssueForEmergencyReview(t *testing.T) {
	gh, inst := newFake(t)
	c := installationClient(t, gh, inst)
	is, _, err := c.Issues.Create(ctx(t), "acme", "web", &github.IssueRequest{Title: github.String("Review emergency change"), Labels: &[]string{"emergency"}})
	if err != nil {
		t.Fatal(err)
	}
	got := gh.Issues("acme/web")
	if len(got) != 1 || got[0].Number != is.GetNumber() || got[0].Author != "tollgate[bot]" || got[0].IsPull {
		t.Errorf("issues = %+v", got)
	}
}
