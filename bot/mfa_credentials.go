package bot

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// MFACredential is one WebAuthn credential (security key, passkey) a
// person registered, stored under their GitHub numeric id.
type MFACredential struct {
	GitHubID  int64
	Login     string // the GitHub login at registration, for display
	Name      string // chosen by its owner, unique per person
	ID        []byte // the credential id
	PublicKey []byte // COSE_Key
	AAGUID    []byte // the authenticator model, as it reports it
	SignCount uint32
	// Flags of the registration the ceremony checks again at each use.
	BackupEligible bool
	BackupState    bool
	Transports     []string
	// AttestationFormat is what the authenticator sent ("none" unless
	// webauthn.attestation asks for more).
	AttestationFormat string
	CreatedAt         time.Time
	LastUsedAt        time.Time
}

// MFAStore keeps registered credentials. Adding and removing append their
// audit event in the same transaction.
type MFAStore interface {
	// AddMFACredential stores c and appends ev; an error wrapping
	// ErrConflict when its owner has a credential of that name, or the
	// credential id is registered already.
	AddMFACredential(ctx context.Context, c MFACredential, ev AuditEvent) error
	// MFACredentials lists a person's credentials, oldest first.
	MFACredentials(ctx context.Context, githubID int64) ([]MFACredential, error)
	// MFACredentialsByLogin lists the credentials registered by a GitHub
	// login (as it was at registration, case-insensitive), oldest first.
	MFACredentialsByLogin(ctx context.Context, login string) ([]MFACredential, error)
	// MFACredentialByID returns the credential with id, or an error wrapping ErrNotFound.
	MFACredentialByID(ctx context.Context, id []byte) (MFACredential, error)
	// RemoveMFACredential deletes githubID's credential name and appends
	// ev; an error wrapping ErrNotFound when there is none.
	RemoveMFACredential(ctx context.Context, githubID int64, name string, ev AuditEvent) (MFACredential, error)
	// UseMFACredential records a verified use: the signature counter and when.
	UseMFACredential(ctx context.Context, id []byte, signCount uint32, at time.Time) error
}

// Audit actions of credentials.
const (
	ActionMFARegistered = "mfa.registered" // a person registered a credential
	ActionMFARemoved    = "mfa.removed"    // its owner removed it
	ActionMFARevoked    = "mfa.revoked"    // an admin revoked it
)

// MaxMFACredentials bounds the credentials one person may register.
const MaxMFACredentials = 10

// validMFAName is a credential's name: short, typeable in a Slack command.
var validMFAName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$`)

// errNoMFAStore reports a Service built without an MFAStore.
var errNoMFAStore = errors.New("no MFA credential store configured")

// RegisterMFACredential stores a credential whose registration ceremony
// the web transport verified, for who (signed in with GitHub as them).
func (s *Service) RegisterMFACredential(ctx context.Context, who Identity, c MFACredential) error {
	if s.mfa == nil {
		return errNoMFAStore
	}
	const what = "mfa.register"
	c.GitHubID, c.Login, c.CreatedAt = who.GitHubID, who.Login, s.now().UTC()
	if who.GitHubID == 0 || len(c.ID) == 0 || len(c.PublicKey) == 0 {
		return fmt.Errorf("register a security key for %s: GitHub id, credential id and public key are required", who.Login)
	}
	if !validMFAName.MatchString(c.Name) {
		return s.refuseAction(ctx, who, what, who.Login, refuse(CodeBadCommand,
			"name the key with 1 to 40 letters, digits, '.', '_' or '-' (for example yubikey-5c)"))
	}
	have, err := s.mfa.MFACredentials(ctx, who.GitHubID)
	if err != nil {
		return fmt.Errorf("register a security key for %s: %w", who.Login, err)
	}
	if len(have) >= MaxMFACredentials {
		return s.refuseAction(ctx, who, what, who.Login, refuse(CodeNotAllowed,
			"you have %d security keys registered, the most allowed; remove one first (/deploy mfa remove NAME)", len(have)))
	}
	ev := AuditEvent{Actor: who.Login, Action: ActionMFARegistered, Subject: who.Login, Data: map[string]any{
		"github_login": who.Login, "github_id": who.GitHubID, "name": c.Name, "slack_user": who.ChatUser,
		"credential_id": b64(c.ID), "public_key": b64(c.PublicKey), "aaguid": b64(c.AAGUID),
		"attestation_format": c.AttestationFormat, "backup_eligible": c.BackupEligible, "transports": c.Transports}}
	err = s.mfa.AddMFACredential(ctx, c, ev)
	if errors.Is(err, ErrConflict) {
		return s.refuseAction(ctx, who, what, who.Login, refuse(CodeMFANameTaken,
			"you already have a security key named %q, or this key is registered already", c.Name))
	}
	if err != nil {
		return fmt.Errorf("register security key %q for %s: %w", c.Name, who.Login, err)
	}
	return nil
}

// MFACredentials lists a person's registered credentials, oldest first.
func (s *Service) MFACredentials(ctx context.Context, githubID int64) ([]MFACredential, error) {
	if s.mfa == nil {
		return nil, errNoMFAStore
	}
	cs, err := s.mfa.MFACredentials(ctx, githubID)
	if err != nil {
		return nil, fmt.Errorf("listing security keys of GitHub user %d: %w", githubID, err)
	}
	return cs, nil
}

// RemoveMFACredential removes one of who's own credentials.
func (s *Service) RemoveMFACredential(ctx context.Context, who Identity, name string) error {
	if s.mfa == nil {
		return errNoMFAStore
	}
	_, err := s.mfa.RemoveMFACredential(ctx, who.GitHubID, name, AuditEvent{Actor: actorOf(who), Action: ActionMFARemoved,
		Subject: who.Login, Data: map[string]any{"github_login": who.Login, "github_id": who.GitHubID, "name": name,
			"slack_user": who.ChatUser}})
	if errors.Is(err, ErrNotFound) {
		return s.refuseAction(ctx, who, "mfa.remove", who.Login, refuse(CodeMFAUnknown,
			"you have no security key named %q (/deploy mfa list shows yours)", name))
	}
	if err != nil {
		return fmt.Errorf("remove security key %q of %s: %w", name, who.Login, err)
	}
	return nil
}

// RevokeMFACredential removes someone else's credential, named by its
// owner's GitHub login and its name: only members of the admins teams
// (teams.admins) may, checked live, and they must say why.
func (s *Service) RevokeMFACredential(ctx context.Context, admin Identity, ownerLogin, name, reason string) error {
	if s.mfa == nil {
		return errNoMFAStore
	}
	const what = "mfa.revoke"
	var teams []Team
	if s.admins != nil {
		teams = s.admins()
	}
	if len(teams) == 0 {
		return s.refuseAction(ctx, admin, what, ownerLogin, refuse(CodeNotAllowed,
			"no admins team is configured (teams.admins), so nobody may revoke someone else's security key"))
	}
	ms, err := s.memberships(ctx, teams, admin)
	if err != nil {
		return fmt.Errorf("revoke security key of %s: %w", ownerLogin, err)
	}
	if !anyMember(ms) {
		return s.refuseAction(ctx, admin, what, ownerLogin, refuse(CodeNotAllowed,
			"only members of %s may revoke someone else's security key", strings.Join(teamStrings(teams), ", ")))
	}
	if strings.TrimSpace(reason) == "" {
		return s.refuseAction(ctx, admin, what, ownerLogin, refuse(CodeReasonMissing, "say why the key is revoked"))
	}
	cs, err := s.mfa.MFACredentialsByLogin(ctx, ownerLogin)
	if err != nil {
		return fmt.Errorf("revoke security key of %s: %w", ownerLogin, err)
	}
	var owner *MFACredential
	for i := range cs {
		if cs[i].Name == name {
			owner = &cs[i]
		}
	}
	if owner == nil {
		return s.refuseAction(ctx, admin, what, ownerLogin, refuse(CodeMFAUnknown, "%s has no security key named %q", ownerLogin, name))
	}
	_, err = s.mfa.RemoveMFACredential(ctx, owner.GitHubID, name, AuditEvent{Actor: actorOf(admin), Action: ActionMFARevoked,
		Subject: owner.Login, Data: map[string]any{"github_login": owner.Login, "github_id": owner.GitHubID, "name": name,
			"credential_id": b64(owner.ID), "revoked_by": admin.Login, "revoked_by_id": admin.GitHubID, "reason": reason,
			"teams": membershipStrings(ms)}})
	if err != nil {
		return fmt.Errorf("revoke security key %q of %s: %w", name, ownerLogin, err)
	}
	return nil
}

// mfaCredentialOwned checks the proof's credential is registered to who
// with the public key the proof was verified with, and that its signature
// counter moved forward (a counter going back suggests a cloned key).
func (s *Service) mfaCredentialOwned(ctx context.Context, proof *MFAProof, who Identity) (*Refusal, error) {
	if s.mfa == nil {
		return refuse(CodeMFAInvalid, "security keys are not set up on this Tollgate"), nil
	}
	c, err := s.mfa.MFACredentialByID(ctx, proof.CredentialID)
	if errors.Is(err, ErrNotFound) {
		return refuse(CodeMFAInvalid, "the security key used is not registered (it may have been removed)"), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the security key of %s: %w", who.Login, err)
	}
	switch {
	case c.GitHubID != who.GitHubID:
		return refuse(CodeMFAInvalid, "the security key used is registered to someone else"), nil
	case !bytes.Equal(c.PublicKey, proof.PublicKey):
		return refuse(CodeMFAInvalid, "the security key's public key is not the one registered"), nil
	case c.SignCount != 0 && proof.SignCount <= c.SignCount:
		return refuse(CodeMFAInvalid, "the security key's signature counter went back (%d after %d): it may be cloned; "+
			"ask an admin to revoke it", proof.SignCount, c.SignCount), nil
	}
	return nil, nil
}

// recordMFAUse stores the counter of a proof that was accepted; a failure
// is logged, as the action itself is already recorded.
func (s *Service) recordMFAUse(ctx context.Context, proof *MFAProof, at time.Time) {
	if err := s.mfa.UseMFACredential(ctx, proof.CredentialID, proof.SignCount, at); err != nil {
		s.log.ErrorContext(ctx, "recording a security key's use", "credential", proof.CredentialName, "err", err)
	}
}

// b64 is how byte strings appear in audit data (standard base64, as
// encoding/json writes []byte).
func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
