package githubtest

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-github/v60/github"
)

func TestManifestFlow(t *testing.T) {
	gh, _ := newFake(t)
	manifest := `{"name":"Tollgate Acme","url":"https://tollgate.example","redirect_url":"http://localhost:9999/setup/done","hook_attributes":{"url":"https://tollgate.example/webhooks/github"}}`
	resp, err := noRedirect.PostForm(gh.URL()+"/organizations/acme/settings/apps/new?state=xyz", url.Values{"manifest": {manifest}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Path != "/setup/done" || loc.Query().Get("state") != "xyz" || loc.Query().Get("code") == "" {
		t.Fatalf("form post: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	c, _ := github.NewClient(nil).WithEnterpriseURLs(gh.URL(), gh.URL())
	cfg, _, err := c.Apps.CompleteAppManifest(ctx(t), loc.Query().Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	clientID, clientSecret := gh.AppOAuthClient()
	if cfg.GetID() != gh.AppID() || !bytes.Equal([]byte(cfg.GetPEM()), gh.AppPrivateKeyPEM()) || cfg.GetWebhookSecret() != gh.WebhookSecret() ||
		cfg.GetClientID() != clientID || cfg.GetClientSecret() != clientSecret || cfg.GetName() != "Tollgate Acme" {
		t.Errorf("conversion = %+v", cfg)
	}
	if _, resp, _ := c.Apps.CompleteAppManifest(ctx(t), loc.Query().Get("code")); resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("second conversion of the code: %v, want 404", resp)
	}
	if got := gh.Manifests(); len(got) != 1 || string(got[0]) != manifest {
		t.Errorf("manifests = %s", got)
	}
}
