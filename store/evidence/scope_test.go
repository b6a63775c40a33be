package evidence_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/store/evidence"
	"github.com/tollgate-dev/tollgate/store/evidence/evidencetest"
)

// A pack cut to one repository or environment says so in its signed
// MANIFEST, so it never verifies as the range's whole population.
func TestTheManifestSignsThePacksFilters(t *testing.T) {
	h := evidencetest.Build(t, 40, 5)
	tests := []struct {
		name      string
		repo, env string
		line      string // the range line's filters
		scope     string
	}{
		{name: "no filter", line: "; all repositories; all environments\n", scope: "all repositories, all environments"},
		{name: "one repository", repo: evidencetest.Repo, line: `; repository "acme/shop"; all environments` + "\n",
			scope: `repository "acme/shop", all environments`},
		{name: "one environment of one repository", repo: evidencetest.Repo, env: "production",
			line: `; repository "acme/shop"; environment "production"` + "\n", scope: `repository "acme/shop", environment "production"`},
		{name: "a name that tries to end the line", env: "prod\nfiles 0; all environments",
			line: `; all repositories; environment "prod\nfiles 0; all environments"` + "\n", scope: `environment "prod\nfiles 0; all environments"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "pack")
			if _, err := evidence.Build(t.Context(), h.Store, evidence.Options{
				Range: evidence.Range{From: h.From, To: h.To}, Repo: tt.repo, Environment: tt.env, Out: out,
				Signer: h.Keys.Signer, Verifier: h.Keys.Verifier, Now: h.Clock.Now, Source: "tollgate.db",
			}); err != nil {
				t.Fatal(err)
			}
			manifest, err := os.ReadFile(filepath.Join(out, evidence.ManifestName))
			if err != nil {
				t.Fatal(err)
			}
			want := "\nrange " + evidence.Range{From: h.From, To: h.To}.String() + tt.line
			if !strings.Contains(string(manifest), want) {
				t.Fatalf("MANIFEST lacks %q:\n%s", want, manifest)
			}
			res, err := evidence.VerifyPack(out, h.Keys.Verifier)
			if err != nil || !res.OK() {
				t.Fatalf("VerifyPack: %v %v", err, res.Problems)
			}
			filtered := tt.repo != "" || tt.env != ""
			if !res.FiltersSigned || res.Repo != tt.repo || res.Environment != tt.env || res.Filtered() != filtered ||
				!strings.Contains(res.Scope(), tt.scope) {
				t.Fatalf("VerifyPack read repo %q env %q signed %v scope %q; want %q %q, %s", res.Repo, res.Environment,
					res.FiltersSigned, res.Scope(), tt.repo, tt.env, tt.scope)
			}
		})
	}
}
