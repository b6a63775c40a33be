package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/tollgate-dev/tollgate/server"
	"io"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/evidence"
)

func init() {
	register("evidence", "write the auditor's evidence pack for a date range; 'evidence verify DIR' checks one", runEvidence)
	c := commands["evidence"]
	c.subs = []string{"verify"}
	commands["evidence"] = c
}

// evidenceKeys is where a command finds the database and the audit key
// pair: a config file, or --database with --signing-key / --public-key.
type evidenceKeys struct {
	auditSource
	signingKey string
}

func (k *evidenceKeys) register(fs *flag.FlagSet) {
	k.auditSource.register(fs, true)
	fs.StringVar(&k.signingKey, "signing-key", "", "audit signing key `FILE` (overrides the config)")
}

// resolve loads the config (if any) and the keys; signer is nil when no
// signing key is known and needSigner is false, keys nil unless
// needVerifier. keys are the trusted public keys (--public-key, else the
// config's keyring), the signer's own first.
func (k *evidenceKeys) resolve(needSigner, needVerifier bool) (cfg *config.Config, dbPath string, signer note.Signer, keys audit.Keyring, err error) {
	dbPath, priv := k.database, k.signingKey
	if k.config != "" {
		if cfg, _, err = config.Load(k.config); err != nil {
			return nil, "", nil, nil, err
		}
		if dbPath == "" {
			dbPath = cfg.Database
		}
		if priv == "" {
			priv = cfg.Audit.SigningKeyFile
		}
	}
	if dbPath == "" {
		return nil, "", nil, nil, errors.New("no database: give --config FILE or --database PATH")
	}
	if priv != "" {
		if signer, err = audit.LoadSigner(priv); err != nil {
			return nil, "", nil, nil, err
		}
	} else if needSigner {
		return nil, "", nil, nil, errors.New("no audit signing key: the pack's MANIFEST is signed with it; give --config FILE or --signing-key FILE")
	}
	switch {
	case !needVerifier:
	case len(k.publicKeys) > 0:
		keys, err = audit.LoadKeyring(k.publicKeys...)
	case cfg != nil:
		a := cfg.Audit
		a.SigningKeyFile = priv // --signing-key overrides the config's
		keys, err = a.Keyring()
	case priv != "":
		var v note.Verifier
		v, err = audit.VerifierFromSigningKeyFile(priv)
		keys = audit.Keyring{v}
	default:
		err = errors.New("no audit public key: give --config FILE or --public-key FILE")
	}
	if err == nil && signer != nil && keys != nil {
		keys, err = server.SignerFirst(signer, keys)
	}
	return cfg, dbPath, signer, keys, err
}

// evidenceSource is what an evidence command works from: the resolved
// keys and the open database.
type evidenceSource struct {
	cfg     *config.Config // nil without --config
	dbPath  string
	signer  note.Signer   // nil when no signing key is known and none was needed
	trusted audit.Keyring // nil unless needed; the signer's own key first
	st      *store.Store
}

// open resolves the keys as resolve does, then opens the database as
// openForEvidence does; the caller closes src.st.
func (k *evidenceKeys) open(ctx context.Context, needSigner, needVerifier, checkpoint bool) (*evidenceSource, error) {
	cfg, dbPath, signer, trusted, err := k.resolve(needSigner, needVerifier)
	if err != nil {
		return nil, err
	}
	st, err := openForEvidence(ctx, dbPath, signer, checkpoint)
	if err != nil {
		return nil, err
	}
	return &evidenceSource{cfg: cfg, dbPath: dbPath, signer: signer, trusted: trusted, st: st}, nil
}

// openForEvidence opens the database; with a signer and checkpoint set it
// first signs a checkpoint covering every entry, so every entry in the
// pack can be proven. Without, it opens read-only.
func openForEvidence(ctx context.Context, dbPath string, signer note.Signer, checkpoint bool) (*store.Store, error) {
	if signer == nil || !checkpoint {
		return store.OpenReadOnly(ctx, dbPath)
	}
	st, err := store.Open(ctx, dbPath, store.Options{Signer: signer})
	if err != nil {
		return nil, err
	}
	if _, err := st.Audit().Checkpoint(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

func runEvidence(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "verify" {
		return runEvidenceVerify(args[1:], stdout, stderr)
	}
	fs := newFlags("evidence", stdout, stderr,
		[]string{
			"tollgate evidence --config FILE --from DATE --to DATE --out DIR [--repo R] [--env E] [--sample N --seed S]",
			"tollgate evidence --database PATH --signing-key FILE [--public-key FILE] --from DATE --to DATE --out DIR",
			"tollgate evidence verify DIR --public-key FILE [--public-key FILE]...",
		},
		"Writes the auditor's pack (docs/evidence.md) and signs its MANIFEST with the audit key.",
		"'tollgate help evidence verify' describes checking a pack.",
		"Exit 0 written, 1 written but the audit log did not verify or the population did not reconcile,",
		"2 bad usage, or DIR is not new or empty.",
	)
	var keys evidenceKeys
	keys.register(fs.FlagSet)
	var dates dateRange
	dates.register(fs.FlagSet)
	repo := fs.String("repo", "", "only this repository `R` (owner/name)")
	env := fs.String("env", "", "only this environment `E`")
	sample := fs.Int("sample", 0, "draw `N` changes into sample/")
	seed := fs.String("seed", "1", "`S`, the seed of the sample draw (the same seed draws the same sample)")
	out := fs.String("out", "", "`DIR` to write the pack into (new or empty)")
	noCheckpoint := fs.Bool("no-checkpoint", false, "open the database read-only and sign no checkpoint first")
	if code, done := fs.Parse(args); done {
		return code
	}
	rng, err := dates.parse()
	if err != nil {
		return fs.Fail("%v", err)
	}
	if *out == "" {
		return fs.Fail("--out DIR is required")
	}
	seedN, serr := strconv.ParseUint(*seed, 10, 64)
	if serr != nil || *sample < 0 {
		return fs.Fail("--sample must be 0 or more and --seed a non-negative integer")
	}
	if err := checkOutDir(*out); err != nil {
		fmt.Fprintf(stderr, "tollgate evidence: %v\n", err)
		return exitUsage
	}
	src, err := keys.open(ctx, true, true, !*noCheckpoint)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate evidence: %v\n", err)
		return exitUsage
	}
	defer src.st.Close()
	opts := evidence.Options{Range: rng, Repo: *repo, Environment: *env, SampleSize: *sample, Seed: seedN, Out: *out,
		Signer: src.signer, Verifier: src.trusted[0], PreviousKeys: src.trusted[1:], Source: src.dbPath}
	if src.cfg != nil {
		opts.Environments, opts.Freezes = evidenceEnvironments(src.cfg)
	}
	sum, err := evidence.Build(ctx, src.st, opts)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate evidence: %v\n", err)
		return exitCheckFailed
	}
	fmt.Fprintf(stdout, "wrote %s: %s (%d deployed), %d sampled with %s, %s signed in MANIFEST\n",
		sum.Out, plural(sum.Changes, "change", "changes"), sum.Deployed, sum.Sampled, plural(sum.Proofs, "proof", "proofs"),
		plural(sum.Files, "file", "files"))
	fmt.Fprintf(stdout, "reconciled: %s; audit log verified: %s; exceptions: %d (see report.html)\n",
		yes(sum.Reconciliation.OK()), yes(sum.Verify.OK), len(sum.Exceptions))
	if !sum.Reconciliation.OK() || !sum.Verify.OK {
		return exitCheckFailed
	}
	return exitOK
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

// evidenceEnvironments turns the config into what evidence needs to know
// of each environment, and the configured freeze windows.
func evidenceEnvironments(cfg *config.Config) (func(repo, env string) (evidence.EnvironmentInfo, bool), []evidence.FreezeWindow) {
	var freezes []evidence.FreezeWindow
	for _, repo := range cfg.RepositoryNames() {
		for _, e := range cfg.Repositories[repo].Environments {
			for _, f := range e.Freezes {
				freezes = append(freezes, evidence.FreezeWindow{Repo: repo, Environment: e.Name, Name: f.Name(), Schedule: f.String()})
			}
		}
	}
	return func(repo, env string) (evidence.EnvironmentInfo, bool) {
		e, ok := cfg.Environment(repo, env)
		if !ok {
			return evidence.EnvironmentInfo{}, false
		}
		return evidence.EnvironmentInfo{Production: e.Production, EmergencyReviewWithin: e.Emergency.ReviewWithin}, true
	}, freezes
}

func runEvidenceVerify(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("evidence verify", stdout, stderr,
		[]string{"tollgate evidence verify DIR --public-key FILE [--public-key FILE]... [--attestation-key FILE]..."},
		"Checks the MANIFEST's signature and every file's SHA-256, audit.jsonl against audit.proof,",
		"and re-verifies every security key assertion in audit.jsonl and every attestation in attestations/.",
		"Exit 0 intact, 1 a file was edited, added or removed, or an assertion does not re-verify, 2 bad usage.",
	)
	var pubs, attKeys keyFiles
	fs.Var(&pubs, "public-key", "audit public key `FILE`; repeat it for keys rotated out: a pack or checkpoint signed by any of them verifies")
	fs.Var(&attKeys, "attestation-key", "attestation public key `FILE` (required when the pack holds attestations); repeat it for keys rotated out")
	if code, done := fs.Parse(args, "DIR"); done {
		return code
	}
	if len(pubs) == 0 {
		return fs.Fail("--public-key FILE is required")
	}
	keys, err := audit.LoadKeyring(pubs...)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate evidence verify: %v\n", err)
		return exitUsage
	}
	dir := fs.Pos[0]
	res, err := evidence.VerifyPack(dir, keys...)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate evidence verify: %v\n", err)
		return exitUsage
	}
	for _, p := range res.Problems {
		fmt.Fprintf(stdout, "FAIL: %s\n", p)
	}
	if !res.OK() {
		return exitCheckFailed
	}
	seg, err := evidence.CheckSegmentFiles(dir+"/audit.jsonl", dir+"/audit.proof", keys...)
	if err != nil {
		fmt.Fprintf(stdout, "FAIL: audit.jsonl: %v\n", err)
		return exitCheckFailed
	}
	fmt.Fprintf(stdout, "OK: %s the MANIFEST signed by %s (range %s; %s)\n", plural(res.Files, "file matches", "files match"), res.KeyName, res.Range, res.Scope())
	if res.Filtered() {
		fmt.Fprintf(stdout, "NOTE: a filtered pack (%s): it holds only those changes, not every change of the range\n", res.Scope())
	}
	fmt.Fprintf(stdout, "OK: audit.jsonl: %s, %d proven in the audit log of %s signed by %s at %s\n",
		plural(seg.Lines, "entry", "entries"), seg.Covered, plural(seg.Checkpoint.Size, "entry", "entries"), seg.Checkpoint.KeyName,
		seg.Checkpoint.Time.Format(time.RFC3339))
	if code := reportPackMFA(dir, keys, stdout); code != exitOK {
		return code
	}
	att, err := evidence.CheckPackAttestations(context.Background(), dir, attKeys, keys)
	if fmt.Fprint(stdout, att.Text(err)); err != nil || !att.OK() {
		return exitCheckFailed
	}
	return exitOK
}

// reportPackMFA re-verifies the pack's security key assertions and says so.
func reportPackMFA(dir string, keys []note.Verifier, stdout io.Writer) int {
	m, err := evidence.CheckPackMFA(dir, keys...)
	if err != nil {
		fmt.Fprintf(stdout, "FAIL: security keys: %v\n", err)
		return exitCheckFailed
	}
	for _, p := range m.Problems {
		fmt.Fprintf(stdout, "FAIL: %s\n", p)
	}
	if !m.OK() {
		fmt.Fprintf(stdout, "security keys: %d recorded assertions in audit.jsonl, %d do not re-verify\n", m.Assertions, len(m.Problems))
		return exitCheckFailed
	}
	fmt.Fprintf(stdout, "OK: security keys: %d recorded assertions in audit.jsonl re-verified (%d key registrations before the range, proven)\n",
		m.Assertions, m.Registrations)
	return exitOK
}
