package slack

import "github.com/tollgate-dev/tollgate/config"

// ConfigRouting answers Routing from the configuration in force; current
// is called on every question, so a reload takes effect at once.
type ConfigRouting struct {
	Current func() *config.Config
}

// RepoForChannel implements Routing.
func (c ConfigRouting) RepoForChannel(channelID string) (string, bool) {
	return c.Current().RepoForChannel(channelID)
}

// Repositories implements Routing.
func (c ConfigRouting) Repositories() []string { return c.Current().RepositoryNames() }

// Environments implements Routing.
func (c ConfigRouting) Environments(repo string) []string {
	r, ok := c.Current().Repositories[repo]
	if !ok {
		return nil
	}
	return r.EnvironmentNames()
}
