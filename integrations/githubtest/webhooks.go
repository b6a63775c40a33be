package githubtest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Delivery is one webhook delivery the fake sent.
type Delivery struct {
	ID     string // X-GitHub-Delivery
	Event  string
	Target string
	Body   []byte
	Status int // response status; 0 when the request failed
	Time   time.Time
}

// deliveries records sent webhooks.
type deliveries struct {
	mu   sync.Mutex
	list []Delivery
}

// webhookTimeout is how long GitHub waits for a webhook answer.
const webhookTimeout = 10 * time.Second

// SignatureSHA256 is the X-Hub-Signature-256 value GitHub sends for body.
func SignatureSHA256(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// signatureSHA1 is the legacy X-Hub-Signature value GitHub still sends.
func signatureSHA1(secret string, body []byte) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(body)
	return "sha1=" + hex.EncodeToString(m.Sum(nil))
}

// NewDeliveryID returns a GUID like GitHub's X-GitHub-Delivery values.
func NewDeliveryID() string {
	h := randHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// SendWebhook delivers payload to targetURL as GitHub does for event, with
// a new delivery id (read it from resp.Request.Header or Deliveries). The
// caller closes the response body.
func (s *Server) SendWebhook(ctx context.Context, targetURL, secret, event string, payload []byte) (*http.Response, error) {
	return s.SendWebhookDelivery(ctx, targetURL, secret, event, NewDeliveryID(), payload)
}

// SendWebhookDelivery is SendWebhook with a given delivery id, for
// redelivery tests (GitHub redelivers with the same id).
func (s *Server) SendWebhookDelivery(ctx context.Context, targetURL, secret, event, deliveryID string, payload []byte) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, webhookTimeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, targetURL, bytes.NewReader(payload))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("webhook %s %s: %w", event, deliveryID, err)
	}
	s.mu.Lock()
	appID, hookID := s.state.app.id, s.state.app.hookID
	s.mu.Unlock()
	h := req.Header
	h.Set("Accept", "*/*")
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/a1b2c3d")
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Delivery", deliveryID)
	h.Set("X-GitHub-Hook-ID", strconv.FormatInt(hookID, 10))
	h.Set("X-GitHub-Hook-Installation-Target-Type", "integration")
	h.Set("X-GitHub-Hook-Installation-Target-ID", strconv.FormatInt(appID, 10))
	h.Set("X-Hub-Signature", signatureSHA1(secret, payload))
	h.Set("X-Hub-Signature-256", SignatureSHA256(secret, payload))
	resp, err := http.DefaultClient.Do(req)
	d := Delivery{ID: deliveryID, Event: event, Target: targetURL, Body: payload, Time: s.clock()}
	if err != nil {
		cancel()
		s.hooks.add(d)
		return nil, fmt.Errorf("webhook %s %s to %s: %w", event, deliveryID, targetURL, err)
	}
	d.Status = resp.StatusCode
	s.hooks.add(d)
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// SendPayload signs and delivers a built payload with its event name.
func (s *Server) SendPayload(ctx context.Context, targetURL, secret string, p Payload) (*http.Response, error) {
	body, err := p.JSON()
	if err != nil {
		return nil, err
	}
	return s.SendWebhook(ctx, targetURL, secret, p.Event, body)
}

// Deliveries returns the webhooks sent so far, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	return append([]Delivery(nil), s.hooks.list...)
}

func (d *deliveries) add(x Delivery) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.list = append(d.list, x)
}

// cancelOnClose releases the delivery's timeout when the body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	defer c.cancel()
	return c.ReadCloser.Close()
}
