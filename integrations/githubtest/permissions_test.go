package githubtest

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/google/go-github/v60/github"
)

// grants turns go-github's permissions struct back into GitHub's name→level map.
func grants(t *testing.T, p *github.InstallationPermissions) map[string]string {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestInstallationPermissionsAsTheAppSeesThem(t *testing.T) {
	reads := []struct {
		name string
		read func(t *testing.T, c *github.Client, inst int64) *github.InstallationPermissions
	}{
		{name: "organisation installation", read: func(t *testing.T, c *github.Client, _ int64) *github.InstallationPermissions {
			in, _, err := c.Apps.FindOrganizationInstallation(ctx(t), "acme")
			if err != nil {
				t.Fatal(err)
			}
			return in.GetPermissions()
		}},
		{name: "installation by id", read: func(t *testing.T, c *github.Client, inst int64) *github.InstallationPermissions {
			in, _, err := c.Apps.GetInstallation(ctx(t), inst)
			if err != nil {
				t.Fatal(err)
			}
			return in.GetPermissions()
		}},
		{name: "installation access token", read: func(t *testing.T, c *github.Client, inst int64) *github.InstallationPermissions {
			tok, _, err := c.Apps.CreateInstallationToken(ctx(t), inst, nil)
			if err != nil {
				t.Fatal(err)
			}
			return tok.GetPermissions()
		}},
	}
	for _, r := range reads {
		t.Run(r.name, func(t *testing.T) {
			gh, inst := newFake(t)
			c := appClient(t, gh)
			if got := grants(t, r.read(t, c, inst)); !maps.Equal(got, appPermissions()) {
				t.Fatalf("new installation grants %v, want the app's full set %v", got, appPermissions())
			}

			weak := appPermissions()
			weak["deployments"] = "read"
			delete(weak, "checks")
			gh.SetInstallationPermissions(inst, weak)
			weak["issues"] = "admin" // the fake keeps its own copy
			got := grants(t, r.read(t, c, inst))
			if got["deployments"] != "read" || got["checks"] != "" || got["issues"] != appPermissions()["issues"] {
				t.Fatalf("after SetInstallationPermissions the installation grants %v", got)
			}
			if got := gh.InstallationPermissions(inst); got["deployments"] != "read" {
				t.Fatalf("InstallationPermissions = %v", got)
			}

			gh.SetInstallationPermissions(inst, nil)
			if got := grants(t, r.read(t, c, inst)); !maps.Equal(got, appPermissions()) {
				t.Fatalf("after restoring, the installation grants %v", got)
			}
		})
	}
}
