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
	"reflect"
	"testing"
)

// envelopeSeeds are bodies where a cheaper decoder could go wrong.
var envelopeSeeds = []string{
	`{"action":"opened","repository":{"full_name":"acme/shop","name":"shop"},"installation":{"id":7}}`,
	`{"pull_request":{"title":"a \"quoted\" } title \\","body":"[{"},"action":"closed"}`,
	`{"ACTION":"x","Repository":{"FULL_NAME":"a/b"},"installation":null}`,
	`{"\u0061ction":"escaped key","repo\u0073itory":{"full_name":"e/k"}}`,
	`{"repository":{"full_name":"a/b"},"repository":{"id":1}}`,
	`{"repository":{"full_name":"a/b"},"repository":null}`,
	`{"action":5}`,
	`{"repository":"acme/shop"}`,
	`{"repository":{"full_name":7}}`,
	`{"installation":{"id":"7"}}`,
	`{"installation":{"id":1.5}}`,
	`{"action":"opened", `,
	`[1]`, `null`, `"x"`, ` { } `, `{}`, ``, `{"a":[1,{"b":[]},"]"],"action":"x","z":-1.5e3,"t":true}`,
	"{\"action\":\"ſ\",\"repoſitory\":{\"full_name\":\"long s\"},\"\u212a\":1}",
}

// FuzzDecodeEnvelope: decodeEnvelope agrees with json.Unmarshal on every
// body: the same fields, and an error for the same bodies.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, s := range envelopeSeeds {
		f.Add([]byte(s))
	}
	fixtures, _ := filepath.Glob(filepath.Join("..", "githubtest", "testdata", "github-webhooks", "*.json"))
	for _, p := range fixtures {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var want webhookEnvelope
		wantErr := json.Unmarshal(body, &want)
		got, err := decodeEnvelope(body)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%q: error %v, json.Unmarshal's %v", body, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decoded %+v, json.Unmarshal %+v", body, got, want)
		}
	})
}

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
			var want webhookEnvelope
			if err := json.Unmarshal(body, &want); err != nil {
				t.Fatal(err)
			}
			got, err := decodeEnvelope(body)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) || got.Action != tt.action {
				t.Fatalf("decoded %+v, want %+v (action %q)", got, want, tt.action)
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

// BenchmarkDecodeEnvelope compares decodeEnvelope with json.Unmarshal on a
// real ~20 KB pull_request delivery, the intake's commonest.
func BenchmarkDecodeEnvelope(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("..", "githubtest", "testdata", "github-webhooks", "pull_request.synchronize.payload.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decodeEnvelope", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := decodeEnvelope(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if !json.Valid(body) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("validJSON", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if !validJSON(body) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var env webhookEnvelope
			if err := json.Unmarshal(body, &env); err != nil {
				b.Fatal(err)
			}
		}
	})
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
		{"declared, larger than the up-front allocation", bodyPrealloc + 1000, true, false},
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
			got, err := readBody(httptest.NewRecorder(), r)
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

// FuzzValidJSON: validJSON agrees with json.Valid on every input.
func FuzzValidJSON(f *testing.F) {
	for _, s := range append(envelopeSeeds, `0`, `-0.5e+3`, `01`, `-`, `1.`, `1e`, `.5`, `"\u12g4"`, `"\x"`, "\"\x1f\"",
		"\"\xff\"", `[1,]`, `{"a":1,}`, `{"a" 1}`, `[[[]]]`, ` true `, `tru`, `nul`, `{} {}`, `"\/\b\f\n\r\t\\"`) {
		f.Add([]byte(s))
	}
	f.Add(bytes.Repeat([]byte("["), maxNesting))
	f.Add(append(bytes.Repeat([]byte("["), maxNesting), bytes.Repeat([]byte("]"), maxNesting)...))
	f.Add(append(bytes.Repeat([]byte("["), maxNesting+1), bytes.Repeat([]byte("]"), maxNesting+1)...))
	fixtures, _ := filepath.Glob(filepath.Join("..", "githubtest", "testdata", "github-webhooks", "*.json"))
	for _, p := range fixtures {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid %v", b, got, want)
		}
	})
}
