package setup

import "testing"

func TestResolveGitHubURLs(t *testing.T) {
	tests := []struct {
		web, api         string
		wantWeb, wantAPI string
		dotCom           bool
	}{
		{"https://github.com", "", "https://github.com/", "https://api.github.com/", true},
		{"https://github.com/", "", "https://github.com/", "https://api.github.com/", true},
		{"https://ghe.acme.internal", "", "https://ghe.acme.internal/", "https://ghe.acme.internal/api/v3/", false},
		{"https://ghe.acme.internal/", "https://api.ghe.acme.internal", "https://ghe.acme.internal/", "https://api.ghe.acme.internal/", false},
	}
	for _, tc := range tests {
		t.Run(tc.web+" "+tc.api, func(t *testing.T) {
			g, err := resolveGitHubURLs(tc.web, tc.api)
			if err != nil || g.Web != tc.wantWeb || g.API != tc.wantAPI || g.isDotCom() != tc.dotCom {
				t.Fatalf("got %+v dotcom=%v, %v", g, g.isDotCom(), err)
			}
		})
	}
	if got := (githubURLs{Web: "https://github.com/"}).manifestFormAction("a b", "s1"); got != "https://github.com/organizations/a%20b/settings/apps/new?state=s1" {
		t.Errorf("org form action = %s", got)
	}
}
