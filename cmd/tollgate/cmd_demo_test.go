package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `tollgate demo` runs tollgate-demo from PATH, passing its arguments and
// its exit code through; without one it says how to run the demo (exit 2).
func TestDemoCommandRunsTheDemoBinary(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	var stdout, stderr bytes.Buffer
	if code := dispatch(context.Background(), []string{"demo", "--exit"}, &stdout, &stderr); code != exitUsage {
		t.Fatalf("without tollgate-demo: exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr.String(), "go run ./cmd/tollgate-demo") {
		t.Errorf("without tollgate-demo the message does not say how to run the demo:\n%s", stderr.String())
	}

	script := "#!/bin/sh\necho \"demo ran with $*\"\nexit 3\n"
	if err := os.WriteFile(filepath.Join(dir, demoBinary), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := dispatch(context.Background(), []string{"demo", "--exit", "--data", "d"}, &stdout, &stderr); code != 3 {
		t.Fatalf("with tollgate-demo on PATH: exit %d, want the demo's 3 (stderr %q)", code, stderr.String())
	}
	if got := stdout.String(); got != "demo ran with --exit --data d\n" {
		t.Errorf("the demo's output = %q", got)
	}
}
