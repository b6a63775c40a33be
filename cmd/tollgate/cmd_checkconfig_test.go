package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/config/configtest"
)

func TestCheckConfig(t *testing.T) {
	example := configtest.ExampleCopy(t)
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
		quiet      bool // nothing on stderr: no warning either
	}{
		{
			name:     "the example is valid and summarised, without a warning",
			args:     []string{example},
			wantCode: exitOK,
			quiet:    true,
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
				bad + ":1: error: github: required key is missing\n" +
					bad + `:1: error: public_url: invalid URL "ftp://x": want an absolute http:// or https:// URL` + "\n" +
					bad + ":1: error: repositories: required key is missing\n" +
					bad + `:2: error: listen: invalid address "8080" (use host:port, e.g. ":8080")` + "\n" +
					bad + ": invalid (6 errors)\n",
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
			if tc.quiet && stderr.Len() > 0 {
				t.Errorf("stderr, want none:\n%s", stderr.String())
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

// Errors and warnings print together in line order, each marked, and a
// misspelt required_approvals is not also "deploys without any approval".
func TestCheckConfigPrintsProblemsInLineOrder(t *testing.T) {
	path := configtest.ExampleCopy(t)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "required_approvals: 1", "required_aprovals: 1", 1) // a typo, in production
	s = strings.Replace(s, "signing_key_file: example-keys/audit-signing.key", "signing_key_file: example-keys/audit-signing.key\n  colour: blue", 1)
	writeTestFile(t, path, s)
	if err := os.Chmod(filepath.Join(filepath.Dir(path), "example-keys", "hmac.key"), 0o644); err != nil { // a warning
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "check-config", "--config", path)
	if code != exitUsage || out != "" {
		t.Fatalf("exit %d, want %d and nothing on stdout\n%s%s", code, exitUsage, out, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
	var got []string
	last := 0
	for _, l := range lines[:len(lines)-1] {
		m := regexp.MustCompile(`^` + regexp.QuoteMeta(path) + `:(\d+): (error|warning): `).FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line not marked: %q\n%s", l, errOut)
		}
		n, _ := strconv.Atoi(m[1])
		if n < last {
			t.Errorf("line %d printed after line %d:\n%s", n, last, errOut)
		}
		last = n
		got = append(got, m[2])
	}
	if strings.Join(got, ",") != "error,warning,error" || !strings.Contains(errOut, `required_aprovals: unknown key (did you mean "required_approvals"?)`) ||
		strings.Contains(errOut, "without any approval") || lines[len(lines)-1] != path+": invalid (2 errors, 1 warning)" {
		t.Errorf("check-config printed:\n%s", errOut)
	}
}
