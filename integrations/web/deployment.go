package web

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/auditfmt"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// validRequestID is the shape of a request id in a URL.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// maxLogShown bounds how much of a deployment log the page shows (its end).
const maxLogShown = 256 << 10

// maxManifestShown bounds the manifest lines listed; the digest covers all.
const maxManifestShown = 500

// manifestPrefix marks the manifest lines deploy writes into the log.
const manifestPrefix = "[manifest] "

// deploymentView is what the deployment page renders. It holds no
// secret: the approval nonce and integration bookkeeping of the request
// are not shown, and the log was redacted by deploy when written.
type deploymentView struct {
	R              bot.Request
	ValidApprovals int
	Emergency      *emergencyView   // nil unless the request came through the emergency path
	Attestation    *attestationView // nil when the pages show no attestations
	Servers        []serverSteps
	Manifest       manifestView
	Log            string
	LogTruncated   bool
	Entries        []entryView
}

// serverSteps is one server's steps, in order, with their total.
type serverSteps struct {
	Server string
	Steps  []bot.DeployStep
	Total  time.Duration
	OK     bool
}

// manifestView is the file manifest: deploy's summary line, the entries
// (type, mode, size, SHA-256, path), and how many were not listed.
type manifestView struct {
	Summary string
	Lines   []string
	More    int
}

// entryView is one audit entry with its inclusion proof, as
// `tollgate audit prove` prints it, or why there is none yet.
type entryView struct {
	E         audit.Entry
	Summary   string           // one line: what the entry recorded
	Fields    []auditfmt.Field // its data, key by key
	Proof     string
	ProofNote string
	Tampered  bool // the stored entry no longer matches its leaf hash
}

// emergencyView is an emergency change's own section: approvals were
// skipped by policy, why, and its after-the-fact review.
type emergencyView struct {
	Review *bot.EmergencyReview // nil while none is open
	// Status says where the review stands when there is no verdict:
	// "pending", "overdue", "opening", "not needed".
	Status  string
	Late    bool // reviewed after its due time
	Overdue bool
}

// emergency builds the emergency section of r, reading its review.
func (h *Handler) emergency(ctx context.Context, r bot.Request) (*emergencyView, error) {
	if r.Trigger != bot.TriggerEmergency {
		return nil, nil
	}
	v := &emergencyView{}
	if h.cfg.Reviews != nil {
		rev, ok, err := h.cfg.Reviews.EmergencyReview(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		if ok {
			v.Review = &rev
		}
	}
	now := h.now()
	switch rev := v.Review; {
	case rev == nil && r.State == bot.StateSucceeded:
		v.Status = "opening"
	case rev == nil && (r.State.Terminal() || r.State == bot.StateFailed):
		v.Status = "not needed"
	case rev == nil:
		v.Status = "opens when the deploy succeeds"
	case rev.Pending():
		v.Status, v.Overdue = "pending", rev.Overdue(now)
	default:
		v.Late = rev.Overdue(now)
	}
	return v, nil
}

// deploymentPage is GET /deployments/{id}.
func (h *Handler) deploymentPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	if !validRequestID.MatchString(id) {
		h.message(w, r, http.StatusNotFound, "Not found", "There is no deployment request with that id.")
		return
	}
	req, err := h.cfg.Requests.Request(ctx, id)
	if errors.Is(err, bot.ErrNotFound) {
		h.message(w, r, http.StatusNotFound, "Not found", "There is no deployment request "+id+".")
		return
	}
	if err != nil {
		h.internalError(w, r, "read request "+id, err)
		return
	}
	v := &deploymentView{R: req, ValidApprovals: len(req.ValidApprovals(h.now()))}
	if v.Emergency, err = h.emergency(ctx, req); err != nil {
		h.internalError(w, r, "read the emergency review of "+id, err)
		return
	}
	if v.Attestation, err = h.attestation(ctx, req); err != nil {
		h.internalError(w, r, "read the attestation of "+id, err)
		return
	}
	if req.Result != nil {
		v.Servers = groupSteps(req.Result.Steps)
	}
	if h.cfg.DeployLog != nil {
		data, err := h.cfg.DeployLog(ctx, id)
		if err != nil {
			h.internalError(w, r, "read the deployment log of "+id, err)
			return
		}
		v.Manifest, v.Log, v.LogTruncated = splitLog(data)
	}
	entries, err := h.cfg.AuditEntries(ctx, id)
	if err != nil {
		h.internalError(w, r, "read the audit entries of "+id, err)
		return
	}
	for _, e := range entries {
		ev := entryView{E: e, Summary: auditfmt.Summary(e.Action, e.Data), Fields: auditfmt.Fields(e.Data)}
		p, err := h.cfg.Audit.ProveInclusion(ctx, e.Seq)
		switch {
		case errors.Is(err, audit.ErrNotCovered):
			ev.ProofNote = "No signed checkpoint covers this entry yet. Tollgate signs one every audit.checkpoint_every entries and when it stops; an operator can sign one now with tollgate audit checkpoint."
		case errors.Is(err, audit.ErrTampered):
			ev.ProofNote, ev.Tampered = "This entry's stored data no longer matches its leaf hash: it was changed after it was written. No proof is given for it; run tollgate verify.", true
		case err != nil:
			h.internalError(w, r, "prove audit entry "+itoa(e.Seq), err)
			return
		default:
			text, err := p.Format()
			if err != nil {
				h.internalError(w, r, "format the proof of audit entry "+itoa(e.Seq), err)
				return
			}
			ev.Proof = string(text)
		}
		v.Entries = append(v.Entries, ev)
	}
	h.render(w, r, http.StatusOK, "deployment", pageData{Title: req.Repo + " → " + req.Environment + " · " + req.ID, Deployment: v})
}

// groupSteps orders steps by server, keeping each server's step order.
func groupSteps(steps []bot.DeployStep) []serverSteps {
	idx := map[string]int{}
	var out []serverSteps
	for _, s := range steps {
		i, ok := idx[s.Server]
		if !ok {
			i = len(out)
			idx[s.Server] = i
			out = append(out, serverSteps{Server: s.Server, OK: true})
		}
		out[i].Steps = append(out[i].Steps, s)
		out[i].Total += s.Duration
		out[i].OK = out[i].OK && s.OK
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Server < out[j].Server })
	return out
}

// splitLog separates the manifest deploy appends to the log from the rest
// (step and hook output), keeping the end of the rest when it is long.
func splitLog(data []byte) (m manifestView, rest string, truncated bool) {
	var other strings.Builder
	first := true
	for line := range strings.SplitSeq(string(data), "\n") {
		body, isManifest := strings.CutPrefix(line, manifestPrefix)
		switch {
		case !isManifest:
			other.WriteString(line)
			other.WriteByte('\n')
		case first:
			m.Summary, first = body, false
		case len(m.Lines) < maxManifestShown:
			m.Lines = append(m.Lines, body)
		default:
			m.More++
		}
	}
	rest = strings.TrimRight(other.String(), "\n")
	if len(rest) > maxLogShown {
		rest, truncated = rest[len(rest)-maxLogShown:], true
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			rest = rest[i+1:] // start at a whole line
		}
	}
	return m, rest, truncated
}
