package setup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEditConfigText(t *testing.T) {
	setApp := []configEdit{
		{section: "github", key: "app_id", value: "42"},
		{section: "github", key: "private_key", del: true},
		{section: "github", key: "private_key_file", value: "github-app-42.pem"},
	}
	tests := []struct {
		name  string
		in    string
		edits []configEdit
		want  string
	}{
		{
			name:  "values replaced in place, comments and blank lines kept",
			in:    "# head\npublic_url: \"https://old\"   # where\n\ngithub:\n  app_id: ${GITHUB_APP_ID}  # id\n  private_key_file: 'old.pem'\n\nrepositories: {}\n",
			edits: append([]configEdit{{key: "public_url", value: "https://new"}}, setApp...),
			want:  "# head\npublic_url: https://new   # where\n\ngithub:\n  app_id: 42  # id\n  private_key_file: github-app-42.pem\n\nrepositories: {}\n",
		},
		{
			name:  "missing keys added at the end of their section",
			in:    "github:\n    org: acme\nrepositories: {}\n",
			edits: setApp,
			want:  "github:\n    org: acme\n    app_id: 42\n    private_key_file: github-app-42.pem\nrepositories: {}\n",
		},
		{
			name:  "inline private key (block scalar) removed",
			in:    "github:\n  private_key: |\n    -----BEGIN KEY-----\n    abc\n    -----END KEY-----\n  org: acme\n",
			edits: setApp,
			want:  "github:\n  org: acme\n  app_id: 42\n  private_key_file: github-app-42.pem\n",
		},
		{
			name:  "inline private key as the last key removed",
			in:    "github:\n  org: acme\n  private_key: |\n    -----BEGIN KEY-----\n    abc\nlisten: \":8080\"\n",
			edits: setApp,
			want:  "github:\n  org: acme\n  app_id: 42\n  private_key_file: github-app-42.pem\nlisten: \":8080\"\n",
		},
		{
			name:  "missing section appended",
			in:    "listen: \":8080\"",
			edits: setApp,
			want:  "listen: \":8080\"\n\ngithub:\n  app_id: 42\n  private_key_file: github-app-42.pem\n",
		},
		{
			name:  "empty section filled",
			in:    "github:\n# later\nlisten: x\n",
			edits: setApp,
			want:  "github:\n  app_id: 42\n  private_key_file: github-app-42.pem\n# later\nlisten: x\n",
		},
		{
			name:  "deleting an absent key changes nothing",
			in:    "github:\n  org: acme\n",
			edits: []configEdit{{section: "github", key: "api_url", del: true}},
			want:  "github:\n  org: acme\n",
		},
		{
			name:  "quoted value holding a hash",
			in:    "github:\n  webhook_secret: \"a # b\" # c\n",
			edits: []configEdit{{section: "github", key: "webhook_secret", value: "${GITHUB_WEBHOOK_SECRET}"}},
			want:  "github:\n  webhook_secret: ${GITHUB_WEBHOOK_SECRET} # c\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t.yml")
			if err := os.WriteFile(path, []byte(tc.in), 0o644); err != nil {
				t.Fatal(err)
			}
			doc, _, err := readRawConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := editConfigText(tc.in, doc, tc.edits)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestEditConfigTextRefusesWhatItCannotEditSafely(t *testing.T) {
	tests := []struct{ name, in, wantErr string }{
		{"flow mapping", "github: {org: acme}\n", "expected a block mapping"},
		{"multi-line value", "github:\n  app_id: >\n    42\n", "expected a one-line value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t.yml")
			if err := os.WriteFile(path, []byte(tc.in), 0o644); err != nil {
				t.Fatal(err)
			}
			doc, _, err := readRawConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = editConfigText(tc.in, doc, []configEdit{{section: "github", key: "app_id", value: "1"}})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
