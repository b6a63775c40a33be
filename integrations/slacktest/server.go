package slacktest

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
)

// Defaults used when Options leaves a field empty.
const (
	DefaultBotToken   = "xoxb-0000000000-tollgate-fake-bot-token"
	DefaultTeamID     = "T0TOLLGATE"
	DefaultTeamDomain = "tollgate-test"
	DefaultTeamName   = "Tollgate Test"
	DefaultBotUserID  = "U0TOLLBOT"
	DefaultBotName    = "tollgate"
	DefaultBotID      = "B0TOLLBOT"
	DefaultAppID      = "A0TOLLGATE"
)

// MethodResponseURL is the method name under which response_url posts are
// recorded and to which Delay, FailNext and RateLimitNext may be applied.
const MethodResponseURL = "response_url"

// Options configures a Server; zero fields take the Default* values.
type Options struct {
	BotToken   string
	TeamID     string
	TeamDomain string
	TeamName   string
	BotUserID  string
	BotName    string
	BotID      string
	AppID      string
	// Now is the clock for message timestamps and response_url expiry.
	Now func() time.Time
	// Scopes are the bot token's OAuth scopes, sent in X-OAuth-Scopes;
	// nil means DefaultScopes, an empty non-nil slice a token with none.
	Scopes []string
	// ClientID and ClientSecret are the app's OAuth client (Sign in with
	// Slack); empty means DefaultClientID and DefaultClientSecret.
	ClientID, ClientSecret string
}

// Server is a running fake Slack. All methods are safe for concurrent use.
type Server struct {
	// URL is the base URL of the fake, e.g. http://127.0.0.1:PORT.
	URL string

	opts Options
	srv  *httptest.Server

	mu           sync.Mutex
	changed      chan struct{} // closed and replaced on every recorded call
	calls        []Call
	faults       map[string]*methodFaults
	channels     map[string]*channel // by channel ID
	users        map[string]*User    // by user ID
	ephemerals   []Ephemeral
	views        []OpenedView
	responseURLs map[string]*responseURL
	lastTS       int64 // microseconds since the epoch of the last minted ts
	seq          int   // for IDs of views and response URLs
	oidc         oidcState
}

// New starts a fake Slack. Close it when done.
func New(opts Options) *Server {
	setDefault(&opts.BotToken, DefaultBotToken)
	setDefault(&opts.TeamID, DefaultTeamID)
	setDefault(&opts.TeamDomain, DefaultTeamDomain)
	setDefault(&opts.TeamName, DefaultTeamName)
	setDefault(&opts.BotUserID, DefaultBotUserID)
	setDefault(&opts.BotName, DefaultBotName)
	setDefault(&opts.BotID, DefaultBotID)
	setDefault(&opts.AppID, DefaultAppID)
	setDefault(&opts.ClientID, DefaultClientID)
	setDefault(&opts.ClientSecret, DefaultClientSecret)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:         opts,
		changed:      make(chan struct{}),
		faults:       map[string]*methodFaults{},
		channels:     map[string]*channel{},
		users:        map[string]*User{},
		responseURLs: map[string]*responseURL{},
		oidc:         oidcState{codes: map[string]*oidcCode{}, tokens: map[string]oidcPerson{}},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.srv.URL
	return s
}

func setDefault(field *string, value string) {
	if *field == "" {
		*field = value
	}
}

// Close shuts the server down, cancelling requests held by Delay.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// APIURL is the value for slack.OptionAPIURL (and Tollgate's slack.api_url).
func (s *Server) APIURL() string { return s.URL + "/api/" }

// BotToken is the only token the fake accepts.
func (s *Server) BotToken() string { return s.opts.BotToken }

// TeamID is the workspace ID the fake reports.
func (s *Server) TeamID() string { return s.opts.TeamID }

// TeamDomain is the workspace domain the fake reports.
func (s *Server) TeamDomain() string { return s.opts.TeamDomain }

// BotUserID is the user ID messages posted with the bot token carry.
func (s *Server) BotUserID() string { return s.opts.BotUserID }

// AppID is the api_app_id of the fake app.
func (s *Server) AppID() string { return s.opts.AppID }

// Client returns an unmodified slack-go client pointed at the fake with the bot token.
func (s *Server) Client(options ...slack.Option) *slack.Client {
	return slack.New(s.opts.BotToken, append([]slack.Option{slack.OptionAPIURL(s.APIURL())}, options...)...)
}

// apiHandlers maps a Web API method to its handler; each runs with s.mu held
// and returns the response fields after "ok":true, or a Slack error string.
func (s *Server) apiHandlers() map[string]func(p params) (map[string]any, string) {
	return map[string]func(p params) (map[string]any, string){
		"chat.postMessage":   s.chatPostMessage,
		"chat.update":        s.chatUpdate,
		"chat.postEphemeral": s.chatPostEphemeral,
		"users.info":         s.usersInfo,
		"views.open":         s.viewsOpen,
		"auth.test":          s.authTest,
		"conversations.info": s.conversationsInfo,
	}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/"):
		s.serveAPI(w, r, strings.TrimPrefix(r.URL.Path, "/api/"))
	case strings.HasPrefix(r.URL.Path, responseURLPath):
		s.serveResponseURL(w, r, strings.TrimPrefix(r.URL.Path, responseURLPath))
	case r.URL.Path == PathAuthorize && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		s.serveAuthorize(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, method string) {
	p, err := readParams(r)
	if err != nil {
		s.finish(w, Call{Method: method, Error: "invalid_form_data"}, http.StatusOK, errorBody("invalid_form_data"))
		return
	}
	call := Call{Method: method, Params: p.recordedForm(), JSON: p.rawJSON}
	if oidc, ok := s.oidcMethods()[method]; ok {
		// Sign in with Slack methods authenticate with the app's client
		// credentials or a user token, not the bot token.
		if !s.applyFaults(w, r, &call) {
			return
		}
		call.Params.Del("client_secret")
		call.Params.Del("code_verifier")
		s.mu.Lock()
		fields, slackErr := oidc(p, bearerOr(r, p))
		s.mu.Unlock()
		s.answer(w, call, fields, slackErr)
		return
	}
	handler, known := s.apiHandlers()[method]
	if !known {
		call.Error = "unknown_method"
		s.finish(w, call, http.StatusNotFound, errorBody("unknown_method"))
		return
	}
	if !s.applyFaults(w, r, &call) {
		return
	}
	if authErr := s.authenticate(r, p); authErr != "" {
		call.Error = authErr
		s.finish(w, call, http.StatusOK, errorBody(authErr))
		return
	}
	s.mu.Lock()
	fields, slackErr := handler(p)
	s.mu.Unlock()
	s.answer(w, call, fields, slackErr)
}

// answer finishes a Web API call as Slack does: HTTP 200 with ok:false and
// the error, or ok:true and the method's fields.
func (s *Server) answer(w http.ResponseWriter, call Call, fields map[string]any, slackErr string) {
	if slackErr != "" {
		call.Error = slackErr
		s.finish(w, call, http.StatusOK, errorBody(slackErr))
		return
	}
	body := map[string]any{"ok": true}
	for k, v := range fields {
		body[k] = v
	}
	s.finish(w, call, http.StatusOK, body)
}

// oidcMethods are the Sign in with Slack methods; each runs with s.mu held
// and gets the call's token (user token) besides its arguments.
func (s *Server) oidcMethods() map[string]func(p params, token string) (map[string]any, string) {
	return map[string]func(p params, token string) (map[string]any, string){
		"openid.connect.token":    func(p params, _ string) (map[string]any, string) { return s.openIDToken(p) },
		"openid.connect.userInfo": func(_ params, token string) (map[string]any, string) { return s.openIDUserInfo(token) },
	}
}

// bearerOr returns the call's token: a Bearer header, or the token field.
func bearerOr(r *http.Request, p params) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimPrefix(h, "Bearer ")
	}
	return p.token
}

// authenticate accepts the bot token as a Bearer header (JSON methods) or as
// the "token" form field (slack-go's form-encoded methods), as Slack does.
func (s *Server) authenticate(r *http.Request, p params) string {
	token := ""
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		token = strings.TrimPrefix(h, "Bearer ")
	} else if p.token != "" {
		token = p.token
	}
	switch {
	case token == "":
		return "not_authed"
	case subtle.ConstantTimeCompare([]byte(token), []byte(s.opts.BotToken)) != 1:
		return "invalid_auth"
	}
	return ""
}

// finish records the call and writes the JSON response.
func (s *Server) finish(w http.ResponseWriter, call Call, status int, body any) {
	call.Status = status
	s.record(call)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	s.setScopeHeader(w, call)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func errorBody(slackErr string) map[string]any {
	return map[string]any{"ok": false, "error": slackErr}
}
