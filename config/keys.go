package config

import (
	"fmt"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// Keyring is the configuration's trusted audit keys: the current key
// (public_key_file, or derived from signing_key_file), then the keys
// rotated out (previous_public_key_files).
func (a Audit) Keyring() (audit.Keyring, error) {
	var current note.Verifier
	var err error
	if a.PublicKeyFile != "" {
		current, err = audit.LoadVerifier(a.PublicKeyFile)
	} else {
		current, err = audit.VerifierFromSigningKeyFile(a.SigningKeyFile)
	}
	if err != nil {
		return nil, err
	}
	previous, err := audit.LoadKeyring(a.PreviousPublicKeyFiles...)
	if err != nil {
		return nil, fmt.Errorf("audit.previous_public_key_files: %w", err)
	}
	return append(audit.Keyring{current}, previous...), nil
}

// PublicKeys are the attestation keys trusted to have signed this
// installation's attestations: the signing key's public half, then the
// keys rotated out (previous_public_key_files), each with its retirement
// time when one is given. None without a signing key.
func (a Attestation) PublicKeys() ([]attest.PublicKey, error) {
	var out []attest.PublicKey
	if a.SigningKeyFile != "" {
		k, err := attest.LoadSigningKey(a.SigningKeyFile)
		if err != nil {
			return nil, fmt.Errorf("attestation.signing_key_file: %w", err)
		}
		out = append(out, k.Public())
	}
	for _, p := range a.PreviousPublicKeys {
		k, err := attest.LoadPublicKey(p.File)
		if err != nil {
			return nil, fmt.Errorf("attestation.previous_public_key_files: %w", err)
		}
		k.RetiredAt = p.RetiredAt // attest.Verify's key-retirement check applies it
		out = append(out, k)
	}
	return out, nil
}

// AttestationKeys are the keys that verify this installation's
// attestations: PublicKeys for the signature, the audit keyring for the
// audit proofs. Attestation is empty without an attestation key.
func (c *Config) AttestationKeys() (attest.Keys, error) {
	auditKeys, err := c.Audit.Keyring()
	if err != nil {
		return attest.Keys{}, fmt.Errorf("audit keys: %w", err)
	}
	keys, err := c.Attestation.PublicKeys()
	if err != nil {
		return attest.Keys{}, err
	}
	return attest.Keys{Attestation: keys, Audit: auditKeys}, nil
}
