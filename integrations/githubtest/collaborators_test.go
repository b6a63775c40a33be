package githubtest

import (
	"net/http"
	"testing"
)

// GET .../collaborators/{user}/permission answers like GitHub: the
// strongest of a collaborator role, the organisation's base permission for
// members (read by default) and admin for organisation owners, folded into
// admin/write/read/none; an unknown user is 404.
func TestCollaboratorPermission(t *testing.T) {
	gh, inst := newFake(t)
	gh.AddOrgMember("acme", "member", "member")
	gh.AddOrgMember("acme", "owner", "admin")
	gh.AddOrgMember("acme", "maintainer", "member")
	gh.SetCollaborator("acme/web", "maintainer", "maintain")
	gh.SetCollaborator("acme/web", "outsider", "triage")
	gh.AddUser("stranger")
	c := installationClient(t, gh, inst)
	for _, tc := range []struct{ user, want, role string }{
		{"member", "read", "read"},
		{"owner", "admin", "admin"},
		{"maintainer", "write", "maintain"},
		{"outsider", "read", "triage"},
		{"stranger", "none", "none"},
	} {
		got, _, err := c.Repositories.GetPermissionLevel(ctx(t), "acme", "web", tc.user)
		if err != nil || got.GetPermission() != tc.want || got.GetUser().GetLogin() != tc.user {
			t.Errorf("permission of %s = %v, %v; want %s", tc.user, got, err, tc.want)
		}
	}
	gh.SetBasePermission("acme", "write")
	if got, _, _ := c.Repositories.GetPermissionLevel(ctx(t), "acme", "web", "member"); got.GetPermission() != "write" {
		t.Errorf("member with base permission write has %q", got.GetPermission())
	}
	_, resp, err := c.Repositories.GetPermissionLevel(ctx(t), "acme", "web", "nobody")
	if err == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown user: %v, %v; want 404", resp, err)
	}
}

// A commit's tree is the same for the same files, as git's is.
func TestCommitTreeFollowsContent(t *testing.T) {
	gh, inst := newFake(t)
	files := map[string]string{"a.txt": "a\n"}
	for _, c := range []string{sha("one"), sha("two")} {
		if err := gh.SetTarball("acme/web", c, files); err != nil {
			t.Fatal(err)
		}
	}
	if err := gh.SetTarball("acme/web", sha("three"), map[string]string{"a.txt": "b\n"}); err != nil {
		t.Fatal(err)
	}
	c := installationClient(t, gh, inst)
	tree := func(commit string) string {
		rc, _, err := c.Repositories.GetCommit(ctx(t), "acme", "web", commit, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rc.GetCommit().GetTree().GetSHA()
	}
	if one, two, three, base := tree(sha("one")), tree(sha("two")), tree(sha("three")), tree(sha("base")); one != two || one == three || base == one || base == "" {
		t.Errorf("trees: one %s two %s three %s base %s", one, two, three, base)
	}
}
