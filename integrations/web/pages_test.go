package web

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

func checkSecurityHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": contentSecurityPolicy,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "same-origin",
		"Cache-Control":           "no-store",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "frame-ancestors 'none'", "img-src 'self' data:"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP %q lacks %q", csp, d)
		}
	}
}

func TestDeploymentPageShowsTheWholeStory(t *testing.T) {
	hs := newHarness(t)
	resp, body := hs.signIn("alice").get(hs.srv.URL + "/deployments/" + testRequestID)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	checkSecurityHeaders(t, resp)
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	t.Run("request", func(t *testing.T) {
		mustContain(t, body, "acme/shop → production", `id="state">succeeded`, testSHA, "release 1.4", "OPS-12", "slack")
	})
	t.Run("policy checks with outcomes", func(t *testing.T) {
		mustContain(t, body, "deployer_team", "alice is in acme/deployers", `class="pass">pass`,
			"ticket", `class="skipped">skipped`, "no ticket pattern configured")
	})
	t.Run("approvals with who and when", func(t *testing.T) {
		at := hs.clock.Now().Add(2 * time.Minute).UTC().Format("2006-01-02 15:04:05 UTC")
		mustContain(t, body, "1 valid of 1 required", "<td>bob</td><td>"+at+"</td>")
	})
	t.Run("steps per server with timings", func(t *testing.T) {
		i1, i2 := strings.Index(body, "<h3>web-1"), strings.Index(body, "<h3>web-2")
		if i1 < 0 || i2 < 0 || i1 > i2 {
			t.Fatalf("want web-1 then web-2 step tables")
		}
		web1 := body[i1:i2]
		mustContain(t, web1, "<td>upload</td><td>1.2s</td>", "<td>before_switch</td><td>1.5s</td>", "<td>switch</td><td>12ms</td>", "2.71s")
		mustContain(t, body[i2:], "<td>health_check</td><td>41ms</td>")
	})
	t.Run("hook output and manifest", func(t *testing.T) {
		mustContain(t, body, "migrated 3 tables", "health check: HTTP 200 in 41ms",
			"release 20260105T101500Z-3f9c2a1, 2 entries, sha256:9d1c0ffee", "bin/migrate", "2 (2168 bytes)")
		if strings.Contains(body, "[manifest]") {
			t.Error("manifest lines are shown raw in the log instead of in the manifest section")
		}
	})
	t.Run("audit entries with inclusion proofs", func(t *testing.T) {
		mustContain(t, body, "request.created", "policy.decided", "approval.granted", "deploy.finished",
			"tollgate audit inclusion proof v1", `subject &#34;`+testRequestID+`&#34;`, "proof-hashes",
			"No signed checkpoint covers this entry yet") // the duplicate appended after the checkpoint
		if n := strings.Count(body, "tollgate audit inclusion proof v1"); n != 5 {
			t.Errorf("%d proofs, want one per covered entry (5)", n)
		}
	})
	t.Run("no secret", func(t *testing.T) {
		mustNotContain(t, body, testNonce, hs.secret, "ghu_", "1700000000.000100")
	})
}

func TestDeploymentPageProofsCheckOffline(t *testing.T) {
	hs := newHarness(t)
	_, body := hs.signIn("alice").get(hs.srv.URL + "/deployments/" + testRequestID)
	// The proof text on the page is what `tollgate audit prove` prints:
	// it must parse and verify with the public key alone.
	start := strings.Index(body, `<pre class="proof">`)
	if start < 0 {
		t.Fatal("no proof on the page")
	}
	text := body[start+len(`<pre class="proof">`):]
	text = text[:strings.Index(text, "</pre>")]
	p, err := parseProofHTML(text)
	if err != nil {
		t.Fatalf("parsing the page's proof: %v", err)
	}
	if _, err := checkProof(hs, p); err != nil {
		t.Errorf("the page's proof does not verify: %v", err)
	}
}

func TestDeploymentPageNotFound(t *testing.T) {
	hs := newHarness(t)
	b := hs.signIn("alice")
	for _, path := range []string{"/deployments/r-nothere", "/deployments/..%2fetc", "/deployments/" + strings.Repeat("a", 65)} {
		resp, body := b.get(hs.srv.URL + path)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", path, resp.StatusCode)
		}
		if resp.StatusCode == http.StatusNotFound {
			checkSecurityHeaders(t, resp)
			mustContain(t, body, "Not found")
		}
	}
}

func TestAuditPage(t *testing.T) {
	hs := newHarness(t)
	hs.waitVerified(time.Time{})
	b := hs.signIn("bob")
	resp, body := b.get(hs.srv.URL + "/audit")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	checkSecurityHeaders(t, resp)
	mustContain(t, body, "verified</span> up to seq 6 at ", "7 entries and 1 signed checkpoint recomputed",
		"The 2 newest of them are not yet covered", "<dt>Tree size</dt><dd>5</dd>", "lock.acquired",
		`<a href="/deployments/`+testRequestID+`">`, "(seq 0 to 6 of 7)", `<tr id="seq-6"><td><a href="/audit?seq=6#seq-6">6</a>`)
	mustNotContain(t, body, `id="pager"`, "tampered-note")
	if i, j := strings.Index(body, "lock.acquired"), strings.Index(body, "request.created"); i > j {
		t.Error("entries are not newest first")
	}

	t.Run("a new checkpoint is verified in the background", func(t *testing.T) {
		start := time.Now()
		if err := hs.st.AppendAudit(context.Background(), bot.AuditEvent{Actor: "tollgate", Action: "config.reloaded",
			Subject: "tollgate.yml", Data: map[string]any{}}); err != nil {
			t.Fatal(err)
		}
		if _, err := hs.st.Audit().Checkpoint(context.Background()); err != nil {
			t.Fatal(err)
		}
		if st := hs.waitVerified(start); !st.Report.OK || st.Report.Size != 8 || st.Report.UnsignedTail != 0 {
			t.Fatalf("after the checkpoint: %+v", st.Report)
		}
		_, body := b.get(hs.srv.URL + "/audit")
		mustContain(t, body, "verified</span> up to seq 7 at ", "8 entries and 2 signed checkpoints")
	})
	t.Run("tampering is shown with a link to the entry", func(t *testing.T) {
		ctx := context.Background()
		if _, err := hs.st.DB().ExecContext(ctx, `DROP TRIGGER audit_entries_no_update`); err != nil {
			t.Fatal(err)
		}
		if _, err := hs.st.DB().ExecContext(ctx, `UPDATE audit_entries SET actor = 'mallory' WHERE seq = 2`); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		hs.mon.Check()
		if st := hs.waitVerified(start); st.Report.OK {
			t.Fatal("the tampered log verified")
		}
		_, body := b.get(hs.srv.URL + "/audit")
		mustContain(t, body, "tampering found", "entry seq 2", `<a href="/audit?seq=2#seq-2">see the entry</a>`,
			`<a href="#seq-2">Entry #2</a> is marked below.`,
			`<tr id="seq-2" class="tampered" title="verify: this entry does not match its hash"><td><a href="/audit?seq=2#seq-2">2</a> <span class="state bad">tampered</span>`)
		if n := strings.Count(body, `class="tampered"`); n != 1 {
			t.Errorf("%d rows marked tampered, want 1", n)
		}
	})
}

// A page of the audit log costs one page: any entry can be linked to and
// the page never waits for the verification of the whole log.
func TestAuditPagesAndLinks(t *testing.T) {
	release := make(chan struct{})
	hs := newHarness(t)
	ctx := context.Background()
	for i := range 120 {
		if err := hs.st.AppendAudit(ctx, bot.AuditEvent{Actor: "tollgate", Action: "config.reloaded",
			Subject: fmt.Sprintf("tollgate.yml#%d", i), Data: map[string]any{}}); err != nil {
			t.Fatal(err)
		}
	}
	b := hs.signIn("bob")
	tests := []struct {
		name, path string
		status     int
		want       []string
		not        []string
	}{
		{"the latest page", "/audit", 200, []string{"(seq 77 to 126 of 127)", `<a href="/audit?before=77">Older</a>`}, []string{"Newer"}},
		{"an older page", "/audit?before=77", 200, []string{"(seq 27 to 76 of 127)", `<a href="/audit?before=127">Newer</a>`,
			`<a href="/audit?before=27">Older</a>`, `<a href="/audit">Latest</a>`}, nil},
		{"the oldest page", "/audit?before=27", 200, []string{"(seq 0 to 26 of 127)", `<a href="/audit?before=77">Newer</a>`}, []string{"Older"}},
		{"a link to one entry", "/audit?seq=3", 200, []string{`<tr id="seq-3" class="target">`, "(seq 0 to 28 of 127)"}, nil},
		{"a link to the newest entry", "/audit?seq=126", 200, []string{`<tr id="seq-126" class="target">`, "(seq 77 to 126 of 127)"}, nil},
		{"beyond the log", "/audit?before=100000", 200, []string{"(seq 77 to 126 of 127)"}, nil},
		{"an entry that does not exist", "/audit?seq=127", 404, []string{"no entry 127"}, nil},
		{"a seq that is not a number", "/audit?seq=2%3Cx", 404, []string{"no entry 2&lt;x"}, nil},
		{"a bad cursor", "/audit?before=0", 400, []string{"before must be"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := b.get(hs.srv.URL + tt.path)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			mustContain(t, body, tt.want...)
			mustNotContain(t, body, tt.not...)
		})
	}

	t.Run("the page does not wait for a verification in progress", func(t *testing.T) {
		blocked := newHarness(t, func(c *Config) {
			c.Verification = audit.NewMonitor(hs.st.DB(), func() (audit.Keyring, error) { <-release; return audit.Keyring{hs.verifier}, nil },
				audit.MonitorOptions{})
		})
		mon := blocked.h.cfg.Verification.(*audit.Monitor)
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { mon.Run(runCtx); close(done) }()
		defer func() { close(release); stop(); <-done }()
		for !mon.Status().Running {
			time.Sleep(time.Millisecond)
		}
		start := time.Now()
		resp, body := blocked.signIn("bob").get(blocked.srv.URL + "/audit")
		if resp.StatusCode != http.StatusOK || time.Since(start) > 5*time.Second {
			t.Fatalf("status %d after %s", resp.StatusCode, time.Since(start))
		}
		mustContain(t, body, "not verified yet", "runs in the background")
	})
}

func TestEnvironmentsPage(t *testing.T) {
	hs := newHarness(t)
	resp, body := hs.signIn("alice").get(hs.srv.URL + "/environments")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	checkSecurityHeaders(t, resp)
	prod := section(t, body, `id="env-production"`)
	mustContain(t, prod, "production</span>", "3f9c2a1d5e8b", `<a href="/deployments/`+testRequestID+`">`,
		"release <code>20260105T101500Z-3f9c2a1</code>", "frozen", "Freeze year-end", "in force", "acme/approvers (1 required)")
	staging := section(t, body, `id="env-staging"`)
	mustContain(t, staging, "locked</span>", "locked by bob", "load testing until noon", "nothing deployed yet")
	mustNotContain(t, staging, "frozen", "Drift check")
}

// TestEnvironmentsPageShowsTheLastDriftCheckPerServer: each server's live
// release, attestation status and what the last drift check found there.
func TestEnvironmentsPageShowsTheLastDriftCheckPerServer(t *testing.T) {
	var st *store.Store
	hs := newHarness(t, func(c *Config) { c.Drift = driftFromStore{&st} })
	st = hs.st
	release := "20260105101500-3f9c2a1"
	c := bot.DriftCheck{Repo: testRepo, Environment: "production", CheckedAt: hs.clock.Now(),
		Expected: bot.LiveRelease{RequestID: testRequestID, Release: release},
		Servers: []bot.DriftServer{
			{Server: "web1.example.com:22", Live: release, Attestation: "verified"},
			{Server: "web2.example.com:22", Live: release, Attestation: "missing", Paths: map[string][]string{"changed": {"lib/auth.php"}}},
			{Server: "web3.example.com:22", Error: "dial tcp: connection refused"},
		}}
	if _, err := bot.RecordDrift(context.Background(), hs.st, nil, c); err != nil {
		t.Fatal(err)
	}
	_, body := hs.signIn("alice").get(hs.srv.URL + "/environments")
	prod := section(t, body, `id="env-production"`)
	mustContain(t, prod, `Drift check</dt><dd><span class="state bad">drift</span>`, "against release <code>"+release+"</code>",
		"<td><code>web1.example.com:22</code></td><td><code>"+release+"</code></td><td>verified</td><td><span class=\"state ok\">clean</span>",
		"<td>missing</td><td><span class=\"state bad\">drift</span> changed: <code>lib/auth.php</code>;",
		"<td><code>web3.example.com:22</code></td><td>—</td><td>unknown</td><td><span class=\"state warn\">not checked</span> dial tcp: connection refused")
}

// driftFromStore reads the harness's store once it exists.
type driftFromStore struct{ st **store.Store }

func (d driftFromStore) LatestDriftChecks(ctx context.Context) ([]bot.DriftCheck, error) {
	return (*d.st).LatestDriftChecks(ctx)
}

// section returns body from marker to the end of its card.
func section(t *testing.T, body, marker string) string {
	t.Helper()
	i := strings.Index(body, marker)
	if i < 0 {
		t.Fatalf("page lacks %s", marker)
	}
	rest := body[i:]
	if j := strings.Index(rest, `<div class="card env"`); j > 0 {
		rest = rest[:j]
	}
	return rest
}

// parseProofHTML reads a proof as the page shows it (HTML-escaped).
func parseProofHTML(s string) (audit.InclusionProof, error) {
	return audit.ParseInclusionProof([]byte(html.UnescapeString(s)))
}

func checkProof(hs *harness, p audit.InclusionProof) (audit.Checkpoint, error) {
	return audit.CheckInclusionProof(p, hs.verifier)
}

// An emergency change's page says approvals were skipped by policy, not
// "0 valid of 1 required", shows its reason, ticket and after-the-fact
// review in their own section, and its audit entries rendered, not raw
// JSON. Fails before this change.
func TestDeploymentPageOfAnEmergencyChange(t *testing.T) {
	hs := newHarness(t)
	hs.seedEmergency(context.Background())
	b := hs.signIn("alice")

	resp, body := b.get(hs.srv.URL + "/deployments/" + testEmergencyID)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	mustContain(t, body, `id="emergency-badge">emergency change</span>`,
		"approvals skipped by policy: the emergency path deploys without approvals",
		`<dd id="emergency-reason">checkout times out under load</dd>`, `<dd id="emergency-ticket">INC-42</dd>`,
		`id="verdict">not acceptable</span> <span class="state warn">late</span>`, `<dd id="reviewer">bob</dd>`,
		`<dd id="review-note">should have waited for the fix</dd>`,
		`<p class="summary">emergency deploy of acme/shop@3f9c2a1 to production for dave: checkout times out under load (ticket INC-42)</p>`,
		`<p class="summary">reviewed not acceptable by bob at `, "<th>reason</th><td>checkout times out under load</td>")
	mustNotContain(t, body, "valid of 1 required", `<pre class="data">`, `{&#34;`)

	_, body = b.get(hs.srv.URL + "/deployments/" + testEmergencyPendingID)
	mustContain(t, body, `<p id="review"><span class="state bad">overdue</span> due by `, "from an approver of acme/approvers who did not deploy it")
	mustNotContain(t, body, "valid of 1 required")

	// An ordinary deploy keeps its approvals.
	_, body = b.get(hs.srv.URL + "/deployments/" + testRequestID)
	mustContain(t, body, "(1 valid of 1 required)")
	mustNotContain(t, body, "emergency change")
}

// An entry changed after it was written gets no proof on its deployment
// page: it is marked as changed instead. Fails before this change: the
// page served a proof of the edited row.
func TestDeploymentPageMarksAnEditedEntry(t *testing.T) {
	hs := newHarness(t)
	ctx := context.Background()
	var seq int64
	if err := hs.st.DB().QueryRowContext(ctx, `SELECT min(seq) FROM audit_entries WHERE subject = ? AND action = ?`,
		testRequestID, bot.ActionApprovalGranted).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER audit_entries_no_update`, `UPDATE audit_entries SET actor = 'mallory' WHERE seq = ?`} {
		if _, err := hs.st.DB().ExecContext(ctx, q, seq); err != nil {
			t.Fatal(err)
		}
	}
	_, body := hs.signIn("alice").get(hs.srv.URL + "/deployments/" + testRequestID)
	card := section(t, body, `<div class="card tampered" id="entry-`+strconv.FormatInt(seq, 10)+`">`)
	if i := strings.Index(card[1:], `<div class="card`); i > 0 {
		card = card[:i+1]
	}
	mustContain(t, card, "changed after it was written", "No proof is given for it")
	mustNotContain(t, card, `<pre class="proof">`)
}
