package slack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/tollgate-dev/tollgate/internal/reqlog"
	"github.com/tollgate-dev/tollgate/internal/signature"
)

// bodyReadTimeout is how long a request's body may take to arrive: Slack
// sends it at once.
const bodyReadTimeout = 30 * time.Second

// MaxClockSkew is how far a request's timestamp may be from our clock,
// either way; older requests are refused as replays.
const MaxClockSkew = 5 * time.Minute

// readVerified reads the body of a request from Slack and checks its v0
// signature and timestamp. On failure it has answered the request (401 or
// 413) and returns ok false: nothing else may happen for such a request.
// Either way the request's access-log line says it is Slack's, and why it
// was refused.
func (h *Handler) readVerified(w http.ResponseWriter, r *http.Request) (body []byte, ok bool) {
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyReadTimeout))
	body, release, err := h.unverified.ReadBody(http.MaxBytesReader(w, r.Body, h.maxBody), r.ContentLength)
	defer release() // charged until its signature is checked
	if errors.Is(err, signature.ErrBusy) {
		h.refuse(r.Context(), "slack request refused: too many unverified bodies in flight", slog.String("refused", "busy"))
		w.Header().Set("Retry-After", "5")
		http.Error(w, "busy, try again", http.StatusServiceUnavailable)
		return nil, false
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		h.refuse(r.Context(), "slack request refused: body too large", slog.String("refused", "body too large"), slog.Int64("limit", h.maxBody))
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	if err != nil {
		h.refuse(r.Context(), "slack request refused: reading the body failed", slog.String("refused", "reading the body failed"), slog.Any("err", err))
		http.Error(w, "could not read request body", http.StatusBadRequest)
		return nil, false
	}
	if why := verifySignature(h.secret, r.Header, body, h.now()); why != "" {
		h.refuse(r.Context(), "slack request refused", slog.String("refused", why), slog.String("path", r.URL.Path))
		http.Error(w, "invalid request signature", http.StatusUnauthorized)
		return nil, false
	}
	reqlog.AddAttrs(r.Context(), componentAttr)
	return body, true
}

// componentAttr names the Slack transport on the access-log line; the
// handler's own logger carries its component already.
var componentAttr = slog.String("component", "slack")

// refuse puts why a request was refused on its access-log line, raised to
// WARN, or logs it as a WARN line (msg) of its own when the handler runs
// without the server's request logging.
func (h *Handler) refuse(ctx context.Context, msg string, facts ...slog.Attr) {
	if reqlog.AddAttrs(ctx, append(facts, componentAttr)...) {
		reqlog.RaiseLevel(ctx, slog.LevelWarn)
		return
	}
	h.log.LogAttrs(ctx, slog.LevelWarn, msg, facts...)
}

// verifySignature checks Slack's v0 signing scheme and returns why a
// request fails it, or "" when it passes.
func verifySignature(secret []byte, hdr http.Header, body []byte, now time.Time) string {
	tsText := hdr.Get("X-Slack-Request-Timestamp")
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return "missing or malformed timestamp"
	}
	if skew := now.Sub(time.Unix(ts, 0)); skew > MaxClockSkew || skew < -MaxClockSkew {
		return "timestamp more than 5 minutes off (replay?)"
	}
	switch err := signature.Verify(secret, hdr.Get("X-Slack-Signature"), "v0=", []byte("v0:"+tsText+":"), body); {
	case errors.Is(err, signature.ErrMissing):
		return "missing v0 signature"
	case errors.Is(err, signature.ErrMalformed):
		return "malformed signature"
	case err != nil:
		return "signature mismatch"
	}
	return ""
}

// deliveryKey identifies a request across Slack's retries: a retry repeats
// the body byte for byte (the trigger_id inside makes each new invocation
// differ).
func deliveryKey(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:])
}
