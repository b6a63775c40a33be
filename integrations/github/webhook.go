package github

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/tollgate-dev/tollgate/integrations/reqlog"
	"github.com/tollgate-dev/tollgate/store"
)

// MaxWebhookBody is the largest webhook body accepted; GitHub caps
// payloads at 25 MB and so do we.
const MaxWebhookBody = 25 << 20

// WebhookInbox stores a delivery durably; *store.Store satisfies it. A
// delivery id already stored is reported as duplicate and changes nothing.
type WebhookInbox interface {
	Enqueue(ctx context.Context, it store.InboxItem) (duplicate bool, err error)
}

// WebhookConfig is what a WebhookHandler needs.
type WebhookConfig struct {
	// Secret is the GitHub App's webhook secret. Required: without it no
	// delivery could be verified.
	Secret string
	Inbox  WebhookInbox
	// Kick, when set, is called after a new delivery is stored, to wake the
	// inbox worker (inbox.Worker.Kick).
	Kick   func()
	Logger *slog.Logger
}

// WebhookHandler is POST /webhooks/github: it verifies the signature,
// stores the delivery in the inbox and answers at once. All GitHub and SSH
// work happens later in the inbox worker.
type WebhookHandler struct {
	secret []byte
	inbox  WebhookInbox
	kick   func()
	log    *slog.Logger
}

// NewWebhookHandler returns the intake handler, or an error naming what is missing.
func NewWebhookHandler(cfg WebhookConfig) (*WebhookHandler, error) {
	switch {
	case cfg.Secret == "":
		return nil, errors.New("github webhooks: the webhook secret is required")
	case cfg.Inbox == nil:
		return nil, errors.New("github webhooks: an inbox is required")
	}
	h := &WebhookHandler{secret: []byte(cfg.Secret), inbox: cfg.Inbox, kick: cfg.Kick, log: cfg.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

// webhookEnvelope is the little of every payload the intake logs.
type webhookEnvelope struct {
	Action     string `json:"action"`
	Repository *struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	Installation *struct {
		ID int64 `json:"id"`
	} `json:"installation"`
}

// ServeHTTP implements http.Handler.
func (h *WebhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	delivery, event := r.Header.Get("X-GitHub-Delivery"), r.Header.Get("X-GitHub-Event")
	// Only these header values are logged until the signature holds; they
	// are attacker-chosen, so they are bounded.
	// reqlog.For names the HTTP request (its id is in the access log line).
	ctx := r.Context()
	log := reqlog.For(ctx, h.log).With("delivery", clip(delivery), "event", clip(event))

	body, err := readBody(w, r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			log.WarnContext(ctx, "webhook refused: body over the limit", "limit", MaxWebhookBody)
			http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
			return
		}
		log.WarnContext(ctx, "webhook refused: reading the body failed", "err", err)
		http.Error(w, "could not read body", http.StatusBadRequest)
		return
	}
	if !h.validSignature(r.Header.Get("X-Hub-Signature-256"), body) {
		log.WarnContext(ctx, "webhook refused: missing or wrong X-Hub-Signature-256", "remote", r.RemoteAddr)
		http.Error(w, "signature does not match", http.StatusUnauthorized)
		return
	}
	if delivery == "" || event == "" {
		log.WarnContext(ctx, "webhook refused: X-GitHub-Delivery or X-GitHub-Event missing")
		http.Error(w, "X-GitHub-Delivery and X-GitHub-Event are required", http.StatusBadRequest)
		return
	}
	var env webhookEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		log.WarnContext(ctx, "webhook refused: body is not a JSON object", "err", err)
		http.Error(w, "body is not a JSON object", http.StatusBadRequest)
		return
	}
	if env.Repository != nil {
		log = log.With("repo", env.Repository.FullName)
	}
	if env.Installation != nil {
		log = log.With("installation", env.Installation.ID)
	}
	if env.Action != "" {
		log = log.With("action", env.Action)
	}

	dup, err := h.inbox.Enqueue(ctx, store.InboxItem{Source: "github", DeliveryID: delivery,
		EventType: event, Payload: body})
	if err != nil {
		// GitHub shows the failure and the delivery can be redelivered.
		log.ErrorContext(ctx, "webhook not stored", "err", err)
		http.Error(w, "could not store the delivery", http.StatusInternalServerError)
		return
	}
	if dup {
		log.InfoContext(ctx, "webhook redelivered; already stored")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("already received\n"))
		return
	}
	log.InfoContext(ctx, "webhook stored")
	if h.kick != nil {
		h.kick()
	}
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte("accepted\n"))
}

// readBody reads at most MaxWebhookBody bytes; beyond that it returns an
// *http.MaxBytesError.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
}

// validSignature checks "sha256=<hex HMAC-SHA256 of body>" in constant time.
func (h *WebhookHandler) validSignature(header string, body []byte) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, h.secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// clip bounds an untrusted header value before it is logged.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
