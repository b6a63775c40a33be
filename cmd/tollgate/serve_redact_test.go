package main

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/integrations/githubtest"
)

// e2eSecrets are staging's configured secrets with the characters that
// escaping changes: a double quote and a backslash, non-ASCII, and a single
// quote (which the shell command holds only in escaped form).
var e2eSecrets = []string{`q"uo\te-7Hx`, "nön-äscii✓-3Zq", "it's-a-secret-5Wd"}

// TestServeHealthCheckSecretsNeverLeave is issue 10's defect 4 through the
// real server: a merge deploys a release whose health check names the
// environment's secrets and prints them, and fails. No form of any secret
// (raw, Go- or JSON-quoted, shell- or URL-escaped) reaches the audit log,
// anything sent to GitHub (deployment statuses, the PR comment), the
// deployment log or serve's own log. Before the fix the command was
// %q-quoted before redaction, so the first secret reached the audit entry
// and the GitHub status escaped.
func TestServeHealthCheckSecretsNeverLeave(t *testing.T) {
	var quoted []string
	for _, s := range e2eSecrets {
		quoted = append(quoted, "'"+strings.ReplaceAll(s, "'", `'\''`)+"'")
	}
	e := newE2E(t, e2eOptions{healthCheck: "printf '%s\\n' " + strings.Join(quoted, " ") + " >&2; exit 1"})
	var list []string
	for _, s := range e2eSecrets {
		list = append(list, jsonString(s))
	}
	e.writeConfig(t, "secrets: ["+strings.Join(list, ", ")+"]")
	e.start(t)
	if code := e.sendMerge(t, githubtest.NewDeliveryID()); code/100 != 2 {
		t.Fatalf("merge webhook answered %d", code)
	}
	finished := e.waitAudit(t, "deploy.finished", 1)[0]
	if finished["result"] == "succeeded" {
		t.Fatalf("the health check passed: %v", finished)
	}
	waitFor(t, "the PR comment's outcome", func() bool { return len(e.gh.IssueComments(e2eRepo, 4)) > 0 })
	if code := e.stop(t); code != exitOK {
		t.Fatalf("serve exit code %d\n%s", code, e.stderr.String())
	}

	st := e.openDB(t)
	rows, err := st.DB().Query(`SELECT action, data FROM audit_entries ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var all strings.Builder
	for rows.Next() {
		var action, data string
		if err := rows.Scan(&action, &data); err != nil {
			t.Fatal(err)
		}
		all.WriteString(action + " " + data + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(all.String(), "[REDACTED]") {
		t.Errorf("the audit log redacted nothing; the test proves nothing:\n%s", all.String())
	}
	assertNoE2ESecret(t, "the audit log", all.String())
	for _, c := range e.gh.Calls() {
		assertNoE2ESecret(t, "a request to GitHub ("+c.Method+" "+c.Path+")", c.Path+"?"+c.Query.Encode()+" "+string(c.Body))
	}
	var logs strings.Builder
	rows, err = st.DB().Query(`SELECT data FROM deploy_logs ORDER BY request_id, chunk`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var chunk []byte
		if err := rows.Scan(&chunk); err != nil {
			t.Fatal(err)
		}
		logs.Write(chunk)
	}
	if err := rows.Err(); err != nil || logs.Len() == 0 {
		t.Fatalf("deployment logs: %v, %d bytes", err, logs.Len())
	}
	assertNoE2ESecret(t, "the deployment log", logs.String())
	assertNoE2ESecret(t, "serve's log", e.stderr.String())
}

// assertNoE2ESecret fails if any form of any of e2eSecrets is in text.
func assertNoE2ESecret(t *testing.T, where, text string) {
	t.Helper()
	inner := func(q string) string { return q[1 : len(q)-1] }
	for _, s := range e2eSecrets {
		j, _ := json.Marshal(s)
		forms := []string{s, inner(strconv.Quote(s)), inner(strconv.QuoteToASCII(s)), inner(string(j)),
			strings.ReplaceAll(s, "'", `'\''`), url.QueryEscape(s), url.PathEscape(s)}
		for _, f := range forms {
			forms = append(forms, inner(strconv.Quote(f))) // each form quoted again (range sees the first seven only)
		}
		for _, f := range forms {
			if strings.Contains(text, f) {
				t.Errorf("%s leaks secret %q as %q", where, s, f)
			}
		}
	}
}
