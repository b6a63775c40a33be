package evidence

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tollgate-dev/tollgate/store/audit"
)

// SampleFiles are the files every sample folder holds.
var SampleFiles = []string{"README.txt", "change.json", "pr.json", "reviews.json", "checks.json",
	"approvals.json", "deploy.json", "manifest.txt"}

// sampleOrdinals draws n of a pool of pool changes (the deployed ones,
// in creation order) with a PCG generator seeded by seed: the same
// population, n and seed always give the same sample, so an auditor can
// reproduce the draw. It returns the drawn changes' positions in the pool,
// ascending, exactly as shuffling the pool and taking the first n would,
// but it follows the shuffle's swaps on positions alone: it holds the
// positions a swap moved (at most about pool/4 integers), never a change.
func sampleOrdinals(pool, n int, seed uint64) []int {
	if n <= 0 || pool <= 0 {
		return nil
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	moved := map[int]int{} // position → the pool position now there, where it differs
	at := func(i int) int {
		if v, ok := moved[i]; ok {
			return v
		}
		return i
	}
	r.Shuffle(pool, func(i, j int) {
		vi, vj := at(i), at(j)
		moved[i], moved[j] = vj, vi
		if i >= n { // the shuffle never touches position i again, and it is not drawn
			delete(moved, i)
		}
	})
	out := make([]int, min(n, pool))
	for i := range out {
		out[i] = at(i)
	}
	slices.Sort(out)
	return out
}

// writeSample writes one folder per sampled change: the PR and its reviews
// (from the requests table), the checks the policy decision recorded, the
// approvals, the deploy log and manifest digest (deploy.finished), and
// every audit entry about the change with its inclusion proof against the
// latest checkpoint, in the format `tollgate audit check-proof` reads.
func writeSample(ctx context.Context, log *audit.Log, dir string, c *Change) (proofs, unproven int, err error) {
	folder := filepath.Join(dir, "sample", c.ID)
	put := func(name string, v any) error {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("sample %s: encode %s: %w", c.ID, name, err)
		}
		return writeFile(filepath.Join(folder, name), append(b, '\n'))
	}
	var pr, reviews any
	if p := c.pullRequest(); p != nil {
		reviews, p.Reviews = p.Reviews, nil
		pr = *p
	}
	var checks any
	if d := c.decision(); d != nil {
		checks = d
	}
	var deploy any
	if f := c.finish(); f != nil {
		deploy = struct {
			Started  string        `json:"started"`
			Finished string        `json:"finished"`
			Outcome  *finishedData `json:"outcome"`
		}{stamp(c.Started), stamp(c.Finished), f}
	}
	type approvalOut struct {
		Approver   string   `json:"approver"`
		ApproverID int64    `json:"approver_id"`
		At         string   `json:"at"`
		ExpiresAt  string   `json:"expires_at"`
		RevokedAt  string   `json:"revoked_at,omitempty"`
		Teams      []string `json:"teams"`
		AuditSeq   int64    `json:"audit_seq"`
	}
	approvals := []approvalOut{}
	for _, a := range c.Approvals {
		approvals = append(approvals, approvalOut{a.Approver, a.ApproverID, stamp(a.At), stamp(a.ExpiresAt), stamp(a.RevokedAt), a.Teams, a.Seq})
	}
	manifest := "no deploy result recorded\n"
	if c.Finish != nil {
		manifest = fmt.Sprintf("release:         %s\nmanifest digest: %s\nfiles sent:      %d\nbytes sent:      %d\nservers:         %s\n",
			c.Finish.Release, orDash(c.Finish.ManifestDigest), c.Finish.FilesSent, c.Finish.BytesSent, orNone(c.Finish.Servers))
	}
	for _, f := range []struct {
		name string
		v    any
	}{{"change.json", c.Created}, {"pr.json", pr}, {"reviews.json", reviews}, {"checks.json", checks},
		{"approvals.json", approvals}, {"deploy.json", deploy}} {
		if err := put(f.name, f.v); err != nil {
			return 0, 0, err
		}
	}
	if err := writeFile(filepath.Join(folder, "manifest.txt"), []byte(manifest)); err != nil {
		return 0, 0, err
	}
	var listing []string
	for _, seq := range c.Seqs {
		p, err := log.ProveInclusion(ctx, seq)
		if err != nil {
			unproven++
			listing = append(listing, fmt.Sprintf("  seq %d: no proof: %v", seq, err))
			continue
		}
		text, err := p.Format()
		if err != nil {
			return proofs, unproven, fmt.Errorf("sample %s: %w", c.ID, err)
		}
		name := fmt.Sprintf("%012d-%s.proof", seq, strings.ReplaceAll(p.Action, "/", "_"))
		if err := writeFile(filepath.Join(folder, "audit", name), text); err != nil {
			return proofs, unproven, err
		}
		proofs++
		listing = append(listing, fmt.Sprintf("  audit/%s  %s by %s", name, p.Action, p.Actor))
	}
	readme := fmt.Sprintf(`Sample change %s: %s to %s of %s at %s

change.json     the request as the audit log recorded its creation
pr.json         the pull request the commit came through (null: none)
reviews.json    its reviews as fetched from GitHub when the request was decided
checks.json     the policy decision with every check it made (CI checks included)
approvals.json  the approvals (approval.granted entries)
deploy.json     the deploy log: start, end, result, steps per server (deploy.finished)
manifest.txt    the digest of the file manifest that was transferred

Each audit entry about this change, with its inclusion proof against the
latest signed checkpoint. Check one offline with:
    tollgate audit check-proof sample/%s/audit/FILE --public-key audit-signing.pub
%s
`, c.ID, c.Created.Trigger, c.Created.Environment, c.Created.Repo, short(c.Created.SHA), c.ID, strings.Join(listing, "\n"))
	return proofs, unproven, writeFile(filepath.Join(folder, "README.txt"), []byte(readme))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
