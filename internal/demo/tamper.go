package demo

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/internal/auditcheck"
	"github.com/tollgate-dev/tollgate/store/audit"
	"io"
	"path/filepath"
	"strings"

	"github.com/tollgate-dev/tollgate/bot"
)

// demoBackupName is the copy of the database taken before the tamper
// step, so `tollgate verify` can also be seen passing afterwards.
const demoBackupName = "tollgate-before-tamper.db"

// runDemoVerify runs what `tollgate verify` runs (internal/auditcheck)
// with args, "--config FILE" or "--database FILE --public-key FILE", and
// prints its output indented; it returns the command's exit code and the
// output.
func (st *demoStory) runDemoVerify(ctx context.Context, args ...string) (int, string) {
	var buf bytes.Buffer
	code := verifyLike(ctx, args, &buf)
	st.printf("  $ tollgate verify %s\n", strings.Join(st.relArgs(args), " "))
	for _, l := range splitLines(buf.String()) {
		st.printf("    %s\n", l)
	}
	st.printf("    (exit status %d)\n", code)
	return code, buf.String()
}

// relArgs shows paths inside the data directory relative to it.
func (st *demoStory) relArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if r, err := filepath.Rel(st.dir, a); err == nil && !strings.HasPrefix(r, "..") && filepath.IsAbs(a) {
			out[i] = filepath.Join("$DATA", r)
		}
	}
	return out
}

func (st *demoStory) stepVerify(ctx context.Context) error {
	st.section("tollgate verify: every entry and every signed checkpoint checks out")
	code, _ := st.runDemoVerify(ctx, "--config", st.cfgPath)
	return expect(code == exitOK, "verify of the untouched log exited %d", code)
}

// tamperTarget is the entry the attacker rewrites: who approved the
// production deploy.
func (st *demoStory) tamperTarget() (int64, error) {
	seqs := st.obs.actions[bot.ActionApprovalGranted]
	if len(seqs) == 0 {
		return 0, fmt.Errorf("%w: no approval.granted entry to tamper with", errStory)
	}
	return seqs[0], nil
}

func (st *demoStory) stepTamper(ctx context.Context) error {
	seq, err := st.tamperTarget()
	if err != nil {
		return err
	}
	st.section(fmt.Sprintf("Someone with the database file rewrites audit entry #%d (who approved production)", seq))
	backup := filepath.Join(st.dir, demoBackupName)
	if _, err := st.srv.Store().DB().ExecContext(ctx, `VACUUM INTO ?`, backup); err != nil {
		return fmt.Errorf("backing up the database before the tamper step: %w", err)
	}
	st.printf("  (a copy of the untouched database was saved first: $DATA/%s)\n", demoBackupName)
	// The attacker opens the file directly, as anyone who can read and
	// write it can, drops the trigger that refuses UPDATE, and edits a row.
	db, err := sql.Open("sqlite3", "file:"+strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(st.srv.Config().Database)+"?_busy_timeout=10000")
	if err != nil {
		return fmt.Errorf("opening the database as the attacker: %w", err)
	}
	defer db.Close()
	stmts := []string{
		`DROP TRIGGER audit_entries_no_update`,
		fmt.Sprintf(`UPDATE audit_entries SET actor = 'mallory' WHERE seq = %d`, seq),
	}
	for _, s := range stmts {
		st.printf("  sqlite3 $DATA/tollgate.db %q\n", s)
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("tampering (%s): %w", s, err)
		}
	}
	st.printf("  The row now says mallory approved; the application would show it that way.\n")

	st.section("tollgate verify again: it finds the edited entry")
	code, out := st.runDemoVerify(ctx, "--config", st.cfgPath)
	want := fmt.Sprintf("entry seq %d", seq)
	if err := expect(code == exitCheckFailed && strings.Contains(out, want),
		"verify after tampering exited %d without naming %q", code, want); err != nil {
		return err
	}
	st.printf("  The copy taken before the edit still verifies:\n")
	pub := st.srv.Config().Audit.PublicKeyFile
	code, _ = st.runDemoVerify(ctx, "--database", backup, "--public-key", pub)
	return expect(code == exitOK, "verify of the pre-tamper copy exited %d", code)
}

// verifyLike is `tollgate verify` for the two forms the demo shows: it
// checks the audit log and returns verify's exit code (0 verified, 1
// tampering found, 2 unusable arguments or database).
func verifyLike(ctx context.Context, args []string, w io.Writer) int {
	var dbPath string
	var keys audit.Keyring
	var err error
	switch {
	case len(args) == 2 && args[0] == "--config":
		var cfg *config.Config
		if cfg, _, err = config.Load(args[1]); err == nil {
			dbPath = cfg.Database
			keys, err = cfg.Audit.Keyring()
		}
	case len(args) == 4 && args[0] == "--database" && args[2] == "--public-key":
		dbPath = args[1]
		keys, err = audit.LoadKeyring(args[3])
	default:
		err = fmt.Errorf("unexpected arguments %q", args)
	}
	if err != nil {
		fmt.Fprintf(w, "tollgate verify: %v\n", err)
		return exitUsage
	}
	s, r, err := auditcheck.Verify(ctx, dbPath, keys, w)
	if err != nil {
		fmt.Fprintf(w, "tollgate verify: %v\n", err)
		return exitUsage
	}
	s.Close()
	if !r.OK {
		return exitCheckFailed
	}
	return exitOK
}
