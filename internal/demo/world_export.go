package demo

import (
	"context"
	"path/filepath"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
)

// The demo's repository and its Slack channel.
const (
	Repo    = demoRepo
	Channel = demoChannel
	// ChannelName is the channel's name.
	ChannelName = demoChanName
)

// Person is someone of the demo's cast: a GitHub login and a Slack user.
type Person struct{ Login, SlackID string }

// Cast lists the demo's people in order: alice (a developer), bob and
// carol (leads), dan (on call).
func Cast() []Person {
	out := make([]Person, len(demoCast))
	for i, p := range demoCast {
		out[i] = Person{Login: p.Login, SlackID: p.SlackID}
	}
	return out
}

// World is the demo's world without the story: the fake GitHub and Slack,
// in-process SSH targets and the demo's tollgate.yml, for tests that serve
// it themselves (the intake load test runs a child tollgate serve on it).
type World struct {
	GitHub        *githubtest.Server
	Slack         *slacktest.Server
	Config        *config.Config
	ConfigPath    string
	SigningSecret string // Slack's signing secret in the config
	close         func()
}

// StartWorld builds the world in dir for a server listening on addr.
func StartWorld(ctx context.Context, dir, addr string) (*World, error) {
	hist, err := makeDemoRepo(ctx, filepath.Join(dir, "shop"))
	if err != nil {
		return nil, err
	}
	fakes, err := startDemoFakes(ctx, hist)
	if err != nil {
		return nil, err
	}
	targets, err := startDemoTargets(dir)
	if err != nil {
		fakes.close()
		return nil, err
	}
	setup := demoSetup{Dir: dir, Listen: addr, PublicURL: "http://" + addr, Fakes: fakes, Targets: targets,
		SigningSecret: randomSecret()}
	cfg, _, cfgPath, err := writeDemoConfig(setup)
	if err != nil {
		targets.close()
		fakes.close()
		return nil, err
	}
	return &World{GitHub: fakes.gh, Slack: fakes.slack, Config: cfg, ConfigPath: cfgPath,
		SigningSecret: setup.SigningSecret, close: func() { targets.close(); fakes.close() }}, nil
}

// Close stops the fakes and the SSH targets.
func (w *World) Close() { w.close() }

// Files the demo leaves in its data directory.
const (
	ConfigName = demoConfigName // the generated tollgate.yml
	BackupName = demoBackupName // the database copy taken before the tamper step
)
