package githubtest

import (
	"embed"
	"fmt"
)

// embeddedFixtures are the real GitHub webhook payloads this package builds
// deliveries from. They live in the repository (testdata/github-webhooks, see
// its README for their origin and licence), so tests and the demo work from a
// fresh clone with nothing beside it.
//
//go:embed testdata/github-webhooks/*.json
var embeddedFixtures embed.FS

// Fixture returns the webhook fixture file called name (for example
// "pull_request.closed.payload.json").
func Fixture(name string) ([]byte, error) {
	b, err := embeddedFixtures.ReadFile("testdata/github-webhooks/" + name)
	if err != nil {
		return nil, fmt.Errorf("read fixture %s: %w", name, err)
	}
	return b, nil
}
