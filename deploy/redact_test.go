package deploy_test

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/deploy"
)

// leakSecrets are configured secrets with the characters that escaping
// changes: a double quote and a backslash, a newline, non-ASCII, and a
// single quote (which a shell command can only hold in escaped form).
var leakSecrets = []string{`q"uo\te-7Hx`, "multi\nline-9Kp", "nön-äscii✓-3Zq", "it's-a-secret-5Wd"}

// secretForms lists what a secret can look like after formatting: raw,
// Go-quoted (%q, %+q), JSON-escaped, shell-quoted and URL-escaped.
func secretForms(s string) []string {
	inner := func(q string) string { return q[1 : len(q)-1] }
	j, _ := json.Marshal(s)
	forms := []string{s, inner(strconv.Quote(s)), inner(strconv.QuoteToASCII(s)), inner(string(j)),
		strings.ReplaceAll(s, "'", `'\''`), url.QueryEscape(s), url.PathEscape(s)}
	for _, f := range forms[:] {
		forms = append(forms, inner(strconv.Quote(f)))
	}
	return forms
}

// assertNoSecret fails if any form of any secret appears in text.
func assertNoSecret(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range leakSecrets {
		for _, f := range secretForms(s) {
			if strings.Contains(text, f) {
				t.Errorf("%s leaks secret %q as %q:\n%s", where, s, f, text)
			}
		}
	}
}

// TestHealthCheckSecretsNeverLeave deploys with a failing health check
// whose command and URL carry secrets, and whose output prints them: the
// Result (as the audit data is built from it), the domain outcome, the
// error and the deployment log must not hold any secret in any escaping.
// Before the fix the command was %q-quoted before redaction, so a secret
// with a quote or backslash reached Result.Error escaped and unredacted.
func TestHealthCheckSecretsNeverLeave(t *testing.T) {
	shellQuoted := make([]string, len(leakSecrets))
	for i, s := range leakSecrets {
		shellQuoted[i] = "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	cases := []struct {
		name  string
		check deploy.HealthCheck
	}{
		{"command", deploy.HealthCheck{Command: "printf '%s\\n' " + strings.Join(shellQuoted, " ") + " >&2; exit 1"}},
		{"url", deploy.HealthCheck{URL: "http://127.0.0.1:1/health?token=" + url.QueryEscape(leakSecrets[0]) + "&raw=" + leakSecrets[2]}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forBackends(t, func(t *testing.T, b backend) {
				f := b.start(t, 1)
				r := newRepo(t)
				f.mustDeploy(t, r, r.write(map[string]string{"app.txt": "v1\n"}).commit("v1"))

				f.target.Secrets = leakSecrets
				tc.check.Interval, tc.check.Timeout = 10*time.Millisecond, 5*time.Second
				f.target.HealthCheck = tc.check
				f.target.Hooks.AfterSwitch = []string{"echo " + shellQuoted[1] + "; echo " + shellQuoted[3]}
				res, log, err := f.deploy(t, r, r.write(map[string]string{"app.txt": "v2\n"}).commit("v2"), deploy.ReleaseSpec{})
				if err == nil || res.Outcome != deploy.RolledBack {
					t.Fatalf("outcome %s, err %v", res.Outcome, err)
				}
				if res.Servers[0].Health == nil || res.Servers[0].Health.Detail == "" {
					t.Fatalf("no health detail recorded: %+v", res.Servers[0])
				}
				whole, _ := json.Marshal(res)
				outcome, _ := json.Marshal(deploy.Outcome(res))
				assertNoSecret(t, "Result", string(whole))
				assertNoSecret(t, "domain outcome", string(outcome))
				assertNoSecret(t, "error", err.Error())
				assertNoSecret(t, "deployment log", log)
				if !strings.Contains(string(whole), "[REDACTED]") {
					t.Errorf("nothing was redacted; the test proves nothing:\n%s", whole)
				}
			})
		})
	}
}
