package githubtest

import (
	"encoding/json"
	"io/fs"
	"path"
	"testing"
)

// Every copied payload is valid JSON and names the event it was recorded
// for, so a test that loads one gets what its file name says.
func TestFixturesAreRealPayloads(t *testing.T) {
	names, err := fs.Glob(embeddedFixtures, "testdata/github-webhooks/*.json")
	if err != nil || len(names) < 30 {
		t.Fatalf("embedded fixtures: %d files, %v", len(names), err)
	}
	for _, name := range names {
		b, err := Fixture(path.Base(name))
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if _, ok := v["sender"]; !ok {
			t.Errorf("%s: no sender: not a webhook payload", name)
		}
	}
}

func TestFixtureUnknownNameIsAnError(t *testing.T) {
	if _, err := Fixture("no_such_event.payload.json"); err == nil {
		t.Fatal("Fixture of a missing file returned no error")
	}
}
