package evidence_test

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/evidence"
	"github.com/tollgate-dev/tollgate/store/evidence/evidencetest"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// historySize is the number of deploy requests generated through bot.Service.
const historySize = 520

func buildPack(t *testing.T, h *evidencetest.History, out string, sample int, seed uint64) *evidence.Summary {
	t.Helper()
	sum, err := evidence.Build(context.Background(), h.Store, evidence.Options{
		Range: evidence.Range{From: h.From, To: h.To}, SampleSize: sample, Seed: seed, Out: out,
		Signer: h.Keys.Signer, Verifier: h.Keys.Verifier, Now: h.Clock.Now, Source: "tollgate.db",
	})
	if err != nil {
		t.Fatalf("evidence.Build: %v", err)
	}
	return sum
}

// readCSV returns the rows of a pack CSV as maps by column name.
func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

func count(t *testing.T, h *evidencetest.History, query string, args ...any) int {
	t.Helper()
	var n int
	if err := h.Store.DB().QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestPackOfGeneratedHistory(t *testing.T) { storetest.Run(t, testPackOfGeneratedHistory) }

func testPackOfGeneratedHistory(t *testing.T) {
	h := evidencetest.Build(t, historySize, 42)
	out := filepath.Join(t.TempDir(), "pack")
	sum := buildPack(t, h, out, 25, 7)
	changes := readCSV(t, filepath.Join(out, "changes.csv"))

	t.Run("counts reconcile with the audit log", func(t *testing.T) {
		created := count(t, h, `SELECT count(*) FROM audit_entries WHERE action = 'request.created'`)
		finished := count(t, h, `SELECT count(*) FROM audit_entries WHERE action IN ('deploy.finished', 'deploy.interrupted')`)
		started := count(t, h, `SELECT count(*) FROM audit_entries WHERE action = 'deploy.started'`)
		if created < historySize || len(changes) != created || count(t, h, `SELECT count(*) FROM requests`) != created {
			t.Fatalf("changes.csv has %d rows, the audit log %d request.created entries (want at least %d)", len(changes), created, historySize)
		}
		var withStart, withEnd int
		perEnv := map[string]int{}
		for _, c := range changes {
			perEnv[c["environment"]]++
			if c["deploy_started"] != "" {
				withStart++
			}
			if c["deploy_finished"] != "" {
				withEnd++
			}
		}
		if withStart != started || withEnd != finished {
			t.Errorf("rows with deploy start/end %d/%d, audit log deploy.started %d, deploy.finished %d", withStart, withEnd, started, finished)
		}
		for env, n := range h.Created {
			if perEnv[env] != n {
				t.Errorf("%s: %d rows, %d requests created", env, perEnv[env], n)
			}
		}
		if len(perEnv) != 3 {
			t.Errorf("environments in changes.csv: %v, want staging, canary and production", perEnv)
		}
		rec, _ := os.ReadFile(filepath.Join(out, "reconciliation.txt"))
		if !sum.Reconciliation.OK() || !strings.Contains(string(rec), "RECONCILED: changes.csv is the complete population") {
			t.Errorf("reconciliation.txt:\n%s", rec)
		}
	})

	t.Run("production changes were approved before the deploy by independent people", func(t *testing.T) {
		n := 0
		for _, c := range changes {
			if c["environment"] != "production" || c["trigger"] == "emergency" || c["deploy_started"] == "" {
				continue
			}
			n++
			approvers, times := strings.Split(c["approvers"], "; "), strings.Split(c["approval_times"], "; ")
			if len(approvers) < 2 || len(times) != len(approvers) || len(slices.Compact(slices.Sorted(slices.Values(approvers)))) != len(approvers) {
				t.Errorf("%s: approvers %q at %q, want two distinct", c["request_id"], c["approvers"], c["approval_times"])
			}
			for i, a := range approvers {
				if !(times[i] < c["deploy_started"]) {
					t.Errorf("%s: %s approved at %s, not before the deploy started at %s", c["request_id"], a, times[i], c["deploy_started"])
				}
				if strings.EqualFold(a, c["requester"]) || strings.EqualFold(a, c["pr_author"]) {
					t.Errorf("%s: approver %s is the requester %s or PR author %s", c["request_id"], a, c["requester"], c["pr_author"])
				}
			}
			if c["reviewers"] == "" || c["manifest_digest"] == "" || c["servers"] == "" || c["audit_seq_created"] == "" {
				t.Errorf("%s: incomplete row %v", c["request_id"], c)
			}
		}
		if n < 100 {
			t.Fatalf("only %d approved production deploys in the history", n)
		}
	})

	t.Run("emergency changes carry their review, and overdue or unacceptable ones are the only exceptions", func(t *testing.T) {
		emergency := readCSV(t, filepath.Join(out, "emergency_changes.csv"))
		if len(emergency) != h.Emergencies || h.Emergencies < 3 {
			t.Fatalf("emergency_changes.csv has %d rows, %d emergency changes were made", len(emergency), h.Emergencies)
		}
		want := []struct{ outcome, reviewer, overdue string }{{"acceptable", "carol", "false"}, {"not_acceptable", "dave", "true"}}
		overdue := 0
		for i, e := range emergency {
			if e["deployer"] != "gina" || !strings.HasPrefix(e["reason"], "INC-") || e["review_opened_at"] == "" || e["result"] != "succeeded" {
				t.Errorf("emergency row %v", e)
			}
			w := struct{ outcome, reviewer, overdue string }{"pending", "", "true"}
			if i < len(want) {
				w = want[i]
			}
			if e["review_outcome"] != w.outcome || e["reviewer"] != w.reviewer || e["overdue"] != w.overdue {
				t.Errorf("emergency %s: review %s by %q overdue %s, want %s by %q overdue %s", e["request_id"],
					e["review_outcome"], e["reviewer"], e["overdue"], w.outcome, w.reviewer, w.overdue)
			}
			if e["overdue"] == "true" {
				overdue++
			}
		}
		if emergency[0]["review_latency_hours"] != "3.00" {
			t.Errorf("first emergency review latency %q h, want 3.00", emergency[0]["review_latency_hours"])
		}
		got := map[string]int{}
		for _, e := range sum.Exceptions {
			got[e.Code]++
		}
		if len(got) != 2 || got[evidence.ExcEmergencyReviewOverdue] != overdue || got[evidence.ExcEmergencyNotAcceptable] != 1 {
			t.Errorf("exceptions %v, want %d overdue emergency reviews and 1 not acceptable: %v", got, overdue, sum.Exceptions)
		}
	})

	t.Run("every refusal is listed with its reason", func(t *testing.T) {
		refusals := readCSV(t, filepath.Join(out, "refusals.csv"))
		refused := `json_extract(data, '$.allowed') = 0`
		if storetest.EngineOf(t) == storetest.Postgres {
			refused = `(data::jsonb ->> 'allowed') = 'false'`
		}
		want := count(t, h, `SELECT count(*) FROM audit_entries WHERE action IN ('approval.refused', 'action.refused')
			OR (action = 'policy.decided' AND `+refused+`)`)
		if len(refusals) != want {
			t.Errorf("refusals.csv has %d rows, the audit log %d refusals", len(refusals), want)
		}
		codes := map[string]bool{}
		for _, r := range refusals {
			codes[r["code"]] = true
			if r["reason"] == "" || r["actor"] == "" {
				t.Errorf("refusal without reason or actor: %v", r)
			}
		}
		for _, code := range []string{"not_deployer", "checks_not_green", "self_approval", "locked", "freeze_window"} {
			if !codes[code] {
				t.Errorf("no refusal with code %s; codes: %v", code, codes)
			}
		}
	})

	t.Run("locks, freezes and access changes are listed", func(t *testing.T) {
		events := map[string]int{}
		for _, r := range readCSV(t, filepath.Join(out, "locks_and_freezes.csv")) {
			events[r["event"]]++
		}
		if events["lock.acquired"] == 0 || events["lock.released"] != events["lock.acquired"] || events["freeze_window.refused"] == 0 {
			t.Errorf("locks_and_freezes.csv events: %v", events)
		}
		access := map[string]string{}
		for _, r := range readCSV(t, filepath.Join(out, "access_changes.csv")) {
			access[r["event"]+" "+r["login"]] = r["revoked_at"]
		}
		for _, want := range []string{"identity.linked alice", "identity.unlinked frank", "access.revoked frank"} {
			if _, ok := access[want]; !ok {
				t.Errorf("access_changes.csv lacks %q: %v", want, access)
			}
		}
		var reviews []string
		for _, r := range readCSV(t, filepath.Join(out, "access_reviews.csv")) {
			reviews = append(reviews, r["event"]+" "+r["outcome"]+" "+r["reviewer"])
		}
		wantReviews := []string{"access_review.snapshot  ", "access_review.signed_off no_changes erin",
			"access_review.snapshot  ", "access_review.signed_off changes_needed erin"}
		if !slices.Equal(reviews, wantReviews) {
			t.Errorf("access_reviews.csv:\n%s\nwant:\n%s", strings.Join(reviews, "\n"), strings.Join(wantReviews, "\n"))
		}
	})

	t.Run("sample folders are complete and their proofs check", func(t *testing.T) {
		folders, err := os.ReadDir(filepath.Join(out, "sample"))
		if err != nil || len(folders) != 25 {
			t.Fatalf("sample/ has %d folders (%v), want 25", len(folders), err)
		}
		for _, f := range folders {
			dir := filepath.Join(out, "sample", f.Name())
			for _, name := range evidence.SampleFiles {
				if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() == 0 {
					t.Errorf("%s: %s missing or empty (%v)", f.Name(), name, err)
				}
			}
			proofs, _ := filepath.Glob(filepath.Join(dir, "audit", "*.proof"))
			if want := count(t, h, `SELECT count(*) FROM audit_entries WHERE subject = ?`, f.Name()); len(proofs) != want || want < 6 {
				t.Errorf("%s: %d proofs, %d audit entries about it", f.Name(), len(proofs), want)
			}
			for _, pf := range proofs {
				text, _ := os.ReadFile(pf)
				p, err := audit.ParseInclusionProof(text)
				if err != nil {
					t.Fatalf("%s: %v", pf, err)
				}
				if _, err := audit.CheckInclusionProof(p, h.Keys.Verifier); err != nil || p.Subject != f.Name() {
					t.Errorf("%s: proof of %s does not check: %v", pf, p.Subject, err)
				}
			}
		}
	})

	t.Run("audit.jsonl is proven to be the signed log's entries", func(t *testing.T) {
		res, err := evidence.CheckSegmentFiles(filepath.Join(out, "audit.jsonl"), filepath.Join(out, "audit.proof"), h.Keys.Verifier)
		all := int64(count(t, h, `SELECT count(*) FROM audit_entries`))
		if err != nil || res.Lines != all || res.Covered != all {
			t.Fatalf("audit.jsonl: %d lines, %d proven of %d: %v", res.Lines, res.Covered, all, err)
		}
	})

	t.Run("report.html is one self-contained page", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(out, "report.html"))
		if err != nil {
			t.Fatal(err)
		}
		page := string(b)
		external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?\s*(https?:|//|ftp:|data:)|<script|<link|<iframe|@import|url\(`)
		if m := external.FindString(page); m != "" {
			t.Errorf("report.html refers outside itself: %q", m)
		}
		for _, want := range []string{"<svg", "Changes per week", "Approval lead time", "Emergency changes and review latency",
			"Refusals by reason", `href="changes.csv"`, `href="sample/`, "emergency_review_overdue", "changes.csv reconciles"} {
			if !strings.Contains(page, want) {
				t.Errorf("report.html lacks %q", want)
			}
		}
	})

	t.Run("controls.md maps every control to pack files", func(t *testing.T) {
		b, _ := os.ReadFile(filepath.Join(out, "controls.md"))
		for _, c := range []string{"CC6.1", "CC6.2", "CC6.3", "CC7.1", "CC7.2", "CC8.1", "A.9.2.3", "A.9.4.2", "A.12.4.1",
			"A.14.2.2", "§164.312(a)(1)", "§164.312(b)", "§164.312(d)", "§164.312(e)(1)", "6.4", "7.1", "8.3", "10.1"} {
			line := lineWith(string(b), "| "+c)
			if line == "" || !strings.Contains(line, ".csv") && !strings.Contains(line, ".txt") && !strings.Contains(line, ".jsonl") && !strings.Contains(line, "sample/") {
				t.Errorf("controls.md: %s not mapped to a pack file: %q", c, line)
			}
		}
	})

	t.Run("the same seed draws the same sample", func(t *testing.T) {
		// Smaller draws keep this fast: with one seed the draw is one fixed
		// permutation, so the first 5 are among the first 25.
		first, _ := os.ReadDir(filepath.Join(out, "sample"))
		drawn := map[string]bool{}
		for _, e := range first {
			drawn[e.Name()] = true
		}
		within := func(seed uint64) bool {
			again := filepath.Join(t.TempDir(), "pack")
			buildPack(t, h, again, 5, seed)
			es, _ := os.ReadDir(filepath.Join(again, "sample"))
			all := len(es) == 5
			for _, e := range es {
				all = all && drawn[e.Name()]
			}
			return all
		}
		if !within(7) {
			t.Fatal("seed 7 drew changes outside its earlier draw")
		}
		if within(8) {
			t.Fatal("seed 8 drew the same changes as seed 7")
		}
	})

	t.Run("a request row that disagrees with the audit log is an exception", func(t *testing.T) {
		id := changes[10]["request_id"]
		if _, err := h.Store.DB().Exec(`UPDATE requests SET sha = 'feedfeedfeedfeedfeedfeedfeedfeedfeedfeed' WHERE id = ?`, id); err != nil {
			t.Fatal(err)
		}
		sum := buildPack(t, h, filepath.Join(t.TempDir(), "pack"), 0, 0)
		found := false
		for _, e := range sum.Exceptions {
			found = found || e.Code == evidence.ExcTableMismatch && e.RequestID == id && strings.Contains(e.Detail, "feedfeed")
		}
		if !found {
			t.Fatalf("no %s exception for %s: %v", evidence.ExcTableMismatch, id, sum.Exceptions)
		}
	})

	t.Run("entries after the last checkpoint are reported as an unsigned tail", func(t *testing.T) {
		h.Clock.Advance(time.Minute)
		if err := h.Store.AppendAudit(context.Background(), botEvent("config.reloaded")); err != nil {
			t.Fatal(err)
		}
		sum := buildPack(t, h, filepath.Join(t.TempDir(), "pack"), 0, 0)
		found := false
		for _, e := range sum.Exceptions {
			found = found || e.Code == evidence.ExcUnsignedTail
		}
		if !found {
			t.Fatalf("no %s exception: %v", evidence.ExcUnsignedTail, sum.Exceptions)
		}
	})
}

func lineWith(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
