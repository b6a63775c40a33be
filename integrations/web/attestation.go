package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/deploy/attest"
)

// Attestations finds a request's deployment attestation
// (docs/attestation.md); ok is false when it has none.
type Attestations interface {
	Attestation(ctx context.Context, requestID string) (a Attestation, ok bool, err error)
}

// Attestation is a request's signed deployment attestation and the result
// of verifying it with the keys in force.
type Attestation struct {
	Envelope  []byte    // the DSSE envelope, as on the servers
	Digest    string    // "sha256:<hex>" of Envelope
	WrittenAt time.Time // when it was on every server; zero while it is being written
	// Verified is the verified attestation; nil when a check failed
	// (Problem says which and why).
	Verified *attest.Verified
	Problem  string
}

// attestationView is the deployment page's attestation section.
type attestationView struct {
	A        *Attestation // nil when there is none
	Expected bool         // the request went live: it should have one
	Download string       // the envelope's URL
}

// PathAttestationFile is the envelope's download below a deployment's page.
const PathAttestationFile = "/attestation.dsse.json"

// attestation builds the page's attestation section of r.
func (h *Handler) attestation(ctx context.Context, r bot.Request) (*attestationView, error) {
	if h.cfg.Attestations == nil {
		return nil, nil
	}
	v := &attestationView{Expected: r.State == bot.StateSucceeded && r.Result != nil && r.Result.Release != "",
		Download: PathDeployments + r.ID + PathAttestationFile}
	a, ok, err := h.cfg.Attestations.Attestation(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	if ok {
		v.A = &a
	}
	return v, nil
}

// attestationFile is GET /deployments/{id}/attestation.dsse.json: the
// envelope, as a download, behind the same login as the page.
func (h *Handler) attestationFile(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validRequestID.MatchString(id) || h.cfg.Attestations == nil {
		h.message(w, r, http.StatusNotFound, "Not found", "There is no attestation with that id.")
		return
	}
	a, ok, err := h.cfg.Attestations.Attestation(r.Context(), id)
	if err != nil && !errors.Is(err, bot.ErrNotFound) {
		h.internalError(w, r, "read the attestation of "+id, err)
		return
	}
	if !ok {
		h.message(w, r, http.StatusNotFound, "Not found", "Deployment request "+id+" has no attestation.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="`+id+`.dsse.json"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(a.Envelope)
}
