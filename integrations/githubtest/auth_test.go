package githubtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"
)

func TestInstallationTokenThenTeamMembership(t *testing.T) {
	gh, inst := newFake(t)
	gh.SetTeamMember("acme", "deployers", "alice", "member")
	gh.SetTeamMember("acme", "deployers", "dora", "maintainer")
	gh.AddTeam("acme", "approvers")
	c := installationClient(t, gh, inst)

	tests := []struct {
		name, team, user string
		wantRole         string // "" = not a member (404)
	}{
		{"member", "deployers", "alice", "member"},
		{"maintainer", "deployers", "dora", "maintainer"},
		{"login is case-insensitive", "deployers", "ALICE", "member"},
		{"not in team", "approvers", "alice", ""},
		{"unknown team", "nobody", "alice", ""},
		{"unknown user", "deployers", "mallory", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, resp, err := c.Teams.GetTeamMembershipBySlug(ctx(t), "acme", tt.team, tt.user)
			if tt.wantRole == "" {
				if resp == nil || resp.StatusCode != http.StatusNotFound {
					t.Fatalf("want 404, got resp %v err %v", resp, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("membership: %v", err)
			}
			if m.GetState() != "active" || m.GetRole() != tt.wantRole {
				t.Errorf("state %q role %q, want active %q", m.GetState(), m.GetRole(), tt.wantRole)
			}
		})
	}
	if got := len(gh.CallsMatching("POST", "/app/installations/")); got != 1 {
		t.Errorf("token requests = %d, want 1 (ghinstallation caches the token)", got)
	}
	gh.RemoveTeamMember("acme", "deployers", "alice")
	if _, resp, _ := c.Teams.GetTeamMembershipBySlug(ctx(t), "acme", "deployers", "alice"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("after RemoveTeamMember: status %d, want 404", resp.StatusCode)
	}
}

func TestAppEndpointsWithJWT(t *testing.T) {
	gh, inst := newFake(t)
	c := appClient(t, gh)
	app, _, err := c.Apps.Get(ctx(t), "")
	if err != nil || app.GetID() != gh.AppID() || app.GetSlug() != "tollgate" {
		t.Fatalf("GET /app = %v, %v", app, err)
	}
	list, _, err := c.Apps.ListInstallations(ctx(t), nil)
	if err != nil || len(list) != 1 || list[0].GetID() != inst || list[0].GetAccount().GetLogin() != "acme" {
		t.Fatalf("GET /app/installations = %v, %v", list, err)
	}
	got, _, err := c.Apps.FindRepositoryInstallation(ctx(t), "acme", "web")
	if err != nil || got.GetID() != inst {
		t.Fatalf("repo installation = %v, %v", got, err)
	}
	if _, resp, _ := c.Apps.FindRepositoryInstallation(ctx(t), "other", "repo"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("installation of unknown repo: status %d, want 404", resp.StatusCode)
	}
	tok, _, err := c.Apps.CreateInstallationToken(ctx(t), inst, nil)
	if err != nil || !strings.HasPrefix(tok.GetToken(), "ghs_") || time.Until(tok.GetExpiresAt().Time) < 50*time.Minute {
		t.Fatalf("installation token = %v, %v", tok, err)
	}
}

func TestRequestsWithoutValidTokenAreRefused(t *testing.T) {
	gh, inst := newFake(t)
	live, err := gh.InstallationToken(inst)
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := gh.InstallationToken(inst)
	other := gh.AddInstallation("globex")
	gh.AddRepo("globex/api")
	otherTok, _ := gh.InstallationToken(other)

	tests := []struct {
		name, auth string
		want       int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"unknown token", "token ghs_" + strings.Repeat("x", 36), http.StatusUnauthorized},
		{"live token", "token " + live, http.StatusOK},
		{"live token as bearer", "Bearer " + live, http.StatusOK},
		{"token of another installation sees nothing", "token " + otherTok, http.StatusNotFound},
		{"app JWT instead of a token", "Bearer a.b.c", http.StatusForbidden},
		{"expired token", "token " + expired, http.StatusUnauthorized},
	}
	gh.mu.Lock()
	gh.state.tokens[expired].expires = time.Now().Add(-time.Minute)
	gh.mu.Unlock()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", gh.APIURL()+"/repos/acme/web", nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if resp.Header.Get("X-GitHub-Request-Id") == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("missing GitHub headers: %v", resp.Header)
			}
		})
	}
}

// signJWT signs claims with key using alg (RS256 unless "none").
func signJWT(t *testing.T, key *rsa.PrivateKey, alg string, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	head := enc(map[string]string{"alg": alg, "typ": "JWT"}) + "." + enc(claims)
	if alg == "none" {
		return head + "."
	}
	digest := sha256.Sum256([]byte(head))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return head + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestForgedOrExpiredAppJWTIsRejected(t *testing.T) {
	gh, inst := newFake(t)
	block, _ := pem.Decode(gh.AppPrivateKeyPEM())
	appKey, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	iss := strconv.FormatInt(gh.AppID(), 10)
	good := map[string]any{"iss": iss, "iat": now - 30, "exp": now + 90}
	tests := []struct {
		name string
		jwt  string
		want int
	}{
		{"valid", signJWT(t, appKey, "RS256", good), http.StatusCreated},
		{"signed by another key", signJWT(t, otherKey, "RS256", good), http.StatusUnauthorized},
		{"alg none", signJWT(t, appKey, "none", good), http.StatusUnauthorized},
		{"expired", signJWT(t, appKey, "RS256", map[string]any{"iss": iss, "iat": now - 700, "exp": now - 100}), http.StatusUnauthorized},
		{"lifetime over ten minutes", signJWT(t, appKey, "RS256", map[string]any{"iss": iss, "iat": now, "exp": now + 3600}), http.StatusUnauthorized},
		{"other app id", signJWT(t, appKey, "RS256", map[string]any{"iss": "999", "iat": now, "exp": now + 60}), http.StatusUnauthorized},
		{"garbage", "not-a-jwt", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", gh.URL()+"/app/installations/"+strconv.FormatInt(inst, 10)+"/access_tokens", nil)
			req.Header.Set("Authorization", "Bearer "+tt.jwt)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}

	// ghinstallation with a key that is not the app's gets a clear error.
	pemOther := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(otherKey)})
	itr, err := ghinstallation.New(http.DefaultTransport, gh.AppID(), inst, pemOther)
	if err != nil {
		t.Fatal(err)
	}
	itr.BaseURL = gh.URL()
	c := github.NewClient(&http.Client{Transport: itr})
	c, _ = c.WithEnterpriseURLs(gh.URL(), gh.URL())
	_, _, err = c.Repositories.Get(ctx(t), "acme", "web")
	var herr *ghinstallation.HTTPError
	if !errors.As(err, &herr) || herr.Response.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged key: err %v, want ghinstallation 401", err)
	}
	if got := gh.CallsMatching("GET", "/repos/acme/web"); len(got) != 0 {
		t.Errorf("API reached with a forged key: %d calls", len(got))
	}
}

func TestInstallationTokenRefreshAfterExpiry(t *testing.T) {
	gh, inst := newFake(t)
	gh.SetInstallationTokenTTL(30 * time.Second) // inside ghinstallation's 1-minute refresh margin
	c := installationClient(t, gh, inst)
	for i := range 3 {
		if _, _, err := c.Repositories.Get(ctx(t), "acme", "web"); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if got := len(gh.CallsMatching("POST", "/app/installations/")); got != 3 {
		t.Errorf("token requests = %d, want 3 (a fresh token each call)", got)
	}
}
