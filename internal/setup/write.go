package setup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Variables `tollgate setup` writes to the secrets file; the config refers
// to them as ${VAR}.
const (
	EnvWebhookSecret     = "GITHUB_WEBHOOK_SECRET"      // github.webhook_secret
	EnvOAuthClientSecret = "GITHUB_OAUTH_CLIENT_SECRET" // github.oauth_client_secret
)

// appCredentials is what GitHub's manifest conversion hands back once.
type appCredentials struct {
	ID       int64
	Slug     string
	Name     string
	HTMLURL  string
	ClientID string
	// Secrets: written to 0600 files, never printed or logged.
	ClientSecret  string
	WebhookSecret string
	PEM           string
}

// setupTarget is where and how setup writes the app's credentials.
type setupTarget struct {
	ConfigPath string
	EnvPath    string
	Org        string // "" keeps the config's github.org
	GitHub     githubURLs
	PublicURL  string
	// PublicURLVar names the variable public_url refers to (${VAR}); its
	// value is written to the secrets file. "" writes public_url literally.
	PublicURLVar string
}

// setupWritten names the files setup wrote.
type setupWritten struct {
	KeyFile string
	EnvFile string
	EnvVars []string // names only
	Config  string
}

// envValue is what a value must look like to be written unquoted into a
// file read by systemd's EnvironmentFile=, docker --env-file and a shell alike.
var envValue = regexp.MustCompile(`^[A-Za-z0-9._:/@+=-]+$`)

// writeSetup writes the private key (a new 0600 file, never over an
// existing one), the secrets (a 0600 env file) and the config's github
// section. It is called once per code: GitHub shows these secrets once.
func writeSetup(t setupTarget, c appCredentials) (setupWritten, error) {
	vars := [][2]string{{EnvWebhookSecret, c.WebhookSecret}, {EnvOAuthClientSecret, c.ClientSecret}}
	if t.PublicURLVar != "" {
		vars = append(vars, [2]string{t.PublicURLVar, t.PublicURL})
	}
	for _, kv := range vars {
		if !envValue.MatchString(kv[1]) {
			return setupWritten{}, fmt.Errorf("GitHub returned a %s that cannot be written to an environment file safely; regenerate it in the app's settings and set it by hand", kv[0])
		}
	}
	if c.PEM == "" || c.ID <= 0 {
		return setupWritten{}, errors.New("GitHub's answer lacks the app id or private key")
	}
	dir := filepath.Dir(t.ConfigPath)
	var w setupWritten
	keyFile, err := writeNewKeyFile(dir, c.ID, c.PEM)
	if err != nil {
		return w, err
	}
	w.KeyFile = keyFile
	if err := updateEnvFile(t.EnvPath, vars); err != nil {
		return w, err
	}
	w.EnvFile = t.EnvPath
	for _, kv := range vars {
		w.EnvVars = append(w.EnvVars, kv[0])
	}
	if err := updateConfigFile(t, c, filepath.Base(keyFile)); err != nil {
		return w, err
	}
	w.Config = t.ConfigPath
	return w, nil
}

// writeNewKeyFile writes the PEM to github-app-<id>.pem in dir with mode
// 0600, exclusively; if that name is taken it tries github-app-<id>-2.pem …
func writeNewKeyFile(dir string, id int64, pem string) (string, error) {
	for n := 1; n <= 9; n++ {
		name := "github-app-" + strconv.FormatInt(id, 10) + ".pem"
		if n > 1 {
			name = fmt.Sprintf("github-app-%d-%d.pem", id, n)
		}
		path := filepath.Join(dir, name)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("write the GitHub App private key %s: %w", path, err)
		}
		_, werr := f.WriteString(strings.TrimRight(pem, "\n") + "\n")
		if serr := f.Sync(); werr == nil {
			werr = serr
		}
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(path)
			return "", fmt.Errorf("write the GitHub App private key %s: %w", path, werr)
		}
		return path, nil
	}
	return "", fmt.Errorf("write the GitHub App private key: github-app-%d*.pem exist in %s", id, dir)
}

// updateEnvFile sets vars in the env file (KEY=value lines), keeping every
// other line, and leaves it with mode 0600.
func updateEnvFile(path string, vars [][2]string) error {
	var lines []string
	old, err := os.ReadFile(path)
	switch {
	case err == nil:
		lines = strings.Split(strings.TrimRight(string(old), "\n"), "\n")
	case errors.Is(err, fs.ErrNotExist):
		lines = []string{"# Secrets for tollgate.yml, written by 'tollgate setup'. Keep this file 0600.",
			"# systemd: EnvironmentFile=; docker: --env-file; a shell: set -a; . ./tollgate.env; set +a"}
	default:
		return fmt.Errorf("read the secrets file: %w", err)
	}
	for _, kv := range vars {
		line, found := kv[0]+"="+kv[1], false
		for i, l := range lines {
			if name, _, ok := strings.Cut(l, "="); ok && strings.TrimSpace(strings.TrimPrefix(name, "export ")) == kv[0] {
				lines[i], found = line, true
			}
		}
		if !found {
			lines = append(lines, line)
		}
	}
	return writeFileAtomic(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
}

// updateConfigFile points the config's github section at the new app.
func updateConfigFile(t setupTarget, c appCredentials, keyFile string) error {
	doc, mode, err := readRawConfig(t.ConfigPath)
	if err != nil {
		return err
	}
	text, err := os.ReadFile(t.ConfigPath)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	edits := []configEdit{
		{section: "github", key: "app_id", value: strconv.FormatInt(c.ID, 10)},
		{section: "github", key: "private_key", del: true},
		{section: "github", key: "private_key_file", value: keyFile},
		{section: "github", key: "webhook_secret", value: "${" + EnvWebhookSecret + "}"},
		{section: "github", key: "oauth_client_id", value: c.ClientID},
		{section: "github", key: "oauth_client_secret", value: "${" + EnvOAuthClientSecret + "}"},
	}
	if t.PublicURLVar == "" {
		edits = append([]configEdit{{key: "public_url", value: t.PublicURL}}, edits...)
	}
	if t.Org != "" {
		edits = append(edits, configEdit{section: "github", key: "org", value: t.Org})
	}
	if t.GitHub.isDotCom() {
		edits = append(edits, configEdit{section: "github", key: "api_url", del: true},
			configEdit{section: "github", key: "web_url", del: true})
	} else {
		edits = append(edits, configEdit{section: "github", key: "api_url", value: t.GitHub.API},
			configEdit{section: "github", key: "web_url", value: t.GitHub.Web})
	}
	out, err := editConfigText(string(text), doc, edits)
	if err != nil {
		return fmt.Errorf("update config %s: %w", t.ConfigPath, err)
	}
	return writeFileAtomic(t.ConfigPath, []byte(out), mode)
}

// writeFileAtomic replaces path with data through a synced temp file in the
// same directory, so a crash leaves the old or the new file, never half.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(data)
	if err := tmp.Chmod(mode); werr == nil {
		werr = err
	}
	if err := tmp.Sync(); werr == nil {
		werr = err
	}
	if err := tmp.Close(); werr == nil {
		werr = err
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}
