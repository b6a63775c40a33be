package githubtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// ManifestCode mints a code as GitHub's "create app from manifest" page
// would hand to the manifest's redirect_url.
func (s *Server) ManifestCode() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newManifestCode()
}

func (s *Server) newManifestCode() string {
	code := randHex(10)
	s.state.oauth.manifestCodes[code] = s.now().Add(time.Hour)
	return code
}

// Manifests returns the app manifests posted to the creation form, oldest first.
func (s *Server) Manifests() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]json.RawMessage(nil), s.state.oauth.manifests...)
}

// WebhookSecret is the app's webhook secret (as the manifest conversion returns it).
func (s *Server) WebhookSecret() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.app.webhookSecret
}

// handleManifestForm serves the form post of "create a GitHub App from a
// manifest" (user or organisation): it creates the app at once and redirects
// to the manifest's redirect_url with code and state.
func (s *Server) handleManifestForm(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	raw := r.PostForm.Get("manifest")
	var m struct {
		Name        string `json:"name"`
		URL         string `json:"url"`
		RedirectURL string `json:"redirect_url"`
	}
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		http.Error(w, "Invalid GitHub App configuration: manifest is not JSON", http.StatusUnprocessableEntity)
		return
	}
	u, err := url.Parse(m.RedirectURL)
	if m.URL == "" || err != nil || !u.IsAbs() {
		http.Error(w, "Invalid GitHub App configuration: url and redirect_url are required", http.StatusUnprocessableEntity)
		return
	}
	s.state.oauth.manifests = append(s.state.oauth.manifests, json.RawMessage(raw))
	if m.Name != "" {
		s.state.app.name = m.Name
	}
	v := u.Query()
	v.Set("code", s.newManifestCode())
	if st := r.URL.Query().Get("state"); st != "" {
		v.Set("state", st)
	} else if st := r.PostForm.Get("state"); st != "" {
		v.Set("state", st)
	}
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// handleManifestConversion serves POST /app-manifests/{code}/conversions:
// 201 with the app, its private key, webhook secret and OAuth credentials;
// a code works once and expires after an hour.
func (s *Server) handleManifestConversion(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	code := r.PathValue("code")
	exp, ok := s.state.oauth.manifestCodes[code]
	delete(s.state.oauth.manifestCodes, code)
	if !ok || !s.now().Before(exp) {
		s.mu.Unlock()
		writeNotFound(w)
		return
	}
	out := s.appJSON()
	out["webhook_secret"] = s.state.app.webhookSecret
	out["client_secret"] = s.state.app.clientSecret
	s.mu.Unlock()
	out["pem"] = string(s.AppPrivateKeyPEM())
	writeJSON(w, http.StatusCreated, out)
}
