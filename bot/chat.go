package bot

// ChatIdentity is a person's account on a chat platform: the platform
// ("slack"), the workspace (a Slack team id) and the user id in it. A chat
// user acts in Tollgate only once linked to a GitHub account (Link).
type ChatIdentity struct {
	Platform  string
	Workspace string
	User      string
}

// PlatformSlack is Slack's platform name.
const PlatformSlack = "slack"

// String is "workspace/user", how audit entries and stored identities name
// the account ("T123/U456").
func (c ChatIdentity) String() string { return c.Workspace + "/" + c.User }

// Actor names the account as an audit actor: "slack:T123/U456".
func (c ChatIdentity) Actor() string {
	p := c.Platform
	if p == "" {
		p = "chat"
	}
	return p + ":" + c.String()
}

// complete reports whether every part is set.
func (c ChatIdentity) complete() bool { return c.Platform != "" && c.Workspace != "" && c.User != "" }
