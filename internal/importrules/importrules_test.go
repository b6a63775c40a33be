// Package importrules_test holds the architecture's import rules
// (docs/architecture.md) as a test: dependencies point inward, the domain
// stays pure, and no fake reaches the production binary.
package importrules_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/tollgate-dev/tollgate"

// pkg is one package of the module as `go list` sees it, without tests.
type pkg struct {
	path    string
	imports []string // direct imports
	deps    []string // every package it links, directly or not
}

// listPackages runs `go list -deps` over the module; standard-library
// packages are recorded in std.
func listPackages(t *testing.T) (map[string]pkg, map[string]bool) {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}|{{.Standard}}|{{join .Imports \",\"}}|{{join .Deps \",\"}}", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs, std := map[string]pkg{}, map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "|")
		if len(f) != 4 {
			t.Fatalf("unexpected go list line %q", sc.Text())
		}
		if f[1] == "true" {
			std[f[0]] = true
			continue
		}
		if f[0] == module || strings.HasPrefix(f[0], module+"/") {
			pkgs[f[0]] = pkg{path: f[0], imports: split(f[2]), deps: split(f[3])}
		}
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no package of the module")
	}
	return pkgs, std
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// rel is a package path relative to the module ("bot", "integrations/slack").
func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

// under reports whether path is dir or a package below it.
func under(path, dir string) bool {
	r := rel(path)
	return r == dir || strings.HasPrefix(r, dir+"/")
}

// isFake reports whether a module package is a test double (githubtest,
// slacktest, sshtest, audittest...).
func isFake(path string) bool {
	if !strings.HasPrefix(path, module+"/") {
		return false
	}
	last := path[strings.LastIndex(path, "/")+1:]
	// Fakes follow httptest's naming (githubtest, sshtest, storetest...);
	// deploy/attest only happens to end in the same letters.
	return strings.HasSuffix(last, "test") && last != "attest"
}

// integrationOf returns the integration a package belongs to
// ("integrations/slack"), or "".
func integrationOf(path string) string {
	parts := strings.Split(rel(path), "/")
	if len(parts) < 2 || parts[0] != "integrations" {
		return ""
	}
	return "integrations/" + parts[1]
}

// The domain imports only the standard library.
func TestBotImportsOnlyTheStandardLibrary(t *testing.T) {
	pkgs, std := listPackages(t)
	for _, p := range pkgs {
		if !under(p.path, "bot") {
			continue
		}
		for _, d := range p.deps {
			if !std[d] {
				t.Errorf("%s links %s: the domain imports only the standard library", rel(p.path), d)
			}
		}
	}
}

// The deploy engine knows nothing of GitHub or Slack.
func TestDeployKnowsNoForgeOrChat(t *testing.T) {
	pkgs, _ := listPackages(t)
	for _, p := range pkgs {
		if !under(p.path, "deploy") {
			continue
		}
		for _, d := range p.deps {
			if integrationOf(d) != "" || strings.Contains(d, "go-github") || strings.Contains(d, "ghinstallation") ||
				strings.Contains(d, "slack-go") {
				t.Errorf("%s links %s: deploy/ knows nothing of GitHub or Slack", rel(p.path), d)
			}
		}
	}
}

// The tollgate binary links no fake (githubtest, slacktest, sshtest...):
// the demo, which needs them, is cmd/tollgate-demo.
func TestTollgateLinksNoFake(t *testing.T) {
	pkgs, _ := listPackages(t)
	p, ok := pkgs[module+"/cmd/tollgate"]
	if !ok {
		t.Fatal("cmd/tollgate not found")
	}
	for _, d := range append([]string{p.path}, p.deps...) {
		if isFake(d) || d == module+"/internal/demo" {
			t.Errorf("cmd/tollgate links %s: the production binary links no fake", rel(d))
		}
	}
}

// allowedFromIntegrations are the storage packages an integration may
// import: the audit log's record and proof types (store/audit), which the
// web pages show. Storage itself (store) stays out of reach.
var allowedFromIntegrations = map[string]bool{module + "/store/audit": true}

// No integration imports another integration, the store or the
// configuration: each turns
// requests into bot calls and bot notifications into API calls, through
// ports (internal/inbox, internal/linkstate) the server wires to the store.
// The fakes (githubtest, slacktest) are test doubles, not integrations.
func TestIntegrationsImportNoOtherIntegrationNorStore(t *testing.T) {
	pkgs, _ := listPackages(t)
	for _, p := range pkgs {
		own := integrationOf(p.path)
		if own == "" || isFake(p.path) {
			continue
		}
		for _, d := range p.imports {
			other := integrationOf(d)
			switch {
			case other != "" && other != own:
				t.Errorf("%s imports %s: an integration imports no other integration", rel(p.path), rel(d))
			case under(d, "store") && !allowedFromIntegrations[d]:
				t.Errorf("%s imports %s: an integration imports no store", rel(p.path), rel(d))
			case under(d, "config"):
				t.Errorf("%s imports %s: transports never read the configuration; they ask bot", rel(p.path), rel(d))
			}
		}
	}
}

// doctor checks through the adapters: it builds no GitHub or Slack client
// of its own.
func TestDoctorUsesTheAdapters(t *testing.T) {
	pkgs, _ := listPackages(t)
	p, ok := pkgs[module+"/doctor"]
	if !ok {
		t.Fatal("doctor not found")
	}
	for _, d := range p.imports {
		if strings.Contains(d, "go-github") || strings.Contains(d, "ghinstallation") || strings.Contains(d, "slack-go") {
			t.Errorf("doctor imports %s: its checks go through integrations/github and integrations/slack", d)
		}
	}
}

// TestCommandIsWiringOnly keeps cmd/tollgate to flags and wiring: the
// running application lives in server/, so its non-test code stays under
// 2,500 lines (issue 18); a command that grows past it belongs in a package.
func TestCommandIsWiringOnly(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "cmd", "tollgate", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("listing cmd/tollgate: %v (%d files)", err, len(files))
	}
	lines := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines += bytes.Count(b, []byte("\n"))
	}
	if lines >= 2500 {
		t.Errorf("cmd/tollgate has %d lines of non-test code, want under 2,500: move logic into server/, config/ or a package of its own", lines)
	}
}
