package demo

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Without --exit the demo keeps serving, and a person opening a printed
// URL in a browser lands on the page after one sign-in hop through the
// fake GitHub, as the user the transcript names.
func TestDemoKeepsServingThePagesBehindTheLogin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	serving, stop := context.WithCancel(ctx)
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- runDemoStory(serving, demoOptions{Listen: "127.0.0.1:0"}, out) }()
	deadline := time.Now().Add(4 * time.Minute)
	for !strings.Contains(out.String(), "until Ctrl-C") {
		select {
		case err := <-done:
			t.Fatalf("the demo ended before serving: %v\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not get to serving:\n%s", out.String())
		}
	}
	text := out.String()
	if !regexp.MustCompile(`signs you in at once as @bob\s`).MatchString(text) {
		t.Errorf("the transcript does not say who the browser is signed in as:\n%s", text[strings.Index(text, "── 12."):])
	}
	page := regexp.MustCompile(`(?m)^\s+(http://127\.0\.0\.1:\d+/deployments/r-\S+)\s+production slack`).FindStringSubmatch(text)
	if page == nil {
		t.Fatalf("no log page URL printed:\n%s", text)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	var hops []string
	browser := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		hops = append(hops, r.URL.Path)
		return nil
	}}
	resp, err := browser.Get(page[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != page[1] || !strings.Contains(string(body), `id="viewer">@bob`) {
		t.Errorf("opening %s: %d at %s, signed in as bob: %v", page[1], resp.StatusCode, resp.Request.URL, strings.Contains(string(body), "@bob"))
	}
	if want := []string{"/login", "/login/oauth/authorize", "/login/callback", resp.Request.URL.Path}; !slices.Equal(hops, want) {
		t.Errorf("the browser went through %v, want %v", hops, want)
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the demo ended with %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the demo did not stop")
	}
}

func TestDemoRefusesBadUsage(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "something"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"data directory not empty", []string{"--exit", "--data", full}, "is not empty"},
		{"listen address unusable", []string{"--exit", "--listen", "256.0.0.1:0"}, "--listen"},
		{"unexpected argument", []string{"--exit", "extra"}, "usage: tollgate-demo"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), c.args, &stdout, &stderr)
			if code != exitUsage {
				t.Errorf("exit %d, want %d (stderr %q)", code, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), c.want) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), c.want)
			}
		})
	}
	entries, err := os.ReadDir(full)
	if err != nil || len(entries) != 1 {
		t.Errorf("the non-empty data directory was changed: %v %v", entries, err)
	}
}

// BenchmarkDemoStory measures the whole demo, set-up to shutdown (the
// target: under a minute on 2 cores). Run with -benchtime=1x.
func BenchmarkDemoStory(b *testing.B) {
	for b.Loop() {
		if err := runDemoStory(context.Background(), demoOptions{Exit: true, Listen: "127.0.0.1:0"}, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
