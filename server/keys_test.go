package server

import (
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
)

func TestAuditKeyReadiness(t *testing.T) {
	rot := audittest.BuildRotated(t, 0, 0, 1)
	cfg := config.Audit{SigningKeyFile: rot.New.PrivateKeyFile, PreviousPublicKeyFiles: []string{rot.Old.PublicKeyFile}}
	tests := []struct {
		name string
		edit func(a *config.Audit)
		want string // "" when ready
	}{
		{"the new key with the old one kept for verification", func(a *config.Audit) {}, ""},
		{"public_key_file names the new key", func(a *config.Audit) { a.PublicKeyFile = rot.New.PublicKeyFile }, ""},
		{"public_key_file still names the old key", func(a *config.Audit) { a.PublicKeyFile = rot.Old.PublicKeyFile },
			"checkpoints signed now would not verify: the signing key new-key+"},
		{"a previous public key file was removed", func(a *config.Audit) { a.PreviousPublicKeyFiles = []string{rot.Old.PublicKeyFile + ".gone"} },
			"audit.previous_public_key_files: read audit public key"},
		{"the signing key changed on disk", func(a *config.Audit) { a.SigningKeyFile = rot.Old.PrivateKeyFile },
			"changed since start; restart to use it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := cfg
			tt.edit(&a)
			err := auditKeyReady(a, rot.New.Signer)
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("auditKeyReady = %v, want %q", err, tt.want)
			}
		})
	}
}
