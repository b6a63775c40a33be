package github

import (
	"bytes"
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

	body, err := readBody(w, r)
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
	env, err := decodeEnvelope(body)
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

	dup, err := h.inbox.Enqueue(ctx, store.InboxItem{Source: "github", DeliveryID: delivery,
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

// decodeEnvelope decodes the envelope from body exactly as json.Unmarshal
// would (same fields, an error for the same bodies) but cheaper: after one
// validating pass it walks the top-level keys, skipping the values it does
// not need instead of scanning them again, which under load was a quarter
// of serve's CPU (BENCHMARKS.md, "Webhook intake under load"). Anything
// but an object falls back to json.Unmarshal.
func decodeEnvelope(body []byte) (webhookEnvelope, error) {
	var env webhookEnvelope
	slow := func() (webhookEnvelope, error) {
		env = webhookEnvelope{}
		err := json.Unmarshal(body, &env)
		return env, err
	}
	start := skipSpace(body, 0)
	if start == len(body) || body[start] != '{' || !json.Valid(body) {
		return slow()
	}
	err := walkObject(body[start:], func(key, val []byte) error {
		switch {
		case keyIs(key, "action"):
			return json.Unmarshal(val, &env.Action)
		case keyIs(key, "installation"):
			return json.Unmarshal(val, &env.Installation)
		case keyIs(key, "repository") && val[0] == '{':
			if env.Repository == nil {
				env.Repository = &struct {
					FullName string `json:"full_name"`
				}{}
			}
			return walkObject(val, func(key, val []byte) error {
				if keyIs(key, "full_name") {
					return json.Unmarshal(val, &env.Repository.FullName)
				}
				return nil
			})
		case keyIs(key, "repository"):
			return json.Unmarshal(val, &env.Repository)
		}
		return nil
	})
	if err != nil {
		return slow() // for json.Unmarshal's own error
	}
	return env, nil
}

// walkObject calls fn with each key (quoted, as written) and raw value of
// obj, a JSON object already known to be valid.
func walkObject(obj []byte, fn func(key, val []byte) error) error {
	i := skipSpace(obj, 0) + 1 // past '{'
	for {
		i = skipSpace(obj, i)
		switch obj[i] {
		case '}':
			return nil
		case ',':
			i = skipSpace(obj, i+1)
		}
		keyEnd := skipString(obj, i)
		key := obj[i:keyEnd]
		i = skipSpace(obj, skipSpace(obj, keyEnd)+1) // past ':'
		valEnd := skipValue(obj, i)
		if err := fn(key, obj[i:valEnd]); err != nil {
			return err
		}
		i = valEnd
	}
}

// keyIs reports whether the quoted key names field as encoding/json
// matches names: unescaped, case-folded.
func keyIs(quoted []byte, field string) bool {
	inner := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return bytes.EqualFold(inner, []byte(field))
	}
	var k string
	return json.Unmarshal(quoted, &k) == nil && strings.EqualFold(k, field)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the valid JSON string at b[i]:
// its closing quote is the first one not escaped by an odd run of
// backslashes.
func skipString(b []byte, i int) int {
	for j := i + 1; ; {
		q := j + bytes.IndexByte(b[j:], '"')
		n := 0
		for n < q-j && b[q-1-n] == '\\' {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}

// skipValue returns the index just past the valid JSON value at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; ; {
			switch b[j] {
			case '"':
				j = skipString(b, j)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
			j++
		}
	}
	j := i // a number, true, false or null
	for j < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[j])) {
		j++
	}
	return j
}

// readBody reads at most MaxWebhookBody bytes; beyond that it returns an
// *http.MaxBytesError. It allocates the declared Content-Length up front
// (a 20 KB delivery is then one allocation, not io.ReadAll's eight growing
// copies), but never more than bodyPrealloc on a client's word alone.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, MaxWebhookBody)
	size := int64(512)
	if r.ContentLength > 0 && r.ContentLength < bodyPrealloc {
		size = r.ContentLength + 1 // room to read io.EOF without growing
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// bodyPrealloc bounds what readBody allocates before any byte arrives.
const bodyPrealloc = 256 << 10

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
