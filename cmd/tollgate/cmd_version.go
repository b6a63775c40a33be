package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func init() {
	register("version", "print the version of this binary (--json: with the commit and Go version)", runVersion)
}

// buildInfo is what `tollgate version --json` prints.
type buildInfo struct {
	Version    string `json:"version"`
	Commit     string `json:"commit,omitempty"`
	CommitTime string `json:"commit_time,omitempty"`
	Modified   bool   `json:"modified,omitempty"` // built from a work tree with uncommitted changes
	Go         string `json:"go"`
	Platform   string `json:"platform"`
}

// readBuildInfo returns the version (the -X value, else the module version
// go install recorded) and the commit the go command stamped.
func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if b.Version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		b.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.time":
			b.CommitTime = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", stdout, stderr,
		[]string{"tollgate version [--json]", "tollgate --version"},
		"Prints the version of this binary; --json adds the commit it was built from and the Go version.",
	)
	asJSON := fs.Bool("json", false, "print a JSON object: version, commit, commit_time, modified, go, platform")
	if code, done := fs.Parse(args); done {
		return code
	}
	b := readBuildInfo()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(b); err != nil {
			fmt.Fprintf(stderr, "tollgate version: %v\n", err)
			return exitCheckFailed
		}
		return exitOK
	}
	line := "tollgate " + b.Version
	if b.Commit != "" {
		line += " (commit " + shortCommit(b.Commit)
		if b.Modified {
			line += ", modified"
		}
		line += ")"
	}
	fmt.Fprintf(stdout, "%s %s %s\n", line, b.Go, b.Platform)
	return exitOK
}

// shortCommit is a commit hash's first twelve characters.
func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}
