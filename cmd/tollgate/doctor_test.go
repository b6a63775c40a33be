package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/deploy/sshdtest"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
)

// doctorWorld is a healthy installation: fake GitHub and Slack, a real
// sshd, a database with a signed access review; each test plants one problem.
type doctorWorld struct {
	*complianceFixture
	slack      *slacktest.Server
	sshd       *sshdtest.Server
	keyFile    string
	knownHosts string
	opts       doctorOptions
}

// doctorOptions shape the config a case writes.
type doctorOptions struct {
	slackToken        string
	slackClientSecret string
	requiredApprovals int
	stagingSharesKey  bool
	noWebLogin        bool // no OAuth client (and so no Slack, which needs it)
	securityKeys      bool // production's approvals need a security key
	noAttestation     bool // no attestation.signing_key_file
}

func newSSHKeyFile(t *testing.T, path string) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, pem.EncodeToMemory(block), 0o600)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

func newDoctorWorld(t *testing.T) *doctorWorld {
	t.Helper()
	w := &doctorWorld{complianceFixture: newComplianceFixture(t, 20, 10), opts: doctorOptions{requiredApprovals: 1}}
	gh := w.gh
	gh.SetOrgTwoFactorRequired("acme", true)
	gh.AddRepo("acme/shop")
	gh.AddCommit("acme/shop", "main", strings.Repeat("a", 40))
	gh.SetBranchProtection("acme/shop", "main", githubtest.BranchProtection{RequiredApprovingReviews: 1, EnforceAdmins: true})
	gh.SetBranchProtection(anchorRepo, "main", githubtest.BranchProtection{EnforceAdmins: true})
	gh.SetTeamMember("acme", "security", "frank", "")

	w.slack = slacktest.New(slacktest.Options{})
	t.Cleanup(w.slack.Close)
	w.opts.slackToken = w.slack.BotToken()
	w.opts.slackClientSecret = w.slack.ClientSecret()

	w.keyFile = filepath.Join(w.dir, "production_ed25519")
	signer := newSSHKeyFile(t, w.keyFile)
	w.sshd = sshdtest.Start(t, signer.PublicKey())
	w.knownHosts = filepath.Join(w.dir, "known_hosts_production")
	sshdtest.WriteKnownHosts(t, w.knownHosts, w.sshd)

	ctx := testCtx(t)
	st, err := store.Open(ctx, w.log.Path, store.Options{Signer: w.log.Keys.Signer})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	r := bot.AccessReview{ID: "ar-1", TakenAt: now.Add(-time.Hour), TakenBy: "frank", Digest: "d",
		Outcome: bot.AccessNoChanges, SignedOffBy: bot.Identity{Login: "frank", GitHubID: 6}, SignedOffAt: now.Add(-time.Hour)}
	if err := st.SaveAccessReview(ctx, r, bot.AuditEvent{Actor: "frank", Action: bot.ActionAccessReviewSignedOff, Subject: r.ID}); err != nil {
		t.Fatal(err)
	}
	return w
}

// write writes the config for the world's current options.
func (w *doctorWorld) write(t *testing.T) {
	t.Helper()
	env := func(name string, production bool, approvals int) string {
		return fmt.Sprintf(`      %s:
        production: %v
        deployers: [deployers]
        approvers: [approvers]
        required_approvals: %d
        branches: [main]
        servers:
          - host: %s
            port: %d
            user: %s
        ssh:
          private_key_file: %s
          known_hosts_file: %s
        path: /srv/shop-%s
`, name, production, approvals, w.sshd.Host, w.sshd.Port, w.sshd.User, filepath.Base(w.keyFile), filepath.Base(w.knownHosts), name)
	}
	repos := "  acme/shop:\n    environments:\n" + env("production", true, w.opts.requiredApprovals)
	if w.opts.securityKeys {
		repos += "        approvals: {require_webauthn: true}\n"
	}
	if w.opts.stagingSharesKey {
		// A copy of production's key under another name: Load cannot see it, doctor compares contents.
		b, err := os.ReadFile(w.keyFile)
		must(t, err)
		writeFile(t, filepath.Join(w.dir, "staging_ed25519"), b, 0o600)
		repos += strings.Replace(env("staging", false, 0), filepath.Base(w.keyFile), "staging_ed25519", 1)
	}
	top := fmt.Sprintf(`slack:
  api_url: %s
  bot_token: %s
  signing_secret: slack-signing-secret
  client_id: "%s"
  client_secret: %s
  channel: C0DEPLOYS01
teams:
  admins: [admins]
  access_reviewers: [security]`, w.slack.APIURL(), w.opts.slackToken, w.slack.ClientID(), w.opts.slackClientSecret)
	if w.opts.noWebLogin {
		top = top[strings.Index(top, "teams:"):]
	}
	w.writeConfig(t, top, repos)
	if w.opts.noAttestation {
		b, err := os.ReadFile(w.config)
		must(t, err)
		writeFile(t, w.config, []byte(strings.Replace(string(b), "attestation:\n  signing_key_file: attest.key\n", "", 1)), 0o600)
	}
	if w.opts.noWebLogin {
		b, err := os.ReadFile(w.config)
		must(t, err)
		b = []byte(strings.Replace(string(b), "  oauth_client_id: test-client\n  oauth_client_secret: test-client-secret\n", "", 1))
		writeFile(t, w.config, b, 0o600)
	}
}

func TestDoctorHealthyInstallation(t *testing.T) {
	w := newDoctorWorld(t)
	w.write(t)
	code, out, errOut := runCLI(t, "doctor", "--config", w.config)
	if n, ok, failed, skipped := doctorTotals(t, out); code != exitOK || strings.Contains(out, "✗") || ok != n || failed+skipped != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"\nauthentication\n", "\npermissions\n", "\naudit\n", "\nchange management\n", "\nenvironment isolation\n",
		"✓ two-factor authentication: acme requires it",
		"✓ branch protection of acme/shop main: protected",
		"✓ branch protection of acme/audit-anchors main: protected",
		"host key pinned and matching",
		"✓ GitHub App permissions",
		"✓ Slack bot token",
		"✓ Slack token scopes: has commands, chat:write",
		"✓ Sign in with Slack (linking): Slack accepts client " + slacktest.DefaultClientID +
			"; its redirect URL must be https://tollgate.example.com/oauth/slack/callback",
		"✓ web pages behind GitHub login: members of acme sign in at https://tollgate.example.com/login",
		"✓ audit log: 21 entries and 2 checkpoints verify",
		"✓ database: ",
		"✓ access review: ar-1 signed off by frank",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("healthy output lacks %q:\n%s", want, out)
		}
	}
}

func TestDoctorReportsEachProblemWithItsFix(t *testing.T) {
	cases := []struct {
		name     string
		plant    func(t *testing.T, w *doctorWorld)
		want     string // in the ✗ line
		wantFix  string // in the fix line under it
		cascades bool   // the problem stops later checks of the same kind: do not count ✗ lines
	}{
		{name: "SSH key readable by others",
			plant: func(t *testing.T, w *doctorWorld) { must(t, os.Chmod(w.keyFile, 0o644)) },
			want:  "SSH key of acme/shop/production permissions: ", wantFix: "chmod 600 "},
		{name: "audit key readable by others",
			plant: func(t *testing.T, w *doctorWorld) { must(t, os.Chmod(w.log.Keys.PrivateKeyFile, 0o640)) },
			want:  "audit signing key permissions:", wantFix: "chmod 600 "},
		{name: "releases go live unattested",
			plant: func(t *testing.T, w *doctorWorld) { w.opts.noAttestation = true },
			want:  "deployment attestations: attestation.signing_key_file is not set: releases go live unattested", wantFix: "tollgate keygen --attestation --name NAME"},
		{name: "attestation key readable by others",
			plant: func(t *testing.T, w *doctorWorld) { must(t, os.Chmod(filepath.Join(w.dir, "attest.key"), 0o640)) },
			want:  "attestation signing key permissions:", wantFix: "chmod 600 "},
		// Issue 15 item 7: each fails before this change (doctor did not look).
		{name: "database readable by others",
			plant: func(t *testing.T, w *doctorWorld) { must(t, os.Chmod(w.log.Path, 0o644)) },
			want:  "database file ", wantFix: "chmod 600 "},
		{name: "secrets env file readable by group",
			plant: func(t *testing.T, w *doctorWorld) {
				writeFile(t, filepath.Join(w.dir, "tollgate.env"), []byte("GITHUB_WEBHOOK_SECRET=x\n"), 0o640)
			},
			want: "secrets file permissions: ", wantFix: "chmod 600 "},
		{name: "production needs no approval",
			plant: func(t *testing.T, w *doctorWorld) { w.opts.requiredApprovals = 0 },
			want:  "approval before production deploys on acme/shop/production: required_approvals is 0", wantFix: "set required_approvals: 1"},
		{name: "two environments share an SSH key",
			plant: func(t *testing.T, w *doctorWorld) { w.opts.stagingSharesKey = true },
			want:  "separate SSH keys: acme/shop/production and acme/shop/staging use the same SSH key", wantFix: "generate a key for acme/shop/staging"},
		{name: "organisation does not require 2FA",
			plant: func(t *testing.T, w *doctorWorld) { w.gh.SetOrgTwoFactorRequired("acme", false) },
			want:  "two-factor authentication: acme does not require two-factor authentication", wantFix: "Require two-factor authentication"},
		{name: "deploy branch allows force pushes",
			plant: func(t *testing.T, w *doctorWorld) {
				w.gh.SetBranchProtection("acme/shop", "main", githubtest.BranchProtection{RequiredApprovingReviews: 1, AllowForcePushes: true})
			},
			want: "branch protection of acme/shop main: force pushes allowed", wantFix: "block force pushes"},
		{name: "deploy branch needs no review",
			plant: func(t *testing.T, w *doctorWorld) {
				w.gh.SetBranchProtection("acme/shop", "main", githubtest.BranchProtection{EnforceAdmins: true})
			},
			want: "branch protection of acme/shop main: no approving review required", wantFix: "require a pull request with at least one approving review"},
		{name: "anchor repository unprotected",
			plant: func(t *testing.T, w *doctorWorld) { w.gh.RemoveBranchProtection(anchorRepo, "main") },
			want:  "branch protection of acme/audit-anchors main: not protected", wantFix: "protect main in acme/audit-anchors"},
		{name: "App not installed", cascades: true,
			plant: func(t *testing.T, w *doctorWorld) {
				w.gh.RemoveInstallation(w.installation)
			},
			want: "GitHub App installation: the App (id ", wantFix: "install the App on acme"},
		{name: "App installation suspended", cascades: true,
			plant: func(t *testing.T, w *doctorWorld) { w.gh.SuspendInstallation(w.installation, true) },
			want:  "is suspended since", wantFix: "Unsuspend"},
		{name: "App installation grants deployments read instead of write",
			plant: func(t *testing.T, w *doctorWorld) {
				p := w.gh.InstallationPermissions(w.installation)
				p["deployments"] = "read"
				w.gh.SetInstallationPermissions(w.installation, p)
			},
			want:    "GitHub App permissions: missing deployments: write (has read)",
			wantFix: "grant deployments: write in the App's settings (Permissions & events), then an owner of acme accepts the new permissions"},
		{name: "App installation lacks checks and statuses",
			plant: func(t *testing.T, w *doctorWorld) {
				p := w.gh.InstallationPermissions(w.installation)
				delete(p, "checks")
				delete(p, "statuses")
				w.gh.SetInstallationPermissions(w.installation, p)
			},
			want:    "GitHub App permissions: missing checks: read (has none), statuses: read (has none)",
			wantFix: "grant checks: read, statuses: read in the App's settings"},
		{name: "clock a minute off GitHub's",
			plant: func(t *testing.T, w *doctorWorld) {
				w.gh.SetClock(func() time.Time { return time.Now().Add(time.Minute) })
			},
			want: "clock: this host's clock is -", wantFix: "run NTP"},
		{name: "clock so far off that GitHub refuses the App's token", cascades: true,
			plant: func(t *testing.T, w *doctorWorld) {
				w.gh.SetClock(func() time.Time { return time.Now().Add(10 * time.Minute) })
			},
			want: "GitHub App authentication: GitHub refused the App's token", wantFix: "set the clock right first"},
		{name: "web pages without their GitHub login",
			plant:   func(t *testing.T, w *doctorWorld) { w.opts.noWebLogin = true },
			want:    "web pages behind GitHub login: github.oauth_client_id and github.oauth_client_secret are not set",
			wantFix: "set github.oauth_client_id and github.oauth_client_secret"},
		{name: "Slack token revoked",
			plant: func(t *testing.T, w *doctorWorld) { w.opts.slackToken = "xoxb-revoked" },
			want:  "Slack bot token: auth.test: invalid_auth", wantFix: "reinstall the Slack app"},
		{name: "Slack token lacks chat:write",
			plant:   func(t *testing.T, w *doctorWorld) { w.restartSlack(t, slacktest.Options{Scopes: []string{"commands"}}) },
			want:    "Slack token scopes: missing chat:write (has commands)",
			wantFix: "add chat:write under Bot Token Scopes on the Slack app's OAuth & Permissions page, then reinstall the app"},
		{name: "Slack client secret wrong",
			plant:   func(t *testing.T, w *doctorWorld) { w.opts.slackClientSecret = "not-the-client-secret" },
			want:    "Sign in with Slack (linking): Slack refused the app's client: openid.connect.token: bad_client_secret",
			wantFix: "copy the Client ID and Client Secret"},
		{name: "server unreachable", cascades: true,
			plant: func(t *testing.T, w *doctorWorld) { w.sshd.Stop() },
			want:  "unreachable: dial tcp", wantFix: "check the host name, port and firewall"},
		{name: "host key not pinned",
			plant: func(t *testing.T, w *doctorWorld) { writeFile(t, w.knownHosts, nil, 0o644) },
			want:  "host key not pinned", wantFix: "verify ssh-ed25519 SHA256:"},
		{name: "host key changed",
			plant: func(t *testing.T, w *doctorWorld) {
				other := newSSHKeyFile(t, filepath.Join(w.dir, "impostor"))
				line := knownhosts.Line([]string{knownhosts.Normalize(w.sshd.Addr())}, other.PublicKey())
				writeFile(t, w.knownHosts, []byte(line+"\n"), 0o644)
			},
			want: "HOST KEY CHANGED", wantFix: "do not deploy"},
		{name: "login refused",
			plant: func(t *testing.T, w *doctorWorld) { newSSHKeyFile(t, w.keyFile) },
			want:  "with key SHA256:", wantFix: "authorized_keys"},
		{name: "a webhook delivery failed for good",
			plant: func(t *testing.T, w *doctorWorld) {
				w.withStore(t, func(ctx context.Context, st *store.Store) {
					_, err := st.Enqueue(ctx, store.InboxItem{Source: "github", DeliveryID: "d-1", EventType: "push", Payload: []byte("{}")})
					must(t, err)
					items, err := st.ClaimDue(ctx, time.Now().Add(time.Minute), 10)
					must(t, err)
					must(t, st.MarkFailed(ctx, items[0].Lease(), errors.New("unknown repository")))
				})
			},
			want: "webhook inbox: 1 delivery failed for good and was not acted on", wantFix: "redeliver them"},
		{name: "an emergency review is overdue",
			plant: func(t *testing.T, w *doctorWorld) {
				w.withStore(t, func(ctx context.Context, st *store.Store) {
					at := time.Now().Add(-30 * time.Hour)
					_, err := st.OpenEmergencyReview(ctx, bot.EmergencyReview{RequestID: "r-late", Repo: "acme/shop", Environment: "production",
						Deployer: bot.Identity{Login: "erin"}, DeployedAt: at, OpenedAt: at, DueAt: at.Add(24 * time.Hour)},
						bot.AuditEvent{Actor: "tollgate", Action: bot.ActionEmergencyReviewOpened, Subject: "r-late"})
					must(t, err)
				})
			},
			want: "emergency change reviews: 1 overdue: r-late (acme/shop production by erin", wantFix: "an approver (not the person who deployed) reviews"},
		{name: "the last access review is too old",
			plant: func(t *testing.T, w *doctorWorld) {
				w.withStore(t, func(ctx context.Context, st *store.Store) {
					_, err := st.UpdateAccessReview(ctx, "ar-1", func(r *bot.AccessReview) ([]bot.AuditEvent, error) {
						r.TakenAt = time.Now().Add(-100 * 24 * time.Hour)
						r.SignedOffAt = r.TakenAt
						return nil, nil
					})
					must(t, err)
				})
			},
			want: "access review: the last signed review ar-1 is 100 days old (interval 90 days)", wantFix: "run `tollgate access-review`"},
		// Issue 15 (access review suspicion): a review is as old as its
		// snapshot; signing off an old one today does not make it fresh.
		{name: "the last access review signed off today is of an old snapshot",
			plant: func(t *testing.T, w *doctorWorld) {
				w.withStore(t, func(ctx context.Context, st *store.Store) {
					_, err := st.UpdateAccessReview(ctx, "ar-1", func(r *bot.AccessReview) ([]bot.AuditEvent, error) {
						r.TakenAt = time.Now().Add(-100 * 24 * time.Hour)
						return nil, nil
					})
					must(t, err)
				})
			},
			want: "access review: the last signed review ar-1 is 100 days old (interval 90 days)", wantFix: "run `tollgate access-review`"},
		{name: "the audit log was edited",
			plant: func(t *testing.T, w *doctorWorld) {
				db := audittest.OpenRaw(t, w.log.Path)
				_, err := db.Exec(`DROP TRIGGER audit_entries_no_update; UPDATE audit_entries SET actor = 'mallory' WHERE seq = 3`)
				must(t, err)
			},
			want: "audit log: entry seq 3: leaf hash does not match", wantFix: "treat it as an incident"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newDoctorWorld(t)
			tc.plant(t, w)
			w.write(t)
			code, out, errOut := runCLI(t, "doctor", "--config", w.config, "--timeout", "20s")
			if code != exitCheckFailed {
				t.Fatalf("exit %d, want %d\n%s%s", code, exitCheckFailed, out, errOut)
			}
			i := strings.Index(out, tc.want)
			if i < 0 {
				t.Fatalf("output lacks %q:\n%s", tc.want, out)
			}
			rest := out[i:]
			line, after, _ := strings.Cut(rest, "\n")
			fixLine, _, _ := strings.Cut(after, "\n")
			start := strings.LastIndex(out[:i], "\n") + 1
			if !strings.HasPrefix(out[start:], "  ✗ ") {
				t.Fatalf("%q is not on a ✗ line:\n%s", line, out)
			}
			if !strings.HasPrefix(fixLine, "      fix: ") || !strings.Contains(fixLine, tc.wantFix) {
				t.Fatalf("fix under %q is %q, want it to contain %q", line, fixLine, tc.wantFix)
			}
			if n := strings.Count(out, "  ✗ "); !tc.cascades && n != 1 {
				t.Fatalf("%d ✗ items, want exactly the planted one:\n%s", n, out)
			}
			if strings.Contains(out+errOut, w.opts.slackToken) || strings.Contains(out+errOut, w.opts.slackClientSecret) {
				t.Fatalf("a Slack secret is in doctor's output:\n%s%s", out, errOut)
			}
		})
	}
}

// restartSlack replaces the world's fake Slack with one started with opts.
func (w *doctorWorld) restartSlack(t *testing.T, opts slacktest.Options) {
	t.Helper()
	w.slack.Close()
	w.slack = slacktest.New(opts)
	t.Cleanup(w.slack.Close)
	w.opts.slackToken = w.slack.BotToken()
	w.opts.slackClientSecret = w.slack.ClientSecret()
}

// withStore runs fn on the world's database.
func (w *doctorWorld) withStore(t *testing.T, fn func(ctx context.Context, st *store.Store)) {
	t.Helper()
	ctx := testCtx(t)
	st, err := store.Open(ctx, w.log.Path, store.Options{Signer: w.log.Keys.Signer})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fn(ctx, st)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// doctorTotals reads doctor's last line, "N checks: x ok, y failed, z
// skipped[, w warnings (!)]"; a warning is a check that did not fail, so
// it counts in ok here.
func doctorTotals(t *testing.T, out string) (n, ok, failed, skipped int) {
	t.Helper()
	m := regexp.MustCompile(`\n(\d+) checks: (\d+) ok, (\d+) failed, (\d+) skipped(?:, (\d+) warnings? \(!\))?\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("doctor's output does not end with its totals:\n%s", out)
	}
	v := make([]int, 5)
	for i := range v {
		v[i], _ = strconv.Atoi(m[i+1])
	}
	if v[0] != v[1]+v[2]+v[3]+v[4] {
		t.Fatalf("totals do not add up: %s", m[0])
	}
	return v[0], v[1] + v[4], v[2], v[3]
}

// With GitHub out of reach, the checks that need it are listed as skipped
// with the reason, and the total stays what it is on a healthy install.
// Fails before this change: those checks were silently absent.
func TestDoctorListsWhatItCouldNotCheck(t *testing.T) {
	w := newDoctorWorld(t)
	w.write(t)
	_, healthy, _ := runCLI(t, "doctor", "--config", w.config)
	want, _, _, _ := doctorTotals(t, healthy)

	w.gh.Close()
	code, out, errOut := runCLI(t, "doctor", "--config", w.config, "--timeout", "5s")
	if code != exitCheckFailed {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitCheckFailed, out, errOut)
	}
	n, _, failed, skipped := doctorTotals(t, out)
	if n != want || failed != 1 || skipped != 5 {
		t.Errorf("%d checks (%d failed, %d skipped), want %d (1 failed, 5 skipped):\n%s", n, failed, skipped, want, out)
	}
	for _, line := range []string{
		"  ✗ GitHub App installation: ",
		"  – clock: skipped: because GitHub did not answer, and its answer tells the time\n",
		"  – GitHub App permissions: skipped: because GitHub could not be asked\n",
		"  – two-factor authentication: skipped: because GitHub could not be asked\n",
		"  – branch protection of acme/shop main: skipped: because GitHub could not be asked\n",
		"  – anchor repository acme/audit-anchors: skipped: because GitHub could not be asked\n",
		"  ✓ Slack bot token",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
}

// A fresh install, whose database serve has not created yet, is told so
// (ℹ), not failed; the checks that read the database are skipped.
// Fails before this change: "✗ database ... does not exist yet".
func TestDoctorOnAFreshInstallWithoutADatabase(t *testing.T) {
	w := newDoctorWorld(t)
	w.write(t)
	_, healthy, _ := runCLI(t, "doctor", "--config", w.config)
	want, _, _, _ := doctorTotals(t, healthy)
	b, err := os.ReadFile(w.config)
	must(t, err)
	writeFile(t, w.config, []byte(strings.Replace(string(b), "database: "+filepath.Base(w.log.Path), "database: fresh.db", 1)), 0o600)

	code, out, errOut := runCLI(t, "doctor", "--config", w.config)
	if code != exitOK || strings.Contains(out, "✗") {
		t.Fatalf("exit %d, want 0 and no ✗\n%s%s", code, out, errOut)
	}
	if n, _, _, skipped := doctorTotals(t, out); n != want || skipped != 5 {
		t.Errorf("%d checks, %d skipped; want %d and 5:\n%s", n, skipped, want, out)
	}
	for _, line := range []string{
		"fresh.db does not exist yet: it will be created on first start (tollgate serve)\n",
		"  – audit log: skipped: because there is no database yet\n",
		"  – access review: skipped: because there is no database yet\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
}

// Whether serve runs (its -wal and -shm files exist) does not change
// doctor's total: the database files are one finding. Fails before this
// change (two more checks while the -wal and -shm files exist).
func TestDoctorTotalDoesNotDependOnTheWALFiles(t *testing.T) {
	w := newDoctorWorld(t)
	w.write(t)
	_, stopped, _ := runCLI(t, "doctor", "--config", w.config)
	want, _, _, _ := doctorTotals(t, stopped)
	for _, suffix := range []string{"-wal", "-shm"} {
		writeFile(t, w.log.Path+suffix, nil, 0o600)
	}
	_, running, _ := runCLI(t, "doctor", "--config", w.config)
	if n, _, _, _ := doctorTotals(t, running); n != want {
		t.Errorf("%d checks with the -wal and -shm files, %d without:\n%s", n, want, running)
	}
	if !strings.Contains(running, "✓ database file permissions: ") {
		t.Errorf("no line about the database files' modes:\n%s", running)
	}
}

// TestDoctorFailsAnEnvironmentWhoseLastDriftCheckFoundDrift: the scheduled
// check found a live file edited on a server; doctor shows ✗ for that
// environment with what drifted and how to respond, and ✓ once a later
// check is clean.
func TestDoctorFailsAnEnvironmentWhoseLastDriftCheckFoundDrift(t *testing.T) {
	w := newDoctorWorld(t)
	w.write(t)
	ctx := testCtx(t)
	record := func(at time.Time, paths map[string][]string) {
		t.Helper()
		st, err := store.Open(ctx, w.log.Path, store.Options{Signer: w.log.Keys.Signer})
		must(t, err)
		defer st.Close()
		c := bot.DriftCheck{Repo: "acme/shop", Environment: "production", CheckedAt: at,
			Expected: bot.LiveRelease{RequestID: "r-1", Release: "20261206100000-aaaaaaa"},
			Servers:  []bot.DriftServer{{Server: w.sshd.Addr(), Live: "20261206100000-aaaaaaa", Paths: paths}}}
		if _, err := bot.RecordDrift(ctx, st, nil, c); err != nil {
			t.Fatal(err)
		}
	}
	record(time.Now().Add(-2*time.Hour), map[string][]string{"changed": {"lib/auth.php"}, "added": {"shell.php"}})
	code, out, _ := runCLI(t, "doctor", "--config", w.config)
	if want := "✗ drift of acme/shop/production: the check at "; code != exitCheckFailed || !strings.Contains(out, want) ||
		!strings.Contains(out, w.sshd.Addr()+": 1 added, 1 changed") || !strings.Contains(out, "tollgate drift --environment acme/shop/production") {
		t.Errorf("exit %d, want 1 and %q with the paths and the fix:\n%s", code, want, out)
	}
	record(time.Now().Add(-time.Hour), nil)
	code, out, _ = runCLI(t, "doctor", "--config", w.config)
	if want := "✓ drift of acme/shop/production: every server runs release 20261206100000-aaaaaaa as deployed"; code != exitOK || !strings.Contains(out, want) {
		t.Errorf("exit %d, want 0 and %q:\n%s", code, want, out)
	}
}

// A rotated-out attestation key listed without its retirement time is
// trusted for attestations of any time, so whoever holds it (a leaked
// key) can sign one the deployment page shows verified: doctor warns,
// with the @TIME form as the fix; with the time it passes.
func TestDoctorWarnsOfARotatedOutAttestationKeyWithoutARetirementTime(t *testing.T) {
	w := newDoctorWorld(t)
	w.write(t)
	old := filepath.Join(w.dir, "attest-2025.pub")
	if _, err := attest.GenerateKeyFiles(filepath.Join(w.dir, "attest-2025.key"), old, "tollgate-attestation-2025"); err != nil {
		t.Fatal(err)
	}
	base, err := os.ReadFile(w.config)
	must(t, err)
	const section = "attestation:\n  signing_key_file: attest.key\n"
	if !strings.Contains(string(base), section) {
		t.Fatalf("the config has no %q", section)
	}
	doctor := func(previous string) string {
		t.Helper()
		writeFile(t, w.config, []byte(strings.Replace(string(base), section, section+"  previous_public_key_files: ["+previous+"]\n", 1)), 0o600)
		code, out, errOut := runCLI(t, "doctor", "--config", w.config, "--timeout", "20s")
		if code != exitOK {
			t.Fatalf("exit %d, want %d (a warning fails nothing)\n%s%s", code, exitOK, out, errOut)
		}
		return out
	}
	out := doctor("attest-2025.pub")
	want := "  ! rotated-out attestation keys: rotated-out key trusted without a retirement time: " + old +
		" (whoever holds it can sign an attestation that verifies as new)\n" +
		"      fix: give each its retirement time, the restart onto the new key: previous_public_key_files: [OLD.pub@2026-03-01T00:00:00Z] (docs/attestation.md)\n"
	if !strings.Contains(out, want) {
		t.Errorf("doctor with a key rotated out without a time lacks\n%s\n%s", want, out)
	}
	out = doctor("attest-2025.pub@2026-03-01T00:00:00Z")
	if want := "  ✓ rotated-out attestation keys: 1 key, each trusted only for attestations checkpointed before its retirement\n"; !strings.Contains(out, want) ||
		strings.Contains(out, "without a retirement time") {
		t.Errorf("doctor with the key's retirement time lacks\n%s\nor warns:\n%s", want, out)
	}
}
