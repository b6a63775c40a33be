package doctor

import (
	"fmt"
	"strings"

	"github.com/tollgate-dev/tollgate/integrations/web"
)

// checkWebLogin checks that the pages auditors and deployment statuses
// link to are served: they exist only behind the GitHub login.
func (d *doctor) checkWebLogin() {
	const what = "web pages behind GitHub login"
	base := strings.TrimSuffix(d.cfg.PublicURL, "/")
	if !d.cfg.GitHub.WebLoginConfigured() {
		d.fail(areaAuthentication, what, "github.oauth_client_id and github.oauth_client_secret are not set: "+
			"the deployment log pages (the log_url of every GitHub deployment status) answer 503",
			fmt.Sprintf("set github.oauth_client_id and github.oauth_client_secret to the GitHub App's OAuth client "+
				"(tollgate setup writes them) and list %s%s in the App's callback URLs", base, web.PathCallback))
		return
	}
	d.pass(areaAuthentication, what, fmt.Sprintf("members of %s sign in at %s%s", d.cfg.GitHub.Org, base, web.PathLogin))
}
