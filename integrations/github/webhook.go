package github

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/tollgate-dev/tollgate/internal/inbox"
	"github.com/tollgate-dev/tollgate/internal/signature"
	"log/slog"
	"net/http"
	"time"

	"github.com/tollgate-dev/tollgate/internal/reqlog"
)

// MaxWebhookBody is the largest webhook body accepted; GitHub caps
// payloads at 25 MB and so do we.
const MaxWebhookBody = 25 << 20

// DefaultUnverifiedBudget bounds the bytes of webhook bodies held at once
// before their signatures are checked: two deliveries of GitHub's largest
// size, and room for the usual small ones. Past it, a delivery is answered
// 503 at once instead of growing memory; GitHub shows it failed and it can
// be redelivered.
const DefaultUnverifiedBudget = 64 << 20

// bodyReadTimeout is how long a delivery's body may take to arrive: GitHub
// sends it at once, so a client trickling bytes to hold the budget is cut
// off long before the server's read timeout.
const bodyReadTimeout = 30 * time.Second

// WebhookInbox stores a delivery durably; *store.Store satisfies it. A
// delivery id already stored is reported as duplicate and changes nothing.
type WebhookInbox interface {
	Enqueue(ctx context.Context, it inbox.Item) (duplicate bool, err error)
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
	// Unverified bounds the bodies held before their signatures are
	// checked; nil means a budget of DefaultUnverifiedBudget of its own.
	Unverified *signature.Budget
}

// WebhookHandler is POST /webhooks/github: it verifies the signature,
// stores the delivery in the inbox and answers at once. All GitHub and SSH
// work happens later in the inbox worker.
type WebhookHandler struct {
	secret []byte
	inbox  WebhookInbox
	kick   func()
	log    *slog.Logger
	budget *signature.Budget
}

// NewWebhookHandler returns the intake handler, or an error naming what is missing.
func NewWebhookHandler(cfg WebhookConfig) (*WebhookHandler, error) {
	switch {
	case cfg.Secret == "":
		return nil, errors.New("github webhooks: the webhook secret is required")
	case cfg.Inbox == nil:
		return nil, errors.New("github webhooks: an inbox is required")
	}
	h := &WebhookHandler{secret: []byte(cfg.Secret), inbox: cfg.Inbox, kick: cfg.Kick, log: cfg.Logger, budget: cfg.Unverified}
	if h.budget == nil {
		h.budget = signature.NewBudget(DefaultUnverifiedBudget)
	}
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

// ServeHTTP implements http.Handler. What it learns about a delivery
// (id, event, action, repository, installation, stored or duplicate, or
// why it was refused) goes on the request's access-log line; only a
// delivery it failed to store gets an ERROR line of its own.
func (h *WebhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	delivery, event := r.Header.Get("X-GitHub-Delivery"), r.Header.Get("X-GitHub-Event")
	// Only these header values are logged until the signature holds; they
	// are attacker-chosen, so they are bounded.
	ctx := r.Context()
	facts := []slog.Attr{slog.String("delivery", clip(delivery)), slog.String("event", clip(event))}

	body, release, err := readBody(w, r, h.budget)
	defer release()
	if errors.Is(err, signature.ErrBusy) {
		h.refuse(ctx, "too many unverified bodies in flight", append(facts, slog.Int64("budget", DefaultUnverifiedBudget))...)
		w.Header().Set("Retry-After", "10")
		http.Error(w, "busy, try again", http.StatusServiceUnavailable)
		return
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.refuse(ctx, "body over the limit", append(facts, slog.Int("limit", MaxWebhookBody))...)
			http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
			return
		}
		h.refuse(ctx, "reading the body failed", append(facts, slog.Any("err", err))...)
		http.Error(w, "could not read body", http.StatusBadRequest)
		return
	}
	if !h.validSignature(r.Header.Get("X-Hub-Signature-256"), body) {
		h.refuse(ctx, "missing or wrong X-Hub-Signature-256", append(facts, slog.String("remote", r.RemoteAddr))...)
		http.Error(w, "signature does not match", http.StatusUnauthorized)
		return
	}
	if delivery == "" || event == "" {
		h.refuse(ctx, "X-GitHub-Delivery or X-GitHub-Event missing", facts...)
		http.Error(w, "X-GitHub-Delivery and X-GitHub-Event are required", http.StatusBadRequest)
		return
	}
	var env webhookEnvelope
	err = json.Unmarshal(body, &env)
	if err != nil {
		h.refuse(ctx, "body is not a JSON object", append(facts, slog.Any("err", err))...)
		http.Error(w, "body is not a JSON object", http.StatusBadRequest)
		return
	}
	if env.Repository != nil {
		facts = append(facts, slog.String("repo", env.Repository.FullName))
	}
	if env.Installation != nil {
		facts = append(facts, slog.Int64("installation", env.Installation.ID))
	}
	if env.Action != "" {
		facts = append(facts, slog.String("action", env.Action))
	}

	dup, err := h.inbox.Enqueue(ctx, inbox.Item{Source: "github", DeliveryID: delivery,
		EventType: event, Payload: body})
	if err != nil {
		// GitHub shows the failure and the delivery can be redelivered. A
		// database failure is an event of its own (what alerts look for),
		// so it keeps its line, with the error chain, besides the access line.
		reqlog.AddAttrs(ctx, append(facts, slog.String("outcome", "not stored"), componentAttr)...)
		reqlog.For(ctx, h.log).LogAttrs(ctx, slog.LevelError, "webhook not stored", append(facts, slog.Any("err", err))...)
		http.Error(w, "could not store the delivery", http.StatusInternalServerError)
		return
	}
	if dup {
		h.note(ctx, "webhook redelivered; already stored", append(facts, slog.String("outcome", "duplicate"))...)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("already received\n"))
		return
	}
	h.note(ctx, "webhook stored", append(facts, slog.String("outcome", "stored"))...)
	if h.kick != nil {
		h.kick()
	}
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte("accepted\n"))
}

// componentAttr names the intake on the access-log line; the handler's own
// logger carries its component already.
var componentAttr = slog.String("component", "github")

// note puts facts on the request's access-log line, or logs them as a
// line of their own (msg, at Info) when the handler runs without the
// server's request logging.
func (h *WebhookHandler) note(ctx context.Context, msg string, facts ...slog.Attr) {
	if !reqlog.AddAttrs(ctx, append(facts, componentAttr)...) {
		reqlog.For(ctx, h.log).LogAttrs(ctx, slog.LevelInfo, msg, facts...)
	}
}

// refuse records why a delivery was refused: on the access-log line,
// raised to WARN, or as a WARN line of its own without request logging.
func (h *WebhookHandler) refuse(ctx context.Context, why string, facts ...slog.Attr) {
	if reqlog.AddAttrs(ctx, append(facts, slog.String("refused", why), componentAttr)...) {
		reqlog.RaiseLevel(ctx, slog.LevelWarn)
		return
	}
	reqlog.For(ctx, h.log).LogAttrs(ctx, slog.LevelWarn, "webhook refused: "+why, facts...)
}

// readBody reads at most MaxWebhookBody bytes, within bodyReadTimeout,
// charged to budget (signature.Budget.ReadBody); beyond the limit it
// returns an *http.MaxBytesError, past the budget signature.ErrBusy.
// release gives the budget back.
func readBody(w http.ResponseWriter, r *http.Request, budget *signature.Budget) (body []byte, release func(), err error) {
	// Not every ResponseWriter (httptest's) supports deadlines.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyReadTimeout))
	return budget.ReadBody(http.MaxBytesReader(w, r.Body, MaxWebhookBody), r.ContentLength)
}

// validSignature checks "sha256=<hex HMAC-SHA256 of body>" in constant time.
func (h *WebhookHandler) validSignature(header string, body []byte) bool {
	return signature.Verify(h.secret, header, "sha256=", body) == nil
}

// clip bounds an untrusted header value before it is logged.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
