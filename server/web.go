package server

import (
	"fmt"
	"net/http"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/integrations/web"
	"github.com/tollgate-dev/tollgate/internal/mfastate"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// webPagesOff says why the log, audit and environments pages are not
// served; it is the 503 page's text and serve's warning.
const webPagesOff = "Tollgate's web pages (/deployments/<id>, /audit, /environments) need github.oauth_client_id and " +
	"github.oauth_client_secret: they are shown only after a GitHub login, which uses the GitHub App's OAuth client. " +
	"Set both in the configuration and restart tollgate serve."

// webPagePatterns are the routes web.Handler.Register serves; without the
// OAuth client each answers 503 instead of falling through to a 404.
var webPagePatterns = []string{
	"GET " + web.PathDeployments + "{id}",
	"GET " + web.PathAudit,
	"GET " + web.PathEnvironments,
	"GET " + web.PathLogin,
	"GET " + web.PathCallback,
	web.PathLogout,
	web.PathMFARegister + "/",
	web.PathMFARegister,
	web.PathMFAApprove,
	web.PathMFAReview,
	web.PathMFAEmergency + "/",
	web.PathMFAEmergency,
}

// mountWebPages serves the pages behind the GitHub login. Without the
// OAuth client it fails closed: every page path answers 503 saying what is
// missing, and nothing is ever shown without a login.
func (s *Server) mountWebPages(mux *http.ServeMux, cfg *config.Config) error {
	if !cfg.GitHub.WebLoginConfigured() {
		s.log.Warn("web pages not served: github.oauth_client_id and github.oauth_client_secret are not set; " +
			"the log_url of GitHub deployment statuses and Slack's log links answer 503 until they are")
		off := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, webPagesOff, http.StatusServiceUnavailable)
		})
		for _, p := range webPagePatterns {
			mux.Handle(p, off)
		}
		return nil
	}
	s.auditMonitor = audit.NewMonitor(s.store.DB(), s.auditKeyring, audit.MonitorOptions{Now: s.now,
		Logger: s.log.With("component", "audit-monitor")})
	pages, err := web.New(web.Config{
		Requests:     s.svc,
		Audit:        s.store.Audit(),
		AuditEntries: s.auditEntries,
		DeployLog:    s.ReadDeployLog,
		Verification: s.auditMonitor,
		Environments: s.live.Policies,
		Reviews:      s,
		Drift:        s.store,
		Attestations: webAttestations{s},
		MFA: &web.MFAConfig{Service: s.svc, States: s.store, Attestation: cfg.WebAuthn.Attestation,
			AllowedAAGUIDs: cfg.WebAuthn.AllowedAAGUIDs},
		OAuth: web.OAuth{WebURL: cfg.GitHub.WebURL, APIURL: cfg.GitHub.APIURL, ClientID: cfg.GitHub.OAuthClientID,
			ClientSecret: cfg.GitHub.OAuthClientSecret.Value(), Org: cfg.GitHub.Org, AuditorTeams: cfg.Teams.Auditors},
		PublicURL: cfg.PublicURL,
		Sessions:  webSessions{s.store},
		Clock:     s.now,
		Logger:    s.log.With("component", "web"),
	})
	if err != nil {
		return fmt.Errorf("%w: web pages: %w", ErrConfig, err)
	}
	pages.Register(mux)
	return nil
}

// auditKeyring is the keyring in force for the background verification
// of /audit: the current audit public key and those rotated out (as
// `tollgate verify --config`), read at each run so a reload applies.
func (s *Server) auditKeyring() (audit.Keyring, error) {
	keys, err := s.live.Current().Audit.Keyring()
	if err != nil {
		return nil, fmt.Errorf("audit keys: %w", err)
	}
	return keys, nil
}

// mfaStates is where Slack keeps the one-time links to the security key
// pages, nil when the pages are not served (no web login): Slack then
// says security keys are not set up.
func (s *Server) mfaStates(cfg *config.Config) mfastate.Store {
	if !cfg.GitHub.WebLoginConfigured() {
		return nil
	}
	return s.store
}
