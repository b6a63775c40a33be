package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemoStory runs `tollgate demo --exit` and checks that each step of
// the story happened as a person reading the transcript would see it.
func TestDemoStory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := dispatch(ctx, []string{"demo", "--exit", "--data", dir}, &stdout, &stderr)
	out := stdout.String()
	if code != exitOK {
		t.Fatalf("demo exited %d\nstderr:\n%s\nstdout:\n%s", code, stderr.String(), out)
	}
	t.Logf("transcript:\n%s", out)

	steps := []struct {
		name string
		want string // a regular expression that must match the transcript
	}{
		{"Slack accounts are linked through GitHub OAuth", `@carol\s+/deploy link → .* → linked to GitHub carol`},
		{"the merge webhook is signed and accepted", `GitHub POST /webhooks/github  pull_request \(closed, merged into main\), signed X-Hub-Signature-256 → 202`},
		{"staging deploys the merge and GitHub shows success", `(?s)── 2\..*deployment \d+ status success\s+deployed [0-9a-f]{7}.*── 3\.`},
		{"the PR gets Tollgate's comment with the audit entry", `(?s)tollgate\[bot\] commented on PR #1:.*Deployed .* to \*\*staging\*\*.*\*\*Audit entry\*\* #\d+`},
		{"the approval request is posted with its buttons", `\[ Approve \] \(asks: Approve deploying .* to \*production\*\?\)  \[ Reject \]`},
		{"the requester's own click is refused and told why", `(?s)only @carol sees:\n\s+│ ⛔ you requested this deploy; someone else must approve it`},
		{"the refusal is audited", `audit #\d+\s+approval\.refused\s+carol\s+r-\S+\s+\(code=self_approval\)`},
		{"Bob's approval is counted in the message", `Approvals\*: 1 of 1: @bob \(bob\)`},
		{"both production servers run the release", `(?s)── 5\..*web-1\s+current → releases/(\S+)\n\s+web-2\s+current → releases/\S+.*── 6\.`},
		{"the log page of each deploy is served", `log page: http://127\.0\.0\.1:\d+/deployments/r-\S+ \(GET → 200 OK, \d+ bytes\)`},
		{"the manifest of the deploy is shown", `manifest │ release \S+, \d+ entries, sha256:[0-9a-f]{64}\n(\s+manifest │ f \d{4}\s+\d+ sha256:[0-9a-f]{16}… \S+.*\n)+`},
		{"the changed file is marked in the manifest", `(?s)── 6\..*manifest │ f 0664\s+\d+ sha256:[0-9a-f]{16}… config/settings\.conf  ← changed.*── 7\.`},
		{"the broken deploy fails its health check and rolls back", `(?s)── 6\..*rolled back: previous release restored after: .*workers must be a number, got '8x'.*── 7\.`},
		{"GitHub sees the failure", `status failure\s+failed and rolled back to the previous release`},
		{"the second staging deploy sends one file", `(?s)── 6\..*Result: request r-\S+ rolled back in \S+, 1 file\(s\) sent`},
		{"the emergency change deploys and its review is opened", `audit #\d+\s+emergency\.review_opened\s+tollgate`},
		{"Bob reviews the emergency change", `audit #\d+\s+emergency\.reviewed\s+bob\s+r-\S+\s+\(outcome=acceptable`},
		{"verify passes on the untouched log", `(?s)── 9\. tollgate verify.*checkpoints:\s+\d+, every signature valid.*\n\s+OK.*\(exit status 0\)`},
		{"verify fails after the tamper step", `FAIL: entry seq \d+: leaf hash does not match the entry's contents`},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if !regexp.MustCompile(s.want).MatchString(out) {
				t.Errorf("transcript does not match %q", s.want)
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

	t.Run("production servers both switched to the approved release", func(t *testing.T) {
		m := regexp.MustCompile(`(?s)── 5\..*web-1\s+current → releases/(\S+)\n\s+web-2\s+current → releases/(\S+)`).FindStringSubmatch(out)
		if m == nil || m[1] != m[2] {
			t.Fatalf("web-1 and web-2 run different releases: %v", m)
		}
	})

	t.Run("rollback restored the release that ran before", func(t *testing.T) {
		before := regexp.MustCompile(`(?s)── 2\..*staging-1 current → releases/(\S+)`).FindStringSubmatch(out)
		after := regexp.MustCompile(`(?s)── 6\..*staging-1 current → releases/(\S+)`).FindStringSubmatch(out)
		if before == nil || after == nil || before[1] != after[1] {
			t.Fatalf("after the rollback staging runs %v, want the release from step 2 %v", after, before)
		}
	})

	t.Run("the data directory can be verified afterwards", func(t *testing.T) {
		var vout bytes.Buffer
		if code := dispatch(ctx, []string{"verify", "--config", filepath.Join(dir, demoConfigName)}, &vout, &vout); code != exitCheckFailed {
			t.Errorf("verify of the tampered database exited %d, want %d:\n%s", code, exitCheckFailed, vout.String())
		}
		vout.Reset()
		args := []string{"verify", "--database", filepath.Join(dir, demoBackupName), "--public-key", filepath.Join(dir, "keys", "audit-signing.pub")}
		if code := dispatch(ctx, args, &vout, &vout); code != exitOK {
			t.Errorf("verify of the pre-tamper copy exited %d, want 0:\n%s", code, vout.String())
		}
		// The server's shutdown checkpoint was written after the story.
		if !strings.Contains(vout.String(), "OK") {
			t.Errorf("verify of the pre-tamper copy did not say OK:\n%s", vout.String())
		}
	})
}

func TestDemoRefusesBadUsage(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "something"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"data directory not empty", []string{"--exit", "--data", full}, "is not empty"},
		{"listen address unusable", []string{"--exit", "--listen", "256.0.0.1:0"}, "--listen"},
		{"unexpected argument", []string{"--exit", "extra"}, "usage: tollgate demo"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := dispatch(context.Background(), append([]string{"demo"}, c.args...), &stdout, &stderr)
			if code != exitUsage {
				t.Errorf("exit %d, want %d (stderr %q)", code, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), c.want) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), c.want)
			}
		})
	}
	entries, err := os.ReadDir(full)
	if err != nil || len(entries) != 1 {
		t.Errorf("the non-empty data directory was changed: %v %v", entries, err)
	}
}
