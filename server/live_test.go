package server

import (
	"slices"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/config"
)

const liveHead = `public_url: https://tollgate.example.com
database: /var/lib/tollgate/tollgate.db
audit:
  signing_key_file: /etc/tollgate/audit.key
github:
  app_id: 1
  private_key_file: /etc/tollgate/app.pem
  webhook_secret: s3cret
  org: acme
repositories:
`

// The environments page reads the policies in force on every view: the
// list follows a reload, and a caller reordering it changes nothing.
func TestLiveConfigListsThePoliciesInForce(t *testing.T) {
	// Gate-only environments have no servers, so no key files to write.
	env := func(repo, name string) string {
		return "  " + repo + ":\n    environments:\n      " + name + ":\n        gate_only: true\n        deployers: [backend]\n"
	}
	head := liveHead
	two := head + env("acme/web", "production") + env("acme/api", "staging")
	one := head + env("acme/api", "staging")
	mustLoad := func(yaml string) *loaded {
		cfg, _, err := config.Parse("tollgate.yml", []byte(yaml), nil)
		if err != nil {
			t.Fatal(err)
		}
		l, err := load(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	names := func(ps []*bot.EnvironmentPolicy) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Repo+"/"+p.Environment)
		}
		return out
	}
	lc := newLiveConfig(mustLoad(two))
	got := lc.Policies()
	if want := []string{"acme/api/staging", "acme/web/production"}; !slices.Equal(names(got), want) {
		t.Fatalf("policies %v, want %v", names(got), want)
	}
	got[0], got[1] = got[1], got[0]
	if again := names(lc.Policies()); again[0] != "acme/api/staging" {
		t.Errorf("reordering the returned list changed the next one: %v", again)
	}
	lc.Swap(mustLoad(one))
	if got := names(lc.Policies()); !slices.Equal(got, []string{"acme/api/staging"}) {
		t.Errorf("after a reload the policies are %v, want only acme/api/staging", got)
	}
}
