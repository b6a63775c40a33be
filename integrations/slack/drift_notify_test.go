package slack

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
)

// TestDriftAlertEscapesWhatTheIntruderNamed: the paths of a drift are
// named by whoever created the files; a name like "<!channel>" or a link
// is shown as text, never as a mention or a link, and a long list is cut
// with a count of the rest.
func TestDriftAlertEscapesWhatTheIntruderNamed(t *testing.T) {
	many := make([]string, 30)
	for i := range many {
		many[i] = fmt.Sprintf("d/f%02d.php", i)
	}
	c := bot.DriftCheck{Repo: "acme/shop", Environment: "production", Expected: bot.LiveRelease{Release: "20261206100000-abcdef1"},
		Servers: []bot.DriftServer{
			{Server: "web1:22", Live: "20261206100000-abcdef1"},
			{Server: "web2:22", Paths: map[string][]string{"added": {"<!channel>.php", "<https://evil.example|invoice>.pdf"}},
				Findings: []string{"unexpected_release: current points at release X"}},
			{Server: "web3:22", Paths: map[string][]string{"changed": many}},
		}}
	text := driftText(c)
	for _, bad := range []string{"<!channel>", "<https://evil", "web1:22"} {
		if strings.Contains(text, bad) {
			t.Errorf("the alert contains %q:\n%s", bad, text)
		}
	}
	for _, want := range []string{"*Drift on acme/shop production*", "release 20261206100000-abcdef1",
		"• web2:22: unexpected_release: current points at release X, added &lt;!channel&gt;.php, added &lt;https://evil.example|invoice&gt;.pdf",
		"changed d/f19.php, and 10 more", "tollgate drift --environment acme/shop/production"} {
		if !strings.Contains(text, want) {
			t.Errorf("the alert lacks %q:\n%s", want, text)
		}
	}
}
