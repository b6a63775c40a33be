package githubtest

import (
	"net/http"
	"testing"
)

func TestUserIdentityLikeGitHub(t *testing.T) {
	gh, inst := newFake(t)
	id := gh.AddUser("alice")
	if err := gh.RenameUser("alice", "alice2"); err != nil {
		t.Fatal(err)
	}
	c := installationClient(t, gh, inst)
	u, _, err := c.Users.Get(ctx(t), "alice2")
	if err != nil || u.GetID() != id {
		t.Fatalf("renamed user: %v %v, want id %d", u, err, id)
	}
	if _, resp, _ := c.Users.Get(ctx(t), "alice"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("old login: status %d, want 404", resp.StatusCode)
	}
	gh.DeleteUser("alice2")
	if again := gh.AddUser("alice2"); again == id {
		t.Errorf("recreated login kept id %d; GitHub gives a new one", id)
	}
}

func TestExpireTokensForcesUnauthorized(t *testing.T) {
	gh, inst := newFake(t)
	c := installationClient(t, gh, inst)
	if _, _, err := c.Repositories.Get(ctx(t), "acme", "web"); err != nil {
		t.Fatal(err)
	}
	gh.ExpireTokens()
	// ghinstallation still holds a token it thinks is fresh, as after a
	// revocation on GitHub: the API answers 401.
	if _, resp, _ := c.Repositories.Get(ctx(t), "acme", "web"); resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after ExpireTokens: %v, want 401", resp)
	}
	gh.RemoveInstallation(inst)
	if _, resp, _ := installationClient(t, gh, inst).Repositories.Get(ctx(t), "acme", "web"); resp != nil {
		t.Errorf("removed installation: got response %d, want the token exchange to fail", resp.StatusCode)
	}
}

func TestMatchPath(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"/repos/*/*/deployments", "/repos/acme/web/deployments", true},
		{"/repos/*/*/deployments", "/repos/acme/web/deployments/1", false},
		{"/repos/acme/**", "/repos/acme/web/deployments/1/statuses", true},
		{"/repos/acme/**", "/repos/other/web", false},
		{"/app/**", "/app", true},
	}
	for _, tt := range tests {
		if got := matchPath(tt.pattern, tt.path); got != tt.want {
			t.Errorf("matchPath(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}
