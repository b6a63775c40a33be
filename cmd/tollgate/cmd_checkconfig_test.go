package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckConfig(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yml")
	if err := os.WriteFile(bad, []byte("public_url: ftp://x\nlisten: 8080\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{
			name:     "the example is valid and summarised",
			args:     []string{filepath.Join("..", "..", "testdata", "tollgate.example.yml")},
			wantCode: exitOK,
			wantStdout: []string{
				"tollgate.example.yml: valid (sha256 ",
				"approvers:  backend-leads, platform (1 required, valid 1h)",
			},
		},
		{
			name:     "every problem is printed with its line",
			args:     []string{bad},
			wantCode: exitUsage,
			wantStderr: []string{
				bad + `:1: public_url: invalid URL "ftp://x": want an absolute http:// or https:// URL`,
				bad + `:2: listen: invalid address "8080" (use host:port, e.g. ":8080")`,
				bad + ":1: github: required key is missing",
				bad + ": invalid (",
			},
		},
		{
			name:       "a missing file",
			args:       []string{filepath.Join(t.TempDir(), "none.yml")},
			wantCode:   exitUsage,
			wantStderr: []string{"none.yml: no such file or directory"},
		},
		{
			name:       "two files is bad usage",
			args:       []string{"a.yml", "b.yml"},
			wantCode:   exitUsage,
			wantStderr: []string{"usage: tollgate check-config [FILE]"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := dispatch(context.Background(), append([]string{"check-config"}, tc.args...), &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d\nstderr: %s", code, tc.wantCode, stderr.String())
			}
			for _, want := range tc.wantStdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			for _, want := range tc.wantStderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
		})
	}
}
