package github_test

import (
	"strconv"
	"strings"
	"testing"

	tgh "github.com/tollgate-dev/tollgate/integrations/github"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
)

func TestInstallationEventsAreAudited(t *testing.T) {
	w := newHookWorld(t)
	build := []func() (githubtest.Payload, error){
		func() (githubtest.Payload, error) { return w.gh.Payloads().InstallationCreated(w.inst, "dave") },
		func() (githubtest.Payload, error) { return w.gh.Payloads().InstallationDeleted(w.inst, "dave") },
	}
	for _, b := range build {
		p, err := b()
		w.deliver(t, p, err)
	}
	for _, action := range []string{tgh.ActionInstallationCreated, tgh.ActionInstallationDeleted} {
		got := w.auditData(t, "acme", action)
		if len(got) != 1 || !strings.Contains(got[0], `"installation_id":`+strconv.FormatInt(w.inst, 10)) ||
			!strings.Contains(got[0], `"repositories":["acme/shop"]`) {
			t.Fatalf("%s: %v", action, got)
		}
	}
}
