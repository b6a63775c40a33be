package slacktest

import (
	"net/http"
	"strings"
)

// HeaderOAuthScopes is the response header in which Slack lists, on every
// Web API answer, the OAuth scopes of the token the call was made with.
const HeaderOAuthScopes = "X-OAuth-Scopes"

// DefaultScopes are the bot token's scopes when Options.Scopes is nil:
// what Tollgate's Slack app manifest requests.
var DefaultScopes = []string{"commands", "chat:write"}

// Scopes returns the bot token's scopes, as sent in X-OAuth-Scopes.
func (s *Server) Scopes() []string {
	if s.opts.Scopes == nil {
		return append([]string(nil), DefaultScopes...)
	}
	return append([]string(nil), s.opts.Scopes...)
}

// setScopeHeader lists the bot token's scopes on an answer. A call that
// presented no valid token has no scopes to report, so the header is empty.
func (s *Server) setScopeHeader(w http.ResponseWriter, call Call) {
	scopes := s.Scopes()
	if call.Error == "not_authed" || call.Error == "invalid_auth" {
		scopes = nil
	}
	w.Header().Set(HeaderOAuthScopes, strings.Join(scopes, ","))
}
