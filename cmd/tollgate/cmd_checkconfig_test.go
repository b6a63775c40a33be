package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckConfig(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yml")
	if err := os.WriteFile(bad, []byte("public_url: ftp://x\nlisten: 8080\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noOAuth := writeConfigDir(t, targetsYAML, "audit.key", "app.pem", "staging.key", "production.key",
		"known_hosts_staging", "known_hosts_production")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{
			name:     "the example is valid and summarised",
			args:     []string{filepath.Join("..", "..", "testdata", "tollgate.example.yml")},
			wantCode: exitOK,
			wantStdout: []string{
				"tollgate.example.yml: valid (sha256 ",
				"approvers:  backend-leads, platform (1 required, valid 1h)",
				"Web pages: https://tollgate.example.com/environments, /audit, /deployments/<id> after a GitHub login, for members of acme",
				"callback URLs must include https://tollgate.example.com/login/callback",
			},
		},
		{
			name:       "without the OAuth client the web pages are off",
			args:       []string{noOAuth},
			wantCode:   exitOK,
			wantStdout: []string{"Web pages: not served (answer 503): github.oauth_client_id and github.oauth_client_secret are not set"},
		},
		{
			name:     "every problem is printed with its line",
			args:     []string{bad},
			wantCode: exitUsage,
			wantStderr: []string{
				bad + `:1: public_url: invalid URL "ftp://x": want an absolute http:// or https:// URL`,
				bad + `:2: listen: invalid address "8080" (use host:port, e.g. ":8080")`,
				bad + ":1: github: required key is missing",
				bad + ": invalid (",
			},
		},
		{
			name:       "a missing file",
			args:       []string{filepath.Join(t.TempDir(), "none.yml")},
			wantCode:   exitUsage,
			wantStderr: []string{"none.yml: no such file or directory"},
		},
		{
			name:       "two files is bad usage",
			args:       []string{"a.yml", "b.yml"},
			wantCode:   exitUsage,
			wantStderr: []string{`tollgate check-config: unexpected argument "b.yml"`, "usage: tollgate check-config [--config FILE]"},
		},
		{
			name:       "--config and a different positional file",
			args:       []string{"--config", "a.yml", "b.yml"},
			wantCode:   exitUsage,
			wantStderr: []string{"two files given (--config a.yml and b.yml): give one"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := dispatch(context.Background(), append([]string{"check-config"}, tc.args...), &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d\nstderr: %s", code, tc.wantCode, stderr.String())
			}
			for _, want := range tc.wantStdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			for _, want := range tc.wantStderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
		})
	}
}

// writeConfigDir writes yaml as tollgate.yml into a temp dir next to the
// files it names (placeholder contents, mode 0600) and returns its path.
func writeConfigDir(t *testing.T, yaml string, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		writeTestFile(t, filepath.Join(dir, f), f)
	}
	path := filepath.Join(dir, "tollgate.yml")
	writeTestFile(t, path, yaml)
	return path
}
