package main

import (
	"context"
	"errors"
	"flag"
	"strings"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

func init() {
	registerGroup(group{name: "audit",
		about: []string{"Reads the audit log, proves one entry against a signed checkpoint, signs a checkpoint,",
			"archives the log, hashes a value the log keeps only as HMAC, and rotates the signing key."},
		subs: []subcommand{
			{"tail", "print the latest entries as a table (--json: JSON lines)", runAuditTail},
			{"show", "print one entry", runAuditShow},
			{"prove", "write the inclusion proof of one entry (check it with check-proof)", runAuditProve},
			{"check-proof", "check an inclusion proof offline with the audit public key", runAuditCheckProof},
			{"checkpoint", "sign a checkpoint covering every entry now (needs the signing key)", runAuditCheckpoint},
			{"export", "write the entries of a date range as proven JSONL segments, for archiving", runAuditExport},
			{"verify-export", "check an export's segments against their proofs", runAuditVerifyExport},
			{"hash", "print a value's HMAC, to find it in the log", runAuditHash},
			{"rotate", "hand audit signing over to a new key, signed by both", runAuditRotate},
		}},
		"read the audit log: tail, show, prove, check-proof, checkpoint, export, hash, rotate")
}

// auditSource is where a command finds the audit database and public keys:
// a config file, or --database and --public-key alone (an auditor's copy).
type auditSource struct {
	config, database string
	publicKeys       keyFiles
}

// keyFiles is a repeatable --public-key flag: the current audit public key
// and those of keys rotated out, whose checkpoints still verify.
type keyFiles []string

func (k *keyFiles) String() string { return strings.Join(*k, ",") }

// Set adds one file.
func (k *keyFiles) Set(path string) error {
	*k = append(*k, path)
	return nil
}

const publicKeyUsage = "audit public key `FILE` (overrides the config); repeat it for keys rotated out: a checkpoint signed by any of them verifies"

func (a *auditSource) register(fs *flag.FlagSet, withKey bool) {
	fs.StringVar(&a.config, "config", "", "tollgate.yml `FILE` to take the database and keys from")
	fs.StringVar(&a.database, "database", "", "the database: a SQLite `PATH` or a postgres:// URL (overrides the config)")
	if withKey {
		fs.Var(&a.publicKeys, "public-key", publicKeyUsage)
	}
}

// resolve returns the database path and, if needKey, the trusted keys:
// the --public-key files, else the config's keyring (configKeyring).
func (a *auditSource) resolve(needKey bool) (string, audit.Keyring, error) {
	dbPath := a.database
	var cfg *config.Config
	if a.config != "" {
		var err error
		if cfg, _, err = config.Load(a.config); err != nil {
			return "", nil, err
		}
		if dbPath == "" {
			dbPath = cfg.Database
		}
	}
	if dbPath == "" {
		return "", nil, errors.New("no database: give --database PATH or --config FILE")
	}
	switch {
	case !needKey:
		return dbPath, nil, nil
	case len(a.publicKeys) > 0:
		keys, err := audit.LoadKeyring(a.publicKeys...)
		return dbPath, keys, err
	case cfg != nil:
		keys, err := cfg.Audit.Keyring()
		return dbPath, keys, err
	}
	return "", nil, errors.New("no public key: give --public-key FILE or --config FILE")
}

func (a *auditSource) open(ctx context.Context) (*store.Store, error) {
	dbPath, _, err := a.resolve(false)
	if err != nil {
		return nil, err
	}
	return store.OpenReadOnly(ctx, dbPath)
}
