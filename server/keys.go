package server

import (
	"context"
	"fmt"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/config"
	ghint "github.com/tollgate-dev/tollgate/integrations/github"
	"github.com/tollgate-dev/tollgate/store/anchor"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// AuditKeyring is the config's trusted audit keys: the current key
// (public_key_file, or derived from signing_key_file), then the keys
// rotated out (previous_public_key_files).
func AuditKeyring(a config.Audit) (audit.Keyring, error) {
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

// SignerFirst moves the signer's public key to the front of keys, and
// fails when it is not among them: the MANIFEST it signs must verify.
func SignerFirst(signer note.Signer, keys audit.Keyring) (audit.Keyring, error) {
	for i, v := range keys {
		if v.Name() == signer.Name() && v.KeyHash() == signer.KeyHash() {
			return append(audit.Keyring{v}, append(keys[:i:i], keys[i+1:]...)...), nil
		}
	}
	return nil, fmt.Errorf("the signing key %s+%08x and the public key %s are not a pair", signer.Name(), signer.KeyHash(), keys)
}

// AnchorPublisher adapts the GitHub anchor repository to the store's
// anchoring loop (serve calls anchor.New(store, AnchorPublisher(a), ...)
// and PublishPending after each checkpoint).
func AnchorPublisher(a *ghint.Anchors) anchor.Publisher {
	return anchor.PublisherFunc(func(ctx context.Context, cp audit.Checkpoint) (anchor.Receipt, error) {
		rc, err := a.Publish(ctx, cp.Note, cp.Size, cp.Time)
		return anchor.Receipt{Repository: rc.Repository, Path: rc.Path, Commit: rc.Commit}, err
	})
}
