package evidence_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/store/evidence"
	"github.com/tollgate-dev/tollgate/store/evidence/evidencetest"
)

// The requests table is read in batches and only in part (the result's
// digest, the PR's reviews): a row that disagrees with the audit log on
// what is read so is still an exception naming the field.
func TestATableRowThatDisagreesIsFoundInBatches(t *testing.T) {
	h := evidencetest.Build(t, 600, 9) // more than one batch of changes
	var id, digest string
	if err := h.Store.DB().QueryRow(`SELECT r.id, a.data FROM requests r JOIN audit_entries a ON a.subject = r.id
		WHERE a.action = 'deploy.finished' ORDER BY r.created_at DESC LIMIT 1`).Scan(&id, &digest); err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(digest, `"manifest_digest":"`)
	digest, _, _ = strings.Cut(rest, `"`)
	if _, err := h.Store.DB().Exec(`UPDATE requests SET result = replace(result, ?, 'sha256:feedfeed'),
		pr_author_login = 'mallory' WHERE id = ?`, digest, id); err != nil {
		t.Fatal(err)
	}
	sum := buildPack(t, h, filepath.Join(t.TempDir(), "pack"), 0, 0)
	var detail string
	for _, e := range sum.Exceptions {
		if e.Code == evidence.ExcTableMismatch && e.RequestID == id {
			detail = e.Detail
		}
	}
	for _, want := range []string{`manifest digest "` + digest + `" in the audit log, "sha256:feedfeed" in the table`,
		`"mallory" in the table`} {
		if !strings.Contains(detail, want) {
			t.Errorf("exception for %s: %q\nwant it to contain %s", id, detail, want)
		}
	}
}
