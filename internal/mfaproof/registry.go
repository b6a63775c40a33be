package mfaproof

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/tollgate-dev/tollgate/bot"
)

// Registry follows the credentials the audit log registers, removes and
// revokes, read in log order, so that an assertion is checked against the
// key registered to its signer at the time: an entry whose assertion
// verifies with a public key nobody registered (a writer who made up both)
// is caught even though its signature holds.
type Registry struct {
	byID   map[string]registered // credential id (base64) → registration
	byName map[string]string     // "github id/name" → credential id
}

type registered struct {
	githubID  int64
	publicKey []byte
	seq       int64
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{byID: map[string]registered{}, byName: map[string]string{}}
}

// credentialData is the data of mfa.registered, mfa.removed and mfa.revoked.
type credentialData struct {
	GitHubID     int64  `json:"github_id"`
	Name         string `json:"name"`
	CredentialID string `json:"credential_id"`
	PublicKey    string `json:"public_key"`
}

// Observe reads one audit entry; only credential entries change anything.
func (r *Registry) Observe(seq int64, action string, data []byte) {
	if action != bot.ActionMFARegistered && action != bot.ActionMFARemoved && action != bot.ActionMFARevoked {
		return
	}
	var d credentialData
	if json.Unmarshal(data, &d) != nil {
		return
	}
	name := strconv.FormatInt(d.GitHubID, 10) + "/" + d.Name
	if action != bot.ActionMFARegistered {
		delete(r.byID, r.byName[name])
		delete(r.byName, name)
		return
	}
	key, err := base64.StdEncoding.DecodeString(d.PublicKey)
	if err != nil {
		return
	}
	r.byID[d.CredentialID] = registered{githubID: d.GitHubID, publicKey: key, seq: seq}
	r.byName[name] = d.CredentialID
}

// Check says why p's credential was not, when it was used, registered to
// its signer with the public key it verifies with; nil when it was.
func (r *Registry) Check(p *bot.MFAProof) error {
	reg, ok := r.byID[base64.StdEncoding.EncodeToString(p.CredentialID)]
	switch {
	case !ok:
		return fmt.Errorf("its credential %s is not registered in the audit log (never registered, or removed before)",
			base64.RawURLEncoding.EncodeToString(p.CredentialID))
	case reg.githubID != p.GitHubID:
		return fmt.Errorf("its credential was registered (entry %d) to GitHub user %d, not %d", reg.seq, reg.githubID, p.GitHubID)
	case !bytes.Equal(reg.publicKey, p.PublicKey):
		return fmt.Errorf("its public key is not the one registered with the credential (entry %d)", reg.seq)
	}
	return nil
}
