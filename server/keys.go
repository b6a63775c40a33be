package server

import (
	"context"
	"fmt"

	"golang.org/x/mod/sumdb/note"

	ghint "github.com/tollgate-dev/tollgate/integrations/github"
	"github.com/tollgate-dev/tollgate/store/anchor"
	"github.com/tollgate-dev/tollgate/store/audit"
)

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
