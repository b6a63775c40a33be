package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	slackint "github.com/tollgate-dev/tollgate/integrations/slack"
)

// startsSpreadsheetFormula reports whether a spreadsheet would read cell
// as a formula: its first character (after spaces) is a trigger.
func startsSpreadsheetFormula(cell string) bool {
	cell = strings.TrimLeft(cell, " ")
	return cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0]))
}

// TestServeEvidenceCSVsRunNoFormula (issue 15 item 5) starts where the
// attacker does: a PR title and a deploy reason carrying a formula after
// a separator (`Fix;=cmd|' /C calc'!A0`, which Excel in a `;` locale
// splits into a cell of its own) reach Tollgate through the real server
// (a signed Slack command, a GitHub pull request), the deploy runs, and
// the auditor's `tollgate evidence` pack is opened as a spreadsheet in
// each dialect would: no cell of any CSV starts a formula, and the text
// is still there to read.
func TestServeEvidenceCSVsRunNoFormula(t *testing.T) {
	w := newSlackE2E(t)
	const payload = "Fix;=cmd|' /C calc'!A0"
	head, merge := fakeSHA("formula head"), fakeSHA("formula merge")
	w.gh.AddPullRequest(e2eRepo, githubtest.PullRequest{Number: 41, Title: payload, Author: "bob", HeadSHA: head, Base: "main"})
	w.gh.AddReview(e2eRepo, 41, githubtest.Review{User: "dave", State: "APPROVED"})
	w.gh.MergePullRequest(e2eRepo, 41, merge, "alice")
	w.gh.AddCommit(e2eRepo, "main", merge)
	w.gh.SetStatus(e2eRepo, merge, "build", "success")
	w.deployable(t, merge)
	w.start(t)
	for _, p := range []slackE2EPerson{slackAlice, slackCarol} {
		w.link(t, p)
	}
	w.slash(t, slackAlice, "production "+merge+" "+payload+" @+SUM(1;2)")
	msg := w.approvalMessage(t)
	w.click(t, slackCarol, msg.TS, slackint.ActionApprove, "Approve")
	waitFor(t, "the deploy's result in the thread", func() bool {
		th := w.threadTexts(msg.TS)
		return len(th) > 0 && strings.Contains(th[len(th)-1], ":white_check_mark: Deployed")
	})
	if code := w.stop(t); code != exitOK {
		t.Fatalf("serve exit %d\n%s", code, w.stderr)
	}

	pack := filepath.Join(t.TempDir(), "pack")
	day := time.Now().UTC()
	code, out, errOut := run(t, "evidence", "--config", w.configPath,
		"--from", day.AddDate(0, 0, -1).Format(time.DateOnly), "--to", day.AddDate(0, 0, 1).Format(time.DateOnly), "--out", pack)
	if code != exitOK {
		t.Fatalf("evidence exit %d\n%s\n%s", code, out, errOut)
	}
	csvs, _ := filepath.Glob(filepath.Join(pack, "*.csv"))
	if len(csvs) == 0 {
		t.Fatal("the pack has no CSV")
	}
	seen := false
	for _, f := range csvs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seen = seen || strings.Contains(string(b), "/C calc")
		for _, comma := range []rune{',', ';', '\t'} {
			r := csv.NewReader(strings.NewReader(string(b)))
			r.Comma, r.LazyQuotes, r.FieldsPerRecord = comma, true, -1
			recs, err := r.ReadAll()
			if err != nil {
				t.Fatalf("%s read with %q: %v", filepath.Base(f), comma, err)
			}
			for _, rec := range recs {
				for _, cell := range rec {
					if startsSpreadsheetFormula(cell) {
						t.Errorf("%s read with separator %q: cell %q would run as a formula", filepath.Base(f), comma, cell)
					}
				}
			}
		}
	}
	if !seen {
		t.Error("no CSV of the pack shows the PR title or the reason: the test did not exercise the cells")
	}
}
