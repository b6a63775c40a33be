package githubtest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// authorize runs GET /login/oauth/authorize and returns the redirect's code.
func authorize(t *testing.T, gh *Server, challenge string) string {
	t.Helper()
	clientID, _ := gh.AppOAuthClient()
	q := url.Values{"client_id": {clientID}, "redirect_uri": {"https://tollgate.example/oauth/github/callback"}, "state": {"st-1"}}
	if challenge != "" {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", "S256")
	}
	resp, err := noRedirect.Get(gh.URL() + "/login/oauth/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || loc.Host != "tollgate.example" || loc.Query().Get("state") != "st-1" {
		t.Fatalf("authorize: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query().Get("code")
}

// exchange posts the code and returns the decoded JSON answer.
func exchange(t *testing.T, gh *Server, code, secret, verifier string) map[string]any {
	t.Helper()
	clientID, _ := gh.AppOAuthClient()
	form := url.Values{"client_id": {clientID}, "client_secret": {secret}, "code": {code}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	req, _ := http.NewRequest("POST", gh.URL()+"/login/oauth/access_token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("exchange: %d %v", resp.StatusCode, err)
	}
	return out
}

func TestOAuthWebFlowWithPKCE(t *testing.T) {
	gh, _ := newFake(t)
	aliceID := gh.AddUser("alice")
	gh.AuthorizeAs("alice")
	_, secret := gh.AppOAuthClient()
	verifier := "a-very-long-random-verifier-string-0123456789-abcdef"
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])

	tests := []struct {
		name             string
		challenge        string
		secret, verifier string
		reuse            bool
		wantError        string
	}{
		{"PKCE verifier matches", challenge, secret, verifier, false, ""},
		{"no PKCE", "", secret, "", false, ""},
		{"wrong verifier", challenge, secret, "wrong", false, "bad_verification_code"},
		{"missing verifier", challenge, secret, "", false, "bad_verification_code"},
		{"wrong client secret", challenge, "nope", verifier, false, "incorrect_client_credentials"},
		{"code used twice", challenge, secret, verifier, true, "bad_verification_code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := authorize(t, gh, tt.challenge)
			if tt.reuse {
				exchange(t, gh, code, tt.secret, tt.verifier)
			}
			out := exchange(t, gh, code, tt.secret, tt.verifier)
			if tt.wantError != "" {
				if out["error"] != tt.wantError || out["access_token"] != nil {
					t.Fatalf("answer %v, want error %s", out, tt.wantError)
				}
				return
			}
			tok, _ := out["access_token"].(string)
			if !strings.HasPrefix(tok, "ghu_") || out["token_type"] != "bearer" {
				t.Fatalf("answer %v", out)
			}
			u, _, err := tokenClient(t, gh, tok).Users.Get(ctx(t), "")
			if err != nil || u.GetLogin() != "alice" || u.GetID() != aliceID {
				t.Errorf("GET /user = %v, %v", u, err)
			}
		})
	}
}

func TestOAuthLoginPageWithoutAuthorizeAs(t *testing.T) {
	gh, _ := newFake(t)
	gh.AddUser("bob")
	clientID, _ := gh.AppOAuthClient()
	q := url.Values{"client_id": {clientID}, "redirect_uri": {"https://tollgate.example/cb"}, "state": {"s"}}
	resp, err := http.Get(gh.URL() + "/login/oauth/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("login page: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	q.Set("login", "bob")
	resp, err = noRedirect.PostForm(gh.URL()+"/login/oauth/authorize", q)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "https://tollgate.example/cb?") {
		t.Errorf("form post: %d %q", resp.StatusCode, loc)
	}
}

func TestInstallationTokenCannotReadUser(t *testing.T) {
	gh, inst := newFake(t)
	_, resp, _ := installationClient(t, gh, inst).Users.Get(ctx(t), "")
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /user with an installation token: %v, want 403", resp)
	}
}
