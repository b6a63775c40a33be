// Command buildvulndb turns the OSV files that the golang.org/x/vulndb module
// ships (data/osv) into the database layout govulncheck reads with
// -db file://DIR, so `make vuln` runs offline with only the Go module proxy.
//
// Usage: go run ./internal/tools/buildvulndb OSV_DIR OUT_DIR
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

const epoch = "1970-01-01T00:00:00Z"

// indexEntry is one vulnerability in index/vulns.json.
type indexEntry struct {
	ID       string   `json:"id"`
	Modified string   `json:"modified"`
	Aliases  []string `json:"aliases"`
}

// moduleVuln is one vulnerability of a module in index/modules.json.
type moduleVuln struct {
	ID       string `json:"id"`
	Modified string `json:"modified"`
	Fixed    string `json:"fixed,omitempty"`
}

// osvEntry is the part of an OSV record the index needs.
type osvEntry struct {
	ID       string   `json:"id"`
	Modified string   `json:"modified"`
	Aliases  []string `json:"aliases"`
	Affected []struct {
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
		Ranges []struct {
			Events []map[string]string `json:"events"`
		} `json:"ranges"`
	} `json:"affected"`
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: buildvulndb OSV_DIR OUT_DIR")
		os.Exit(2)
	}
	n, mods, newest, err := build(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildvulndb:", err)
		os.Exit(1)
	}
	fmt.Printf("%d entries, %d modules, newest %s\n", n, mods, newest)
}

// build writes OUT/ID/<id>.json for each OSV file and the three index files.
func build(src, out string) (entries, modules int, newest string, err error) {
	for _, d := range []string{"ID", "index"} {
		if err := os.MkdirAll(filepath.Join(out, d), 0o755); err != nil {
			return 0, 0, "", err
		}
	}
	names, err := os.ReadDir(src)
	if err != nil {
		return 0, 0, "", fmt.Errorf("read OSV directory: %w", err)
	}
	newest = epoch
	var vulns []indexEntry
	mods := map[string][]moduleVuln{}
	for _, de := range names {
		if !strings.HasSuffix(de.Name(), ".json") {
			continue
		}
		e, raw, err := readOSV(filepath.Join(src, de.Name()))
		if err != nil {
			return 0, 0, "", err
		}
		newest = max(newest, e.Modified)
		if err := writeJSON(filepath.Join(out, "ID", e.ID+".json"), raw); err != nil {
			return 0, 0, "", err
		}
		aliases := e.Aliases
		if aliases == nil {
			aliases = []string{}
		}
		vulns = append(vulns, indexEntry{ID: e.ID, Modified: e.Modified, Aliases: aliases})
		for _, a := range e.Affected {
			mv := moduleVuln{ID: e.ID, Modified: e.Modified}
			for _, r := range a.Ranges {
				for _, ev := range r.Events {
					if f, ok := ev["fixed"]; ok {
						mv.Fixed = f
					}
				}
			}
			mods[a.Package.Name] = append(mods[a.Package.Name], mv)
		}
	}
	paths := make([]string, 0, len(mods))
	for p := range mods {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	type module struct {
		Path  string       `json:"path"`
		Vulns []moduleVuln `json:"vulns"`
	}
	index := make([]module, 0, len(paths))
	for _, p := range paths {
		index = append(index, module{Path: p, Vulns: mods[p]})
	}
	if err := writeJSON(filepath.Join(out, "index", "db.json"), map[string]string{"modified": newest}); err != nil {
		return 0, 0, "", err
	}
	if err := writeJSON(filepath.Join(out, "index", "modules.json"), index); err != nil {
		return 0, 0, "", err
	}
	if err := writeJSON(filepath.Join(out, "index", "vulns.json"), vulns); err != nil {
		return 0, 0, "", err
	}
	return len(vulns), len(paths), newest, nil
}

// readOSV decodes one OSV file, replacing the zero times some entries carry
// (govulncheck refuses them) with the epoch or the modified time.
func readOSV(path string) (osvEntry, map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return osvEntry{}, nil, err
	}
	var raw map[string]any
	var e osvEntry
	if err := json.Unmarshal(b, &raw); err != nil {
		return osvEntry{}, nil, fmt.Errorf("decode %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return osvEntry{}, nil, fmt.Errorf("decode %s: %w", path, err)
	}
	if e.Modified == "" || strings.HasPrefix(e.Modified, "0001") {
		e.Modified = epoch
		raw["modified"] = epoch
	}
	if p, _ := raw["published"].(string); p == "" || strings.HasPrefix(p, "0001") {
		raw["published"] = e.Modified
	}
	return e, raw, nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return os.WriteFile(path, b, 0o644)
}
