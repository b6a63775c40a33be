package github

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// TestDecodeEnvelopeReadsRealDeliveries: the facts logged for GitHub's own
// payloads.
func TestDecodeEnvelopeReadsRealDeliveries(t *testing.T) {
	tests := []struct {
		name, fixture, action, repo string
		installation                int64
	}{
		{"pull request synchronized", "pull_request.synchronize.payload.json", "synchronize", "Codertocat/Hello-World", 1},
		{"ping", "ping.payload.json", "", "Octocoders/Hello-World", 0},
		{"installation created", "installation.created.payload.json", "created", "", 957387},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("..", "githubtest", "testdata", "github-webhooks", tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			var got webhookEnvelope
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got.Action != tt.action {
				t.Fatalf("decoded %+v, want action %q", got, tt.action)
			}
			if tt.repo != "" && (got.Repository == nil || got.Repository.FullName != tt.repo) {
				t.Fatalf("repository %+v, want %s", got.Repository, tt.repo)
			}
			if tt.installation != 0 && (got.Installation == nil || got.Installation.ID != tt.installation) {
				t.Fatalf("installation %+v, want %d", got.Installation, tt.installation)
			}
		})
	}
}

// TestReadBodyWhateverTheDeclaredLength: the body read is the body sent,
// whether its length is declared, undeclared (chunked), or larger than
// what is allocated up front; over the limit is a MaxBytesError.
func TestReadBodyWhateverTheDeclaredLength(t *testing.T) {
	tests := []struct {
		name        string
		size        int
		declare     bool
		wantTooLong bool
	}{
		{"empty", 0, true, false},
		{"declared 20 KB delivery", 20 << 10, true, false},
		{"undeclared (chunked) 20 KB delivery", 20 << 10, false, false},
		{"declared, larger than the up-front allocation", 256<<10 + 1000, true, false},
		{"undeclared, over the limit", MaxWebhookBody + 1, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent := bytes.Repeat([]byte("0123456789abcdef"), tt.size/16+1)[:tt.size]
			r := httptest.NewRequest(http.MethodPost, "/webhooks/github", io.NopCloser(bytes.NewReader(sent)))
			r.ContentLength = -1
			if tt.declare {
				r.ContentLength = int64(tt.size)
			}
			got, release, err := readBody(httptest.NewRecorder(), r, nil)
			defer release()
			var tooBig *http.MaxBytesError
			if tt.wantTooLong {
				if !errors.As(err, &tooBig) {
					t.Fatalf("error %v, want a MaxBytesError", err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, sent) {
				t.Fatalf("read %d bytes (error %v), want the %d sent", len(got), err, len(sent))
			}
		})
	}
}
