package evidence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/mfaproof"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// An auditor re-verifies the pack's security key assertions with `tollgate
// evidence verify`, from the pack alone: every assertion in audit.jsonl is
// checked against the keys the log registered by then. Registrations made
// before the range are not in audit.jsonl, so the pack carries each
// credential entry before it (mfa.registered, mfa.removed, mfa.revoked)
// with its inclusion proof, in mfa_credentials/.

// MFACredentialsDir holds the inclusion proofs of the credential entries
// before the pack's range.
const MFACredentialsDir = "mfa_credentials"

// credentialActions are the entries that register, remove or revoke a key.
var credentialActions = []string{bot.ActionMFARegistered, bot.ActionMFARemoved, bot.ActionMFARevoked}

// writeMFACredentials writes the inclusion proof of every credential entry
// with seq below before into dir/mfa_credentials (nothing, and no folder,
// when there is none). An entry no checkpoint covers yet cannot be proven:
// the auditor's check then reports the assertions that rest on it.
func writeMFACredentials(ctx context.Context, st *store.Store, dir string, before int64) error {
	rows, err := st.DB().QueryContext(ctx, `SELECT seq FROM audit_entries WHERE action IN (?, ?, ?) AND seq < ? ORDER BY seq`,
		credentialActions[0], credentialActions[1], credentialActions[2], before)
	if err != nil {
		return fmt.Errorf("read security key registrations: %w", err)
	}
	var seqs []int64
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			rows.Close()
			return fmt.Errorf("read security key registrations: %w", err)
		}
		seqs = append(seqs, seq)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read security key registrations: %w", err)
	}
	for _, seq := range seqs {
		p, err := st.Audit().ProveInclusion(ctx, seq)
		if errors.Is(err, audit.ErrNotCovered) {
			continue
		}
		if err != nil {
			return err
		}
		text, err := p.Format()
		if err != nil {
			return err
		}
		if err := writeFile(filepath.Join(dir, MFACredentialsDir, fmt.Sprintf("%012d-%s.proof", seq, p.Action)), text); err != nil {
			return err
		}
	}
	return nil
}

// PackMFACheck is what CheckPackMFA established.
type PackMFACheck struct {
	Assertions    int      // entries of audit.jsonl carrying an assertion
	Registrations int      // credential entries before the range, proven
	Problems      []string // one per assertion that does not re-verify
}

// OK reports whether every assertion re-verified.
func (c PackMFACheck) OK() bool { return len(c.Problems) == 0 }

// credentialEvent is one credential entry, from audit.jsonl or a proof.
type credentialEvent struct {
	seq    int64
	action string
	data   []byte
}

// CheckPackMFA re-verifies every security key assertion of the pack in dir
// offline: the proofs in mfa_credentials/ must verify with a trusted key
// and be credential entries; then audit.jsonl is read in order, following
// its own credential entries, and each assertion is checked (signature,
// binding to what its entry records, credential registered to the signer
// with that key). The error is for a pack that cannot be read; assertions
// that do not hold are Problems, naming their entries.
func CheckPackMFA(dir string, verifiers ...note.Verifier) (PackMFACheck, error) {
	var res PackMFACheck
	before, err := provenCredentials(filepath.Join(dir, MFACredentialsDir), verifiers)
	if err != nil {
		return res, err
	}
	res.Registrations = len(before)
	f, err := os.Open(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		return res, err
	}
	defer f.Close()
	reg := mfaproof.NewRegistry()
	dec := json.NewDecoder(f)
	for line := 1; ; line++ {
		var l jsonLine
		if err := dec.Decode(&l); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return res, fmt.Errorf("audit.jsonl line %d: %w", line, err)
		}
		for len(before) > 0 && before[0].seq < l.Seq {
			reg.Observe(before[0].seq, before[0].action, before[0].data)
			before = before[1:]
		}
		reg.Observe(l.Seq, l.Action, l.Data)
		if !slices.Contains(mfaproof.Actions, l.Action) {
			continue
		}
		carried, err := mfaproof.CheckEntry(reg, l.Action, l.Subject, mfaproof.EntryTime(l.At), l.Data)
		if !carried {
			continue
		}
		res.Assertions++
		if err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("audit.jsonl entry %d (%s %s): %v", l.Seq, l.Action, l.Subject, err))
		}
	}
	return res, nil
}

// provenCredentials reads the proofs in folder (none when it does not
// exist), in seq order. A proof that does not verify, or proves anything
// but a credential entry, makes the pack unreadable for this check.
func provenCredentials(folder string, verifiers []note.Verifier) ([]credentialEvent, error) {
	names, err := os.ReadDir(folder)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []credentialEvent
	for _, n := range names {
		if n.IsDir() || !strings.HasSuffix(n.Name(), ".proof") {
			return nil, fmt.Errorf("%s/%s: not an inclusion proof", MFACredentialsDir, n.Name())
		}
		text, err := os.ReadFile(filepath.Join(folder, n.Name()))
		if err != nil {
			return nil, err
		}
		p, err := audit.ParseInclusionProof(text)
		if err == nil {
			_, err = audit.CheckInclusionProof(p, verifiers...)
		}
		if err == nil && !slices.Contains(credentialActions, p.Action) {
			err = fmt.Errorf("entry %d is %s, not a security key registration", p.Seq, p.Action)
		}
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", MFACredentialsDir, n.Name(), err)
		}
		out = append(out, credentialEvent{seq: p.Seq, action: p.Action, data: p.Data})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out, nil
}
