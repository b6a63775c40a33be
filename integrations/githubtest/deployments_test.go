package githubtest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
)

func TestDeploymentWithStatusesReadBack(t *testing.T) {
	gh, inst := newFake(t)
	c := installationClient(t, gh, inst)
	head := gh.BranchHead("acme/web", "main")

	d, _, err := c.Repositories.CreateDeployment(ctx(t), "acme", "web", &github.DeploymentRequest{
		Ref: github.String(head), Environment: github.String("staging"), AutoMerge: github.Bool(false),
		RequiredContexts: &[]string{}, Payload: map[string]any{"request_id": "r-1"},
		TransientEnvironment: github.Bool(false), ProductionEnvironment: github.Bool(false),
		Description: github.String("Deploy r-1"),
	})
	if err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	if d.GetSHA() != head || d.GetEnvironment() != "staging" || d.GetCreator().GetLogin() != "tollgate[bot]" {
		t.Fatalf("deployment = sha %s env %s creator %s", d.GetSHA(), d.GetEnvironment(), d.GetCreator().GetLogin())
	}
	var payload map[string]string
	if err := json.Unmarshal(d.Payload, &payload); err != nil || payload["request_id"] != "r-1" {
		t.Errorf("payload = %s (%v)", d.Payload, err)
	}
	for _, st := range []string{"queued", "in_progress", "success"} {
		_, _, err := c.Repositories.CreateDeploymentStatus(ctx(t), "acme", "web", d.GetID(), &github.DeploymentStatusRequest{
			State: github.String(st), LogURL: github.String("https://tollgate.example/deployments/1"),
			EnvironmentURL: github.String("https://staging.example"), Description: github.String("tree 12 root ab12cd"),
			AutoInactive: github.Bool(true),
		})
		if err != nil {
			t.Fatalf("status %s: %v", st, err)
		}
	}
	if got := gh.DeploymentStatuses("acme/web", d.GetID()); !slices.Equal(got, []string{"queued", "in_progress", "success"}) {
		t.Errorf("recorded statuses = %v", got)
	}
	list, _, err := c.Repositories.ListDeploymentStatuses(ctx(t), "acme", "web", d.GetID(), nil)
	if err != nil || len(list) != 3 || list[0].GetState() != "success" || list[0].GetLogURL() == "" {
		t.Fatalf("list statuses (newest first) = %v, %v", list, err)
	}
	deps, _, err := c.Repositories.ListDeployments(ctx(t), "acme", "web", &github.DeploymentsListOptions{Environment: "staging"})
	if err != nil || len(deps) != 1 || deps[0].GetID() != d.GetID() {
		t.Errorf("list deployments = %v, %v", deps, err)
	}

	// A second successful staging deployment makes the first inactive.
	d2, _, err := c.Repositories.CreateDeployment(ctx(t), "acme", "web", &github.DeploymentRequest{
		Ref: github.String(head), Environment: github.String("staging"), AutoMerge: github.Bool(false), RequiredContexts: &[]string{},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Repositories.CreateDeploymentStatus(ctx(t), "acme", "web", d2.GetID(), &github.DeploymentStatusRequest{State: github.String("success")}); err != nil {
		t.Fatal(err)
	}
	if got := gh.DeploymentStatuses("acme/web", d.GetID()); got[len(got)-1] != "inactive" {
		t.Errorf("first deployment statuses after second success = %v, want trailing inactive", got)
	}
}

func TestDeploymentRefusals(t *testing.T) {
	gh, inst := newFake(t)
	c := installationClient(t, gh, inst)
	base := gh.BranchHead("acme/web", "main")
	gh.SetStatus("acme/web", base, "ci/test", "failure")
	gh.AddCommit("acme/web", "main", sha("newer"))

	tests := []struct {
		name string
		req  github.DeploymentRequest
		want int
	}{
		{"unknown ref", github.DeploymentRequest{Ref: github.String("nope"), AutoMerge: github.Bool(false)}, http.StatusUnprocessableEntity},
		{"red checks when contexts not waived", github.DeploymentRequest{Ref: github.String(base), AutoMerge: github.Bool(false)}, http.StatusConflict},
		{"auto_merge of a commit behind main", github.DeploymentRequest{Ref: github.String(base), RequiredContexts: &[]string{}}, http.StatusConflict},
		{"checks waived, no auto merge", github.DeploymentRequest{Ref: github.String(base), AutoMerge: github.Bool(false), RequiredContexts: &[]string{}}, http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resp, _ := c.Repositories.CreateDeployment(ctx(t), "acme", "web", &tt.req)
			if resp == nil || resp.StatusCode != tt.want {
				t.Fatalf("status %v, want %d", resp, tt.want)
			}
		})
	}

	d := gh.Deployments("acme/web")[0]
	_, resp, _ := c.Repositories.CreateDeploymentStatus(ctx(t), "acme", "web", d.ID, &github.DeploymentStatusRequest{
		State: github.String("success"), Description: github.String(strings.Repeat("x", 141)),
	})
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("141-char description: status %d, want 422", resp.StatusCode)
	}
	_, resp, _ = c.Repositories.CreateDeploymentStatus(ctx(t), "acme", "web", d.ID, &github.DeploymentStatusRequest{State: github.String("done")})
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("unknown state: status %d, want 422", resp.StatusCode)
	}
	if got := gh.DeploymentStatuses("acme/web", d.ID); len(got) != 0 {
		t.Errorf("refused statuses were recorded: %v", got)
	}
}

func TestDeploymentCreatedBySomeoneElse(t *testing.T) {
	gh, inst := newFake(t)
	id, err := gh.CreateDeployment("acme/web", "main", "production", "carol")
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := installationClient(t, gh, inst).Repositories.GetDeployment(ctx(t), "acme", "web", id)
	if err != nil || d.GetCreator().GetLogin() != "carol" || d.GetSHA() != gh.BranchHead("acme/web", "main") {
		t.Fatalf("deployment = %+v, %v", d, err)
	}
}
