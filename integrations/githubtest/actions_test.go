package githubtest

import (
	"net/http"
	"testing"
)

func TestProtectionRuleCallback(t *testing.T) {
	gh, inst := newFake(t)
	p, err := gh.Payloads().DeploymentProtectionRule("acme/web", 77, "production", gh.BranchHead("acme/web", "main"), "main", "alice")
	if err != nil {
		t.Fatal(err)
	}
	callback, _ := p.Get("deployment_callback_url").(string)
	c := installationClient(t, gh, inst)

	tests := []struct {
		name string
		body map[string]string
		want int
	}{
		{"approved", map[string]string{"environment_name": "production", "state": "approved", "comment": "2 approvals"}, http.StatusNoContent},
		{"bad state", map[string]string{"environment_name": "production", "state": "maybe"}, http.StatusUnprocessableEntity},
		{"no environment", map[string]string{"state": "rejected"}, http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := c.NewRequest("POST", callback, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			resp, _ := c.Do(ctx(t), req, nil)
			if resp == nil || resp.StatusCode != tt.want {
				t.Fatalf("status %v, want %d", resp, tt.want)
			}
		})
	}
	got := gh.ProtectionRuleCallbacks()
	if len(got) != 1 || got[0].RunID != 77 || got[0].State != "approved" || got[0].Environment != "production" || got[0].Repo != "acme/web" || got[0].Comment != "2 approvals" {
		t.Errorf("callbacks = %+v", got)
	}
}
