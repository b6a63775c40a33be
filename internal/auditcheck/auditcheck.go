// Package auditcheck runs `tollgate verify`'s check of a database's audit
// log and prints its report: the command and the demo share it.
package auditcheck

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"time"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// Verify opens the database at dbPath read-only, recomputes its audit log
// and checks its checkpoints against keys, and prints the report to w. It
// returns the store (open, for further checks; the caller closes it) and
// the report; err is set when the log could not be read at all.
func Verify(ctx context.Context, dbPath string, keys audit.Keyring, w io.Writer) (*store.Store, audit.Report, error) {
	s, err := store.OpenReadOnly(ctx, dbPath)
	if err != nil {
		return nil, audit.Report{}, err
	}
	r, err := audit.Verify(ctx, s.DB(), keys...)
	if err != nil {
		s.Close()
		return nil, audit.Report{}, fmt.Errorf("%s: %w", store.Describe(dbPath), err)
	}
	WriteReport(w, dbPath, KeysLabel(keys), r)
	return s, r, nil
}

// KeysLabel names the trusted keys when no checkpoint says which signed.
func KeysLabel(keys audit.Keyring) string {
	if len(keys) == 1 {
		return keys[0].Name()
	}
	return keys.String()
}

// WriteReport prints what Verify found, as `tollgate verify` shows it.
func WriteReport(w io.Writer, dbPath, keyName string, r audit.Report) {
	fmt.Fprintf(w, "database:        %s\n", store.Describe(dbPath))
	if !r.OK {
		fmt.Fprintf(w, "verified:        %d entries before the first problem\n", r.Size)
		fmt.Fprintf(w, "FAIL: %s\n", r.Problem)
		return
	}
	fmt.Fprintf(w, "entries:         %d\n", r.Size)
	fmt.Fprintf(w, "root:            %s\n", base64.StdEncoding.EncodeToString(r.Root[:]))
	fmt.Fprintf(w, "checkpoints:     %d, every signature valid for %s\n", r.Checkpoints, r.SignedBy(keyName))
	if r.HasCheckpoint {
		fmt.Fprintf(w, "last checkpoint: tree size %d, signed %s\n", r.LastCheckpoint.Size, r.LastCheckpoint.Time.Format(time.RFC3339))
	} else {
		fmt.Fprintf(w, "last checkpoint: none\n")
	}
	if r.UnsignedTail > 0 {
		fmt.Fprintf(w, "unsigned tail:   %d entries after the last signed checkpoint (seq %d..%d): their hashes fit,\n",
			r.UnsignedTail, r.Size-r.UnsignedTail, r.Size-1)
		fmt.Fprintf(w, "                 but no signature covers them, so whoever holds the database file could have\n")
		fmt.Fprintf(w, "                 forged or rewritten them. They are verified once a later checkpoint covers them.\n")
	} else {
		fmt.Fprintf(w, "unsigned tail:   0 entries after the last signed checkpoint\n")
	}
	if r.UnsignedTail > 0 {
		fmt.Fprintf(w, "OK (signed through seq %d; %d unsigned entries after it)\n", r.Size-r.UnsignedTail-1, r.UnsignedTail)
		return
	}
	fmt.Fprintln(w, "OK")
}
