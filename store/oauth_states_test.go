package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/store/storetest"
)

func TestOAuthStatesAreSingleUseAndExpire(t *testing.T) {
	storetest.Run(t, testOAuthStatesAreSingleUseAndExpire)
}

func testOAuthStatesAreSingleUseAndExpire(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	now := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	save := func(key string, ttl time.Duration) {
		t.Helper()
		err := s.SaveOAuthState(ctx, OAuthState{Kind: OAuthFlow, Key: key, Workspace: "T1", User: "U1",
			Verifier: "verifier-" + key, Browser: "cookie-" + key, CreatedAt: now, ExpiresAt: now.Add(ttl)})
		if err != nil {
			t.Fatalf("SaveOAuthState(%s): %v", key, err)
		}
	}
	save("good", 10*time.Minute)
	save("old", time.Minute)

	tests := []struct {
		name    string
		kind    string
		key     string
		at      time.Time
		wantErr error
	}{
		{"first use succeeds", OAuthFlow, "good", now.Add(time.Minute), nil},
		{"second use is refused", OAuthFlow, "good", now.Add(2 * time.Minute), ErrOAuthStateUsed},
		{"expired is refused", OAuthFlow, "old", now.Add(time.Minute), ErrOAuthStateExpired},
		{"expired stays refused as used", OAuthFlow, "old", now, ErrOAuthStateUsed},
		{"unknown key is refused", OAuthFlow, "never-issued", now, ErrOAuthStateUnknown},
		{"a flow key is not a link", OAuthLink, "good", now, ErrOAuthStateUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := s.ConsumeOAuthState(ctx, tt.kind, tt.key, tt.at)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ConsumeOAuthState error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == ErrOAuthStateUnknown {
				return
			}
			if st.Workspace != "T1" || st.User != "U1" {
				t.Errorf("state names %s/%s, want T1/U1", st.Workspace, st.User)
			}
			if tt.wantErr == nil {
				if st.Verifier != "verifier-good" {
					t.Errorf("verifier = %q", st.Verifier)
				}
				if !st.BrowserMatches("cookie-good") || st.BrowserMatches("cookie-old") || st.BrowserMatches("") {
					t.Errorf("browser binding does not match exactly its own cookie")
				}
			}
		})
	}
}

func TestOAuthStateSecretsAreNotStored(t *testing.T) {
	storetest.Run(t, testOAuthStateSecretsAreNotStored)
}

func testOAuthStateSecretsAreNotStored(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	now := time.Now()
	if err := s.SaveOAuthState(ctx, OAuthState{Kind: OAuthLink, Key: "s3cret-link", Workspace: "T1", User: "U1",
		Browser: "s3cret-cookie", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	var n int
	err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM oauth_states
		WHERE key_hash LIKE '%s3cret%' OR browser_hash LIKE '%s3cret%'`).Scan(&n)
	if err != nil || n != 0 {
		t.Fatalf("secrets found in the table: n=%d err=%v", n, err)
	}
	if err := s.SaveOAuthState(ctx, OAuthState{Kind: "other", Key: "k", Workspace: "T1", User: "U1"}); err == nil {
		t.Fatal("unknown kind accepted")
	}
}
