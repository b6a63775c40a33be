// Package githubtest is a fake GitHub REST API, OAuth web flow and webhook
// sender on net/http/httptest. go-github v60 and ghinstallation/v2 talk to it
// unmodified through their base-URL options. Tests build a world (app,
// installations, repositories, teams, pull requests, commits), point Tollgate
// at URL() or APIURL(), and assert on the recorded calls and on higher-level
// views of what GitHub would have seen (deployment statuses, comments,
// reactions, protection-rule callbacks). Faults (5xx, rate limits, delays)
// can be injected per route.
package githubtest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// apiPrefix is the path GitHub Enterprise Server serves the REST API under;
// go-github's WithEnterpriseURLs adds it, so the fake accepts both forms.
const apiPrefix = "/api/v3"

// maxBodyBytes bounds request bodies the fake reads.
const maxBodyBytes = 25 << 20

// Server is a fake GitHub. All methods are safe for concurrent use.
type Server struct {
	ts  *httptest.Server
	mux *http.ServeMux

	mu       sync.Mutex
	now      func() time.Time
	tokenTTL time.Duration
	state    *world
	rec      recorder
	flt      faults
	hooks    deliveries
}

// New starts a fake GitHub with one GitHub App (id 1, slug "tollgate") whose
// RSA private key is generated here; see AppPrivateKeyPEM. Close it when done.
func New() *Server {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		// Only a broken crypto/rand makes this fail; nothing a caller could fix.
		panic(fmt.Sprintf("githubtest: generate app key: %v", err))
	}
	s := &Server{now: time.Now, state: newWorld(key)}
	s.mux = http.NewServeMux()
	s.routes()
	s.ts = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.ts.Close() }

// URL is the server's root URL (web and OAuth endpoints, and the API as on
// api.github.com). Give it to ghinstallation's BaseURL or go-github's
// WithEnterpriseURLs.
func (s *Server) URL() string { return s.ts.URL }

// APIURL is the API base as GitHub Enterprise Server spells it (URL()+"/api/v3").
func (s *Server) APIURL() string { return s.ts.URL + apiPrefix }

// Client returns an http.Client for the server (plain HTTP, no auth added).
func (s *Server) Client() *http.Client { return s.ts.Client() }

// SetClock replaces the server's clock (token expiry, timestamps, Date and
// rate-limit headers, JWT time checks). A clock far from real time makes
// ghinstallation's JWTs look expired, exactly as with the real GitHub.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// AppID is the fake GitHub App's id.
func (s *Server) AppID() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.app.id
}

// AppSlug is the fake GitHub App's slug; its bot user is AppSlug()+"[bot]".
func (s *Server) AppSlug() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.app.slug
}

// AppPrivateKeyPEM is the app's private key in PKCS#1 PEM, as GitHub hands it out.
func (s *Server) AppPrivateKeyPEM() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(s.state.app.key)})
}

// AppOAuthClient returns the app's OAuth client id and secret.
func (s *Server) AppOAuthClient() (clientID, clientSecret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.app.clientID, s.state.app.clientSecret
}

// serveHTTP records the call, applies injected delays and faults, then routes.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if p, ok := strings.CutPrefix(r.URL.Path, apiPrefix); ok && (p == "" || p[0] == '/') {
		r.URL.Path = p
		r.URL.RawPath = ""
		if r.URL.Path == "" {
			r.URL.Path = "/"
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	sw := &statusWriter{ResponseWriter: w}
	idx := s.rec.begin(r, body, s.clock())
	defer func() { s.rec.finish(idx, sw.status) }()

	s.setCommonHeaders(sw, r)
	if len(body) > maxBodyBytes {
		writeError(sw, http.StatusRequestEntityTooLarge, "Payload too large")
		return
	}
	if d := s.flt.delayFor(r); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if f, ok := s.flt.take(r); ok {
		s.writeFault(sw, r, f)
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// setCommonHeaders adds the headers every GitHub API answer carries.
func (s *Server) setCommonHeaders(w http.ResponseWriter, r *http.Request) {
	now := s.clock()
	h := w.Header()
	h.Set("Date", now.UTC().Format(http.TimeFormat))
	h.Set("X-GitHub-Request-Id", requestID())
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Remaining", strconv.Itoa(4999-s.rec.count()%4999))
	h.Set("X-RateLimit-Used", strconv.Itoa(1+s.rec.count()%4999))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(now.Add(time.Hour).Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
}

// clock reads the current fake time.
func (s *Server) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

// statusWriter remembers the status code written, for the call record.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// requestID returns a GitHub-style request id (hex groups separated by colons).
func requestID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	x := strings.ToUpper(hex.EncodeToString(b[:]))
	return x[0:4] + ":" + x[4:8] + ":" + x[8:14] + ":" + x[14:20]
}

// writeJSON answers with v as JSON and the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	b, err := json.Marshal(v)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"message":"fake encode error: %s"}`, strings.ReplaceAll(err.Error(), `"`, `'`))
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// docsURL is GitHub's generic documentation link in error bodies.
const docsURL = "https://docs.github.com/rest"

// writeError answers with GitHub's error body shape.
func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]any{"message": message, "documentation_url": docsURL})
}

// writeNotFound answers 404 like GitHub does for missing or hidden resources.
func writeNotFound(w http.ResponseWriter) { writeError(w, http.StatusNotFound, "Not Found") }

// writeValidation answers 422 with GitHub's validation error shape.
func writeValidation(w http.ResponseWriter, resource, field, code, message string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message":           "Validation Failed",
		"errors":            []any{map[string]any{"resource": resource, "field": field, "code": code, "message": message}},
		"documentation_url": docsURL,
	})
}

// decodeBody decodes a JSON request body; on failure it answers 400 like GitHub.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return false
	}
	return true
}
