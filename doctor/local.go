package doctor

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/internal/cli"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// checkPolicies converts the environments into the domain's policies and
// checks the roles the controls depend on.
func (d *doctor) checkPolicies() {
	d.pass(areaChange, "environment policies", plural(len(d.cfg.Policies().All()), "environment converts", "environments convert")+" to policies")
	for _, env := range d.cfg.Environments() {
		if !env.Production {
			continue
		}
		if env.RequiredApprovals < 1 || len(env.Approvers) == 0 {
			d.fail(areaChange, "approval before production deploys on "+env.String(), "required_approvals is 0 or no approvers team",
				fmt.Sprintf("set required_approvals: 1 (or more) and approvers: [team] under repositories.%s.environments.%s", env.Repository, env.Name))
		} else {
			d.pass(areaChange, "approval before production deploys on "+env.String(),
				fmt.Sprintf("%s from %s", plural(env.RequiredApprovals, "approval", "approvals"), strings.Join(env.Approvers, ", ")))
		}
	}
	if len(d.cfg.Teams.AccessReviewers) == 0 {
		d.fail(areaPermissions, "access reviewers", "access reviews have no reviewer configured (teams.access_reviewers is empty): nobody can sign a review off",
			"set teams.access_reviewers to the GitHub team that reviews access (e.g. [security])")
	} else {
		d.pass(areaPermissions, "access reviewers", strings.Join(d.cfg.Teams.AccessReviewers, ", "))
	}
}

// keyFile is a secret file the configuration names.
type keyFile struct {
	area, label, path string
}

// checkKeyFiles checks that every private key exists and only its owner
// can read it, and that no two environments share an SSH key.
func (d *doctor) checkKeyFiles() {
	files := []keyFile{{areaAudit, "audit signing key", d.cfg.Audit.SigningKeyFile}}
	if d.cfg.Audit.HMACKeyFile != "" {
		files = append(files, keyFile{areaAudit, "audit HMAC key", d.cfg.Audit.HMACKeyFile})
	}
	if d.cfg.Attestation.SigningKeyFile != "" {
		files = append(files, keyFile{areaAudit, "attestation signing key", d.cfg.Attestation.SigningKeyFile})
	}
	if d.cfg.GitHub.PrivateKeyFile != "" {
		files = append(files, keyFile{areaAuthentication, "GitHub App private key", d.cfg.GitHub.PrivateKeyFile})
	}
	for _, env := range d.cfg.Environments() {
		if env.SSH.PrivateKeyFile != "" {
			files = append(files, keyFile{areaIsolation, "SSH key of " + env.String(), env.SSH.PrivateKeyFile})
		}
	}
	for _, f := range files {
		st, err := os.Stat(f.path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			d.fail(f.area, f.label, f.path+" does not exist", "create it (tollgate init writes the audit key; ssh-keygen -t ed25519 an SSH key) or fix the path")
		case err != nil:
			d.fail(f.area, f.label, err.Error(), "make "+f.path+" readable by the tollgate user")
		default:
			d.checkOwnerOnly(f.area, f.label, f.path, st)
		}
	}
	d.checkSeparateSSHKeys()
}

// checkOwnerOnly fails a secret file (a key, the database, the secrets
// env file) that group or others can read or write.
func (d *doctor) checkOwnerOnly(area, label, path string, st fs.FileInfo) {
	if st.Mode().Perm()&0o077 != 0 {
		d.fail(area, label+" permissions", fmt.Sprintf("%s is mode %04o: group or others can read it", path, st.Mode().Perm()),
			"chmod 600 "+path+" (owned by the user tollgate runs as)")
		return
	}
	d.pass(area, label+" permissions", fmt.Sprintf("%s is mode %04o", path, st.Mode().Perm()))
}

// checkStateFiles checks the modes of the SQLite database (and its -wal
// and -shm) and of the secrets env file: each holds what only the service
// may read (the audit log and identity links; the webhook, OAuth and Slack
// secrets). A missing env file is no finding: secrets may come from elsewhere.
// The database files are one finding, whichever of them exist (the -wal
// and -shm come and go with serve), so the total stays the same.
func (d *doctor) checkStateFiles() {
	if !store.IsPostgres(d.cfg.Database) {
		d.checkDatabaseFiles()
	}
	if d.envFile == "" {
		return
	}
	st, err := os.Stat(d.envFile)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		d.fail(areaAuthentication, "secrets file", err.Error(), "make "+d.envFile+" readable by whoever starts tollgate")
		return
	}
	d.checkOwnerOnly(areaAuthentication, "secrets file", d.envFile, st)
}

// checkDatabaseFiles is the one finding about the modes of the SQLite
// database's files.
func (d *doctor) checkDatabaseFiles() {
	const label = "database file permissions"
	var open, seen []string
	for _, p := range store.SQLiteFiles(d.cfg.Database) {
		st, err := os.Stat(p)
		if err != nil {
			continue // absent: serve creates each file 0600
		}
		seen = append(seen, filepath.Base(p))
		if st.Mode().Perm()&0o077 != 0 {
			open = append(open, fmt.Sprintf("%s is mode %04o", p, st.Mode().Perm()))
		}
	}
	switch {
	case len(open) > 0:
		d.fail(areaAudit, label, strings.Join(open, ", ")+": group or others can read the audit log and identity links",
			"chmod 600 "+d.cfg.Database+"* (owned by the user tollgate runs as)")
	case len(seen) == 0:
		d.note(areaAudit, label, "no database file yet: serve creates them 0600")
	default:
		d.pass(areaAudit, label, strings.Join(seen, ", ")+": only the owner can read or write")
	}
}

// checkSeparateSSHKeys fails when two environments use the same key: a
// staging key must never reach production.
func (d *doctor) checkSeparateSSHKeys() {
	owner := map[[32]byte]string{}
	shared, withKeys := false, 0
	for _, env := range d.cfg.Environments() {
		if env.SSH.PrivateKeyFile == "" {
			continue
		}
		withKeys++
		b, err := os.ReadFile(env.SSH.PrivateKeyFile)
		if err != nil {
			continue // reported by the permission check
		}
		sum := sha256.Sum256(b)
		if other, ok := owner[sum]; ok {
			shared = true
			d.fail(areaIsolation, "separate SSH keys", fmt.Sprintf("%s and %s use the same SSH key", other, env.String()),
				fmt.Sprintf("generate a key for %s (ssh-keygen -t ed25519 -f %s-deploy), authorize it only on its servers, and set ssh.private_key_file", env.String(), env.Name))
			continue
		}
		owner[sum] = env.String()
	}
	switch {
	case shared:
	case len(owner) > 0:
		d.pass(areaIsolation, "separate SSH keys", fmt.Sprintf("%s, %s", plural(len(owner), "environment", "environments"), plural(len(owner), "distinct key", "distinct keys")))
	case withKeys > 0:
		d.skip(areaIsolation, "separate SSH keys", "because no environment's SSH key could be read")
	}
}

// checkLocalState reads the database: the audit log verifies, no webhook
// delivery failed for good, no emergency review is overdue, the last
// access review is signed and recent, and no environment drifted.
func (d *doctor) checkLocalState(ctx context.Context) {
	_, err := os.Stat(d.cfg.Database)
	if errors.Is(err, fs.ErrNotExist) && !store.IsPostgres(d.cfg.Database) {
		d.note(areaAudit, "database", d.cfg.Database+" does not exist yet: it will be created on first start (tollgate serve)")
		d.skipLocalState("because there is no database yet")
		return
	}
	s, err := store.OpenReadOnly(ctx, d.cfg.Database)
	if err != nil {
		d.fail(areaAudit, "database", err.Error(), "check the database path and that this binary is not older than the database")
		d.skipLocalState("because the database could not be opened")
		return
	}
	defer s.Close()
	d.pass(areaAudit, "database", store.Describe(d.cfg.Database))
	d.checkAuditLog(ctx, s)
	d.checkInbox(ctx, s)
	d.checkEmergencyReviews(ctx, s)
	d.checkAccessReview(ctx, s)
	d.checkDrift(ctx, s)
}

// skipLocalState lists the checks that read the database as skipped.
func (d *doctor) skipLocalState(because string) {
	d.skip(areaAudit, "audit log", because)
	d.skip(areaAudit, "webhook inbox", because)
	d.skip(areaChange, "emergency change reviews", because)
	d.skip(areaPermissions, "access review", because)
	d.skipDrift(because)
}

// checkAttestationKey fails when releases go live unattested (no
// attestation.signing_key_file) or the key does not load: an auditor
// samples a change and finds no signed record of what went live.
func (d *doctor) checkAttestationKey() {
	const label = "deployment attestations"
	path := d.cfg.Attestation.SigningKeyFile
	if path == "" {
		d.fail(areaAudit, label, "attestation.signing_key_file is not set: releases go live unattested, and the evidence pack lists each as an exception",
			"tollgate keygen --attestation --name NAME, then set attestation.signing_key_file and restart (docs/attestation.md)")
		return
	}
	k, err := attest.LoadSigningKey(path)
	if err != nil {
		d.fail(areaAudit, label, err.Error(), "point attestation.signing_key_file at a key tollgate keygen --attestation wrote")
		return
	}
	d.pass(areaAudit, label, "every release that goes live is signed by "+k.ID())
	d.checkRetiredAttestationKeys()
}

// checkRetiredAttestationKeys warns of a key in
// attestation.previous_public_key_files given without its retirement
// time: the deployment pages and drift checks trust it for attestations
// of any time, so whoever holds it (a leaked key rotated out) can sign one
// for a release that shows as verified. No finding without such keys.
func (d *doctor) checkRetiredAttestationKeys() {
	const label = "rotated-out attestation keys"
	keys := d.cfg.Attestation.PreviousPublicKeys
	if len(keys) == 0 {
		return
	}
	var untimed []string
	for _, k := range keys {
		if k.RetiredAt.IsZero() {
			untimed = append(untimed, k.File)
		}
	}
	if len(untimed) > 0 {
		d.warn(areaAudit, label, "rotated-out key trusted without a retirement time: "+strings.Join(untimed, ", ")+
			" (whoever holds it can sign an attestation that verifies as new)",
			"give each its retirement time, the restart onto the new key: previous_public_key_files: [OLD.pub@2026-03-01T00:00:00Z] (docs/attestation.md)")
		return
	}
	d.pass(areaAudit, label, cli.Plural(len(keys), "key", "keys")+", each trusted only for attestations checkpointed before its retirement")
}

// checkAnchoring fails when nothing outside the database vouches for the
// log; the anchor repository itself is checked through GitHub.
func (d *doctor) checkAnchoring() {
	if d.cfg.Audit.AnchorRepository == "" {
		d.fail(areaAudit, "external anchoring", "audit.anchor_repository is not set: only this database vouches for its log",
			"create a repository the Tollgate operators cannot force-push, install the App on it and set audit.anchor_repository")
	}
}

func (d *doctor) checkAuditLog(ctx context.Context, s *store.Store) {
	keys, err := d.cfg.Audit.Keyring()
	if err != nil {
		d.fail(areaAudit, "audit log", "no key to verify it with: "+err.Error(), "fix audit.signing_key_file / audit.public_key_file / audit.previous_public_key_files")
		return
	}
	r, err := audit.Verify(ctx, s.DB(), keys...)
	switch {
	case err != nil:
		d.fail(areaAudit, "audit log", err.Error(), "run `tollgate verify --config` for details")
	case !r.OK:
		d.fail(areaAudit, "audit log", r.Problem.String(),
			"treat it as an incident: keep a copy of the database, run `tollgate verify --anchors` and compare with backups")
	default:
		d.pass(areaAudit, "audit log", fmt.Sprintf("%s and %s verify", plural(r.Size, "entry", "entries"), plural(r.Checkpoints, "checkpoint", "checkpoints")))
	}
}

func (d *doctor) checkInbox(ctx context.Context, s *store.Store) {
	c, err := s.Counts(ctx)
	switch {
	case err != nil:
		d.fail(areaAudit, "webhook inbox", err.Error(), "check the database")
	case c.Failed > 0:
		d.fail(areaAudit, "webhook inbox", fmt.Sprintf("%s failed for good and %s not acted on", plural(c.Failed, "delivery", "deliveries"), wasWere(c.Failed)),
			fmt.Sprintf("read why (%s \"SELECT id, source, event_type, last_error FROM inbox WHERE state = 'failed'\"), fix the cause and redeliver them from GitHub's or Slack's delivery log", sqlShell(d.cfg.Database)))
	default:
		d.pass(areaAudit, "webhook inbox", fmt.Sprintf("no failed deliveries (%d pending)", c.Pending))
	}
}

func (d *doctor) checkEmergencyReviews(ctx context.Context, s *store.Store) {
	pending, err := s.ListEmergencyReviews(ctx, true)
	if err != nil {
		d.fail(areaChange, "emergency change reviews", err.Error(), "check the database")
		return
	}
	now := d.now()
	var late []string
	for _, r := range pending {
		if r.Overdue(now) {
			late = append(late, fmt.Sprintf("%s (%s %s by %s, due %s)", r.RequestID, r.Repo, r.Environment, r.Deployer.Login, r.DueAt.Format(time.RFC3339)))
		}
	}
	if len(late) > 0 {
		d.fail(areaChange, "emergency change reviews", fmt.Sprintf("%d overdue: %s", len(late), strings.Join(late, "; ")),
			"an approver (not the person who deployed) reviews each one in Slack: acceptable / not acceptable")
		return
	}
	d.pass(areaChange, "emergency change reviews", fmt.Sprintf("none overdue (%d pending)", len(pending)))
}

func (d *doctor) checkAccessReview(ctx context.Context, s *store.Store) {
	interval := d.cfg.AccessReview.Interval
	if interval <= 0 {
		interval = bot.DefaultAccessReviewInterval
	}
	last, ok, err := s.LatestAccessReview(ctx, true)
	const fix = "run `tollgate access-review` and have a member of teams.access_reviewers sign it off in Slack"
	switch {
	case err != nil:
		d.fail(areaPermissions, "access review", err.Error(), "check the database")
	case !ok:
		d.fail(areaPermissions, "access review", "no access review was ever signed off", fix)
	case d.now().Sub(last.TakenAt) > interval:
		// A review is as old as its snapshot, whenever it was signed off.
		d.fail(areaPermissions, "access review", fmt.Sprintf("the last signed review %s is %d days old (interval %d days)",
			last.ID, int(d.now().Sub(last.TakenAt).Hours()/24), int(interval.Hours()/24)), fix)
	default:
		d.pass(areaPermissions, "access review", fmt.Sprintf("%s signed off by %s on %s (%s)", last.ID, last.SignedOffBy.Login,
			last.SignedOffAt.Format("2006-01-02"), last.Outcome))
	}
}

// plural is "1 entry", "2 entries".
func plural[N ~int | ~int64](n N, one, many string) string { return cli.Plural(n, one, many) }

// wasWere agrees with a count.
func wasWere[N ~int | ~int64](n N) string {
	if n == 1 {
		return "was"
	}
	return "were"
}

// sqlShell is the command that opens the database for the operator; a
// PostgreSQL URL is shown without its password.
func sqlShell(database string) string {
	if store.IsPostgres(database) {
		return "psql '" + store.Describe(database) + "'"
	}
	return "sqlite3 " + database
}
