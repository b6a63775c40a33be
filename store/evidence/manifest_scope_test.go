package evidence

import "testing"

func TestParseRangeLine(t *testing.T) {
	const rng = "2025-03-01T00:00:00Z .. 2025-04-01T00:00:00Z (end excluded)"
	tests := []struct {
		line, repo, env string
		signed          bool
		err             bool
	}{
		{line: rng}, // written before filters were signed: scope unknown
		{line: rng + "; all repositories; all environments", signed: true},
		{line: rng + `; repository "acme/shop"; all environments`, repo: "acme/shop", signed: true},
		{line: rng + `; all repositories; environment "a; b"`, env: "a; b", signed: true},
		{line: rng + "; all repositories", err: true},
		{line: rng + `; repository acme/shop; all environments`, err: true},
		{line: rng + `; repository ""; all environments`, err: true},
		{line: rng + "; all repositories; all environments; more", err: true},
	}
	for _, tt := range tests {
		var c PackCheck
		err := parseRangeLine(tt.line, &c)
		if (err != nil) != tt.err || c.Repo != tt.repo || c.Environment != tt.env || c.FiltersSigned != tt.signed {
			t.Errorf("parseRangeLine(%q) = repo %q env %q signed %v, %v", tt.line, c.Repo, c.Environment, c.FiltersSigned, err)
		}
		if !tt.err && c.Range != rng {
			t.Errorf("parseRangeLine(%q) range %q", tt.line, c.Range)
		}
	}
	if s := (PackCheck{}).Scope(); s != "repository and environment filters not recorded in the MANIFEST: the pack may be filtered" {
		t.Errorf("scope of an old MANIFEST: %s", s)
	}
}
