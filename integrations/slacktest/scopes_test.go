package slacktest

import (
	"net/http"
	"strings"
	"testing"
)

// postAuthTest calls auth.test the way a client reading headers must (slack-go
// does not expose them) and returns the X-OAuth-Scopes header.
func postAuthTest(t *testing.T, s *Server, token string) (scopes string, present bool) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.APIURL()+"auth.test", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", formContentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	values := resp.Header.Values(HeaderOAuthScopes)
	return strings.Join(values, ","), len(values) > 0
}

func TestOAuthScopesHeader(t *testing.T) {
	cases := []struct {
		name   string
		scopes []string
		token  func(s *Server) string
		want   string
	}{
		{name: "default scopes are what Tollgate's manifest requests", token: (*Server).BotToken, want: "commands,chat:write"},
		{name: "configured scopes", scopes: []string{"commands"}, token: (*Server).BotToken, want: "commands"},
		{name: "a token with no scopes", scopes: []string{}, token: (*Server).BotToken, want: ""},
		{name: "a wrong token has no scopes", token: func(*Server) string { return "xoxb-wrong" }, want: ""},
		{name: "no token has no scopes", token: func(*Server) string { return "" }, want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, Options{Scopes: tc.scopes})
			got, present := postAuthTest(t, s, tc.token(s))
			if !present {
				t.Fatalf("no %s header on the answer", HeaderOAuthScopes)
			}
			if got != tc.want {
				t.Fatalf("%s = %q, want %q", HeaderOAuthScopes, got, tc.want)
			}
		})
	}
}

func TestOAuthScopesHeaderOnEveryMethod(t *testing.T) {
	s := newTestServer(t, Options{Scopes: []string{"chat:write"}})
	s.FailNext("chat.update", "message_not_found", 1)
	for _, method := range []string{"chat.postMessage", "chat.update", "users.info", "no.such.method"} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.APIURL()+method, strings.NewReader("channel="+testChannel+"&text=hi&user="+alice))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", formContentType)
		req.Header.Set("Authorization", "Bearer "+s.BotToken())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get(HeaderOAuthScopes); got != "chat:write" {
			t.Errorf("%s: %s = %q, want chat:write", method, HeaderOAuthScopes, got)
		}
	}
}
