package githubtest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-github/v60/github"
)

// receiver is a webhook endpoint that checks signatures independently.
type receiver struct {
	secret string
	mu     sync.Mutex
	got    []*http.Request
	bodies [][]byte
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m := hmac.New(sha256.New, []byte(rc.secret))
	m.Write(body)
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(r.Header.Get("X-Hub-Signature-256")), []byte(want)) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	rc.got, rc.bodies = append(rc.got, r), append(rc.bodies, body)
	rc.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func TestSendWebhookSignsLikeGitHub(t *testing.T) {
	gh, _ := newFake(t)
	rc := &receiver{secret: "s3cret"}
	target := httptest.NewServer(rc)
	defer target.Close()
	body := []byte(`{"zen":"Keep it logically awesome."}`)

	resp, err := gh.SendWebhook(ctx(t), target.URL, "s3cret", "ping", body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d, want 202 (signature accepted)", resp.StatusCode)
	}
	h := rc.got[0].Header
	id := resp.Request.Header.Get("X-GitHub-Delivery")
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(id) || h.Get("X-GitHub-Delivery") != id {
		t.Errorf("delivery id %q", id)
	}
	if h.Get("X-GitHub-Event") != "ping" || h.Get("Content-Type") != "application/json" ||
		!strings.HasPrefix(h.Get("User-Agent"), "GitHub-Hookshot/") || h.Get("X-GitHub-Hook-ID") == "" ||
		h.Get("X-GitHub-Hook-Installation-Target-ID") != strconv.FormatInt(gh.AppID(), 10) || !strings.HasPrefix(h.Get("X-Hub-Signature"), "sha1=") {
		t.Errorf("headers = %v", h)
	}
	if !bytes.Equal(rc.bodies[0], body) {
		t.Errorf("body changed in transit")
	}

	// A redelivery keeps its id; a wrong secret is refused by the receiver.
	resp, err = gh.SendWebhookDelivery(ctx(t), target.URL, "s3cret", "ping", id, body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = gh.SendWebhook(ctx(t), target.URL, "wrong", "ping", body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	d := gh.Deliveries()
	if len(d) != 3 || d[1].ID != id || d[1].Status != http.StatusAccepted || d[2].Status != http.StatusUnauthorized {
		t.Errorf("deliveries = %+v", d)
	}
}

func TestPayloadBuildersParseWithGoGitHub(t *testing.T) {
	gh, inst := newFake(t)
	n := gh.AddPullRequest("acme/web", PullRequest{Title: "Add cache", Author: "alice", HeadSHA: sha("head")})
	gh.MergePullRequest("acme/web", n, sha("merge"), "bob")
	depID, err := gh.CreateDeployment("acme/web", "main", "production", "carol")
	if err != nil {
		t.Fatal(err)
	}
	cmt := gh.AddIssueComment("acme/web", n, "dave", "/deploy production")
	gh.SetTeamMember("acme", "deployers", "erin", "")
	pl := gh.Payloads()

	tests := []struct {
		name  string
		build func() (Payload, error)
		check func(t *testing.T, ev any)
	}{
		{"merged PR", func() (Payload, error) { return pl.PullRequestMerged("acme/web", n, sha("merge"), "bob", "main") }, func(t *testing.T, ev any) {
			e := ev.(*github.PullRequestEvent)
			pr := e.GetPullRequest()
			if e.GetAction() != "closed" || !pr.GetMerged() || pr.GetMergeCommitSHA() != sha("merge") || pr.GetMergedBy().GetLogin() != "bob" ||
				pr.GetBase().GetRef() != "main" || pr.GetUser().GetLogin() != "alice" || e.GetSender().GetLogin() != "bob" ||
				e.GetRepo().GetFullName() != "acme/web" || e.GetInstallation().GetID() != inst || e.GetNumber() != n {
				t.Errorf("event = %+v", e)
			}
			if e.GetSender().GetID() != gh.UserID("bob") {
				t.Errorf("sender id %d, want the world's %d", e.GetSender().GetID(), gh.UserID("bob"))
			}
		}},
		{"labeled PR", func() (Payload, error) { return pl.PullRequestLabeled("acme/web", n, "deploy:staging", "dave") }, func(t *testing.T, ev any) {
			e := ev.(*github.PullRequestEvent)
			if e.GetAction() != "labeled" || e.GetLabel().GetName() != "deploy:staging" || e.GetSender().GetLogin() != "dave" || e.GetPullRequest().GetHead().GetSHA() != sha("head") {
				t.Errorf("event = %+v", e)
			}
		}},
		{"deployment created", func() (Payload, error) { return pl.DeploymentCreated("acme/web", depID) }, func(t *testing.T, ev any) {
			e := ev.(*github.DeploymentEvent)
			if e.GetDeployment().GetID() != depID || e.GetDeployment().GetCreator().GetLogin() != "carol" || e.GetDeployment().GetEnvironment() != "production" || e.GetInstallation().GetID() != inst {
				t.Errorf("event = %+v", e)
			}
		}},
		{"protection rule", func() (Payload, error) {
			return pl.DeploymentProtectionRule("acme/web", 4242, "production", sha("merge"), "main", "erin")
		}, func(t *testing.T, ev any) {
			e := ev.(*github.DeploymentProtectionRuleEvent)
			if e.GetAction() != "requested" || e.GetEnvironment() != "production" || e.GetDeployment().GetSHA() != sha("merge") ||
				!strings.HasSuffix(e.GetDeploymentCallbackURL(), "/repos/acme/web/actions/runs/4242/deployment_protection_rule") {
				t.Errorf("event = %+v", e)
			}
		}},
		{"membership removed", func() (Payload, error) { return pl.MembershipRemoved("acme", "deployers", "erin", "admin") }, func(t *testing.T, ev any) {
			e := ev.(*github.MembershipEvent)
			if e.GetAction() != "removed" || e.GetMember().GetLogin() != "erin" || e.GetTeam().GetSlug() != "deployers" || e.GetOrg().GetLogin() != "acme" {
				t.Errorf("event = %+v", e)
			}
		}},
		{"org member removed", func() (Payload, error) { return pl.OrganizationMemberRemoved("acme", "erin", "admin") }, func(t *testing.T, ev any) {
			e := ev.(*github.OrganizationEvent)
			if e.GetAction() != "member_removed" || e.GetMembership().GetUser().GetLogin() != "erin" {
				t.Errorf("event = %+v", e)
			}
		}},
		{"comment created", func() (Payload, error) { return pl.IssueCommentCreated("acme/web", cmt) }, func(t *testing.T, ev any) {
			e := ev.(*github.IssueCommentEvent)
			if e.GetAction() != "created" || e.GetComment().GetID() != cmt || e.GetComment().GetBody() != "/deploy production" ||
				!e.GetIssue().IsPullRequest() || e.GetIssue().GetNumber() != n || e.GetSender().GetLogin() != "dave" {
				t.Errorf("event = %+v", e)
			}
		}},
		{"comment edited", func() (Payload, error) { return pl.IssueCommentEdited("acme/web", cmt, "/deploy staging") }, func(t *testing.T, ev any) {
			e := ev.(*github.IssueCommentEvent)
			if e.GetAction() != "edited" || e.GetChanges().GetBody().GetFrom() != "/deploy staging" {
				t.Errorf("event = %+v", e)
			}
		}},
		{"installation created", func() (Payload, error) { return pl.InstallationCreated(inst, "admin") }, func(t *testing.T, ev any) {
			e := ev.(*github.InstallationEvent)
			if e.GetAction() != "created" || e.GetInstallation().GetID() != inst || len(e.Repositories) != 1 || e.Repositories[0].GetFullName() != "acme/web" {
				t.Errorf("event = %+v", e)
			}
		}},
		{"installation deleted", func() (Payload, error) { return pl.InstallationDeleted(inst, "admin") }, func(t *testing.T, ev any) {
			if e := ev.(*github.InstallationEvent); e.GetAction() != "deleted" || e.GetInstallation().GetAccount().GetLogin() != "acme" {
				t.Errorf("event = %+v", e)
			}
		}},
	}
	rc := &receiver{secret: "s"}
	target := httptest.NewServer(rc)
	defer target.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tt.build()
			if err != nil {
				t.Fatal(err)
			}
			resp, err := gh.SendPayload(ctx(t), target.URL, "s", p)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			rc.mu.Lock()
			req, body := rc.got[len(rc.got)-1], rc.bodies[len(rc.bodies)-1]
			rc.mu.Unlock()
			ev, err := github.ParseWebHook(req.Header.Get("X-GitHub-Event"), body)
			if err != nil {
				t.Fatalf("ParseWebHook(%s): %v", p.Event, err)
			}
			tt.check(t, ev)
		})
	}
}

func TestPayloadSetAndGet(t *testing.T) {
	p, err := LoadPayload("pull_request", "pull_request.labeled.payload.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		value      any
		wantErr    bool
	}{
		{"nested field", "pull_request.head.sha", "abc", false},
		{"array element", "pull_request.labels.0.name", "deploy:prod", false},
		{"new object on the way", "changes.title.from", "old", false},
		{"index out of range", "pull_request.labels.99.name", "x", true},
		{"through a string", "action.x", "x", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Set(tt.path, tt.value)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Set(%s) err %v", tt.path, err)
			}
			if !tt.wantErr && p.Get(tt.path) != tt.value {
				t.Errorf("Get(%s) = %v", tt.path, p.Get(tt.path))
			}
		})
	}
}
