package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

// The Store keeps registered security keys.
var _ bot.MFAStore = (*Store)(nil)

const mfaColumns = `credential_id, github_id, github_login, name, public_key, aaguid, sign_count,
	backup_eligible, backup_state, transports, attestation_format, created_at, last_used_at`

// credentialKey is how a credential id is keyed: base64url, no padding.
func credentialKey(id []byte) string { return base64.RawURLEncoding.EncodeToString(id) }

// AddMFACredential implements bot.MFAStore.
func (s *Store) AddMFACredential(ctx context.Context, c bot.MFACredential, ev bot.AuditEvent) error {
	if c.GitHubID == 0 || len(c.ID) == 0 || len(c.PublicKey) == 0 || c.Name == "" {
		return errors.New("add security key: GitHub id, name, credential id and public key are required")
	}
	aaguid := c.AAGUID
	if aaguid == nil {
		aaguid = []byte{}
	}
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO mfa_credentials (`+mfaColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			credentialKey(c.ID), c.GitHubID, c.Login, c.Name, c.PublicKey, aaguid, int64(c.SignCount),
			flag(c.BackupEligible), flag(c.BackupState), strings.Join(c.Transports, " "), c.AttestationFormat,
			nanos(c.CreatedAt), nanos(c.LastUsedAt))
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: a security key of that name or id exists", bot.ErrConflict)
		}
		if err != nil {
			return err
		}
		return s.appendEvents(ctx, tx, []bot.AuditEvent{ev})
	})
	if err != nil {
		return fmt.Errorf("add security key %q of GitHub user %d: %w", c.Name, c.GitHubID, err)
	}
	return nil
}

// MFACredentials implements bot.MFAStore.
func (s *Store) MFACredentials(ctx context.Context, githubID int64) ([]bot.MFACredential, error) {
	return s.mfaCredentialsWhere(ctx, `github_id = ?`, githubID)
}

// mfaCredentialsWhere lists the credentials matching cond, oldest first.
func (s *Store) mfaCredentialsWhere(ctx context.Context, cond string, arg any) ([]bot.MFACredential, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+mfaColumns+` FROM mfa_credentials WHERE `+cond+`
		ORDER BY created_at, name`, arg)
	if err != nil {
		return nil, fmt.Errorf("security keys of %v: %w", arg, err)
	}
	defer rows.Close()
	var out []bot.MFACredential
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, fmt.Errorf("security keys of %v: %w", arg, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("security keys of %v: %w", arg, err)
	}
	return out, nil
}

// MFACredentialsByLogin implements bot.MFAStore.
func (s *Store) MFACredentialsByLogin(ctx context.Context, login string) ([]bot.MFACredential, error) {
	return s.mfaCredentialsWhere(ctx, `lower(github_login) = lower(?)`, login)
}

// MFACredentialByID implements bot.MFAStore.
func (s *Store) MFACredentialByID(ctx context.Context, id []byte) (bot.MFACredential, error) {
	c, err := scanCredential(s.db.QueryRowContext(ctx, `SELECT `+mfaColumns+` FROM mfa_credentials
		WHERE credential_id = ?`, credentialKey(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return bot.MFACredential{}, fmt.Errorf("security key %s: %w", credentialKey(id), bot.ErrNotFound)
	}
	if err != nil {
		return bot.MFACredential{}, fmt.Errorf("security key %s: %w", credentialKey(id), err)
	}
	return c, nil
}

// RemoveMFACredential implements bot.MFAStore.
func (s *Store) RemoveMFACredential(ctx context.Context, githubID int64, name string, ev bot.AuditEvent) (bot.MFACredential, error) {
	var removed bot.MFACredential
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		c, err := scanCredential(tx.QueryRowContext(ctx, `DELETE FROM mfa_credentials WHERE github_id = ? AND name = ?
			RETURNING `+mfaColumns, githubID, name))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("no security key named %q: %w", name, bot.ErrNotFound)
		}
		if err != nil {
			return err
		}
		removed = c
		return s.appendEvents(ctx, tx, []bot.AuditEvent{ev})
	})
	if err != nil {
		return bot.MFACredential{}, fmt.Errorf("remove security key %q of GitHub user %d: %w", name, githubID, err)
	}
	return removed, nil
}

// UseMFACredential implements bot.MFAStore. The counter only moves forward.
func (s *Store) UseMFACredential(ctx context.Context, id []byte, signCount uint32, at time.Time) error {
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE mfa_credentials SET last_used_at = ?,
			sign_count = CASE WHEN sign_count < ? THEN ? ELSE sign_count END WHERE credential_id = ?`,
			nanos(at), int64(signCount), int64(signCount), credentialKey(id))
		return err
	})
	if err != nil {
		return fmt.Errorf("record use of security key %s: %w", credentialKey(id), err)
	}
	return nil
}

// scanCredential reads one row of mfaColumns.
func scanCredential(row interface{ Scan(...any) error }) (bot.MFACredential, error) {
	var c bot.MFACredential
	var key, transports string
	var count, created, used int64
	var be, bs int
	if err := row.Scan(&key, &c.GitHubID, &c.Login, &c.Name, &c.PublicKey, &c.AAGUID, &count, &be, &bs,
		&transports, &c.AttestationFormat, &created, &used); err != nil {
		return bot.MFACredential{}, err
	}
	id, err := base64.RawURLEncoding.DecodeString(key)
	if err != nil {
		return bot.MFACredential{}, fmt.Errorf("credential id %q: %w", key, err)
	}
	c.ID, c.SignCount, c.BackupEligible, c.BackupState = id, uint32(count), be != 0, bs != 0
	c.Transports = strings.Fields(transports)
	c.CreatedAt, c.LastUsedAt = fromNanos(created), fromNanos(used)
	return c, nil
}

// flag stores a boolean as 0 or 1, which both engines read back alike.
func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}
