package slacktest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Headers Slack puts on every request it sends to an app.
const (
	HeaderTimestamp   = "X-Slack-Request-Timestamp"
	HeaderSignature   = "X-Slack-Signature"
	HeaderRetryNum    = "X-Slack-Retry-Num"
	HeaderRetryReason = "X-Slack-Retry-Reason"
	slackUserAgent    = "Slackbot 1.0 (+https://api.slack.com/robots)"
)

// Signer signs requests to an app with its signing secret, as Slack does.
type Signer struct {
	Secret string
	// Now is the clock for the request timestamp; nil means time.Now.
	Now func() time.Time
}

// Sign returns the X-Slack-Request-Timestamp and X-Slack-Signature headers for
// body sent at ts: "v0=" + hex(HMAC-SHA256(secret, "v0:" + unix ts + ":" + body)).
func (s Signer) Sign(body []byte, ts time.Time) http.Header {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(s.Secret))
	mac.Write([]byte("v0:" + stamp + ":"))
	mac.Write(body)
	h := http.Header{}
	h.Set(HeaderTimestamp, stamp)
	h.Set(HeaderSignature, "v0="+hex.EncodeToString(mac.Sum(nil)))
	return h
}

// Headers signs body at the signer's current time.
func (s Signer) Headers(body []byte) http.Header {
	return s.Sign(body, s.now())
}

func (s Signer) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// SendOption changes how a signed request is sent.
type SendOption func(*sendConfig)

type sendConfig struct {
	at          time.Time
	retryNum    int
	retryReason string
	client      *http.Client
	tamper      func([]byte) []byte
	editHeaders func(http.Header)
}

// WithTimestamp signs the request as sent at t (e.g. six minutes ago, to test replay refusal).
func WithTimestamp(t time.Time) SendOption {
	return func(c *sendConfig) { c.at = t }
}

// WithRetry marks the request as Slack's retry number num, for reason
// ("http_timeout", "http_error", ...), with the X-Slack-Retry-* headers.
func WithRetry(num int, reason string) SendOption {
	return func(c *sendConfig) { c.retryNum, c.retryReason = num, reason }
}

// WithHTTPClient sends through client instead of http.DefaultClient.
func WithHTTPClient(client *http.Client) SendOption {
	return func(c *sendConfig) { c.client = client }
}

// WithTamper changes the body after it was signed, as a forger would.
func WithTamper(tamper func(body []byte) []byte) SendOption {
	return func(c *sendConfig) { c.tamper = tamper }
}

// WithHeaders edits the headers after signing (drop or garble the signature).
func WithHeaders(edit func(http.Header)) SendOption {
	return func(c *sendConfig) { c.editHeaders = edit }
}

// Post signs body and POSTs it to targetURL with the given content type and
// Slack's headers. The caller closes the response body.
func (s Signer) Post(ctx context.Context, targetURL, contentType string, body []byte, opts ...SendOption) (*http.Response, error) {
	cfg := sendConfig{client: http.DefaultClient}
	for _, opt := range opts {
		opt(&cfg)
	}
	if cfg.at.IsZero() {
		cfg.at = s.now()
	}
	headers := s.Sign(body, cfg.at)
	if cfg.tamper != nil {
		body = cfg.tamper(bytes.Clone(body))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, targetURL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build signed request to %s: %w", targetURL, err)
	}
	for k, v := range headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", slackUserAgent)
	if cfg.retryNum > 0 {
		req.Header.Set(HeaderRetryNum, strconv.Itoa(cfg.retryNum))
		req.Header.Set(HeaderRetryReason, cfg.retryReason)
	}
	if cfg.editHeaders != nil {
		cfg.editHeaders(req.Header)
	}
	resp, err := cfg.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("send signed request to %s: %w", targetURL, err)
	}
	return resp, nil
}
