package web

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/store/audit"
)

// verifyCache runs the full verification at most once per period: it
// reads the whole log, so a page view must not start one each time.
// Concurrent viewers wait for the one run in progress.
type verifyCache struct {
	every  time.Duration
	verify func(ctx context.Context) (audit.Report, error)

	mu     sync.Mutex
	has    bool
	at     time.Time
	report audit.Report
	err    error
	runs   int // how many times verify ran, for tests
}

// get returns the cached result when it is younger than every, else runs
// verify. A run cut short by the viewer leaving is not cached.
func (c *verifyCache) get(ctx context.Context, now time.Time) (audit.Report, time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.has && now.Sub(c.at) < c.every {
		return c.report, c.at, c.err
	}
	c.runs++
	rep, err := c.verify(ctx)
	if err != nil && ctx.Err() != nil {
		return rep, now, err
	}
	c.has, c.at, c.report, c.err = true, now, rep, err
	return rep, now, err
}

// auditView is what the audit page renders.
type auditView struct {
	Entries        []audit.Entry // newest first
	Size           int64
	HasCheckpoint  bool
	Checkpoint     audit.Checkpoint
	CheckpointRoot string
	CheckpointNote string
	Report         audit.Report
	VerifiedAt     time.Time
	NextVerify     time.Time
	// TamperedSeq is the entry verify names as tampered, -1 for none;
	// TamperedShown says whether it is among Entries (its row is marked).
	TamperedSeq   int64
	TamperedShown bool
}

// auditPage is GET /audit: the latest entries, the latest signed
// checkpoint, and the result of the last full verification.
func (h *Handler) auditPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	entries, err := h.cfg.Audit.Tail(ctx, h.cfg.AuditTailCount)
	if err != nil {
		h.internalError(w, r, "read the audit log", err)
		return
	}
	v := &auditView{}
	for i := len(entries) - 1; i >= 0; i-- {
		v.Entries = append(v.Entries, entries[i])
	}
	if len(entries) > 0 {
		v.Size = entries[len(entries)-1].Seq + 1
	}
	cp, ok, err := h.cfg.Audit.LatestCheckpoint(ctx)
	if err != nil {
		h.internalError(w, r, "read the latest audit checkpoint", err)
		return
	}
	if ok {
		v.HasCheckpoint, v.Checkpoint = true, cp
		v.CheckpointRoot = base64.StdEncoding.EncodeToString(cp.Root[:])
		v.CheckpointNote = string(cp.Note)
	}
	rep, at, err := h.verifier.get(ctx, h.now())
	if err != nil {
		h.internalError(w, r, "verify the audit log", err)
		return
	}
	v.Report, v.VerifiedAt, v.NextVerify = rep, at, at.Add(h.cfg.VerifyEvery)
	v.TamperedSeq = -1
	if !rep.OK && rep.Problem != nil && rep.Problem.Seq >= 0 {
		v.TamperedSeq = rep.Problem.Seq
		for _, e := range v.Entries {
			v.TamperedShown = v.TamperedShown || e.Seq == v.TamperedSeq
		}
	}
	h.render(w, r, http.StatusOK, "audit", pageData{Title: "Audit log", Nav: "audit", Audit: v})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
