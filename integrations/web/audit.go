package web

import (
	"encoding/base64"
	"net/http"
	"strconv"

	"github.com/tollgate-dev/tollgate/store/audit"
)

// Verification is the background verification of the whole log
// (*audit.Monitor has it): the page shows its last result and never runs
// one itself.
type Verification interface {
	Status() audit.VerifyStatus
}

// auditView is what the audit page renders: one page of entries, newest
// first, the latest checkpoint and the last background verification.
type auditView struct {
	Entries        []audit.Entry // newest first
	Size           int64
	Target         int64 // the entry asked for with ?seq=, or -1
	First, Last    int64 // seq of the oldest and newest entry shown
	Newer, Older   string
	HasCheckpoint  bool
	Checkpoint     audit.Checkpoint
	CheckpointRoot string
	CheckpointNote string
	Status         audit.VerifyStatus
	VerifiedUpTo   int64 // the last entry the last verification covered
}

// auditPage is GET /audit: one page of entries, addressed by
// ?before=SEQ (the entries before it) or ?seq=SEQ (the page holding that
// entry), the latest signed checkpoint, and the last background
// verification: "verified up to seq N at TIME", or the tampered entry.
// Its cost is one page, whatever the log's size.
func (h *Handler) auditPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	size, err := h.cfg.Audit.Size(ctx)
	if err != nil {
		h.internalError(w, r, "read the audit log", err)
		return
	}
	per := int64(h.cfg.AuditTailCount)
	v := &auditView{Size: size, Target: -1}
	before := size
	q := r.URL.Query()
	if s := q.Get("seq"); s != "" {
		seq, err := strconv.ParseInt(s, 10, 64)
		if err != nil || seq < 0 || seq >= size {
			h.message(w, r, http.StatusNotFound, "Not found", "The audit log has no entry "+s+": it holds seq 0 to "+itoa(size-1)+".")
			return
		}
		v.Target, before = seq, min(size, seq+per/2+1)
	} else if s := q.Get("before"); s != "" {
		b, err := strconv.ParseInt(s, 10, 64)
		if err != nil || b < 1 {
			h.message(w, r, http.StatusBadRequest, "Bad request", "before must be a seq of the audit log, 1 or more.")
			return
		}
		before = min(b, size)
	}
	entries, err := h.cfg.Audit.Page(ctx, before, int(per))
	if err != nil {
		h.internalError(w, r, "read the audit log", err)
		return
	}
	v.Entries = entries
	if len(entries) > 0 {
		v.Last, v.First = entries[0].Seq, entries[len(entries)-1].Seq
		if v.Last+1 < size {
			v.Newer = PathAudit + "?before=" + itoa(min(size, v.Last+1+per))
		}
		if v.First > 0 {
			v.Older = PathAudit + "?before=" + itoa(v.First)
		}
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
	v.Status = h.cfg.Verification.Status()
	v.VerifiedUpTo = v.Status.Report.Size - 1
	h.render(w, r, http.StatusOK, "audit", pageData{Title: "Audit log", Nav: "audit", Audit: v})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
