package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/store/audit/audittest"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = dispatch(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestVerifyUntouchedLogOK(t *testing.T) { storetest.Run(t, testVerifyUntouchedLogOK) }

func testVerifyUntouchedLogOK(t *testing.T) {
	f := audittest.Build(t, audittest.TamperSize, audittest.TamperEvery)
	code, out, errOut := runCLI(t, "verify", "--database", f.Path, "--public-key", f.Keys.PublicKeyFile)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"entries:         251\n",
		"checkpoints:     2, every signature valid for key test-key\n",
		"last checkpoint: tree size 200, signed 2025-03-01T",
		"unsigned tail:   51 entries after the last signed checkpoint (seq 200..250)",
		"could have\n                 forged or rewritten them",
		"OK (signed through seq 199; 51 unsigned entries after it)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestVerifyDetectsTamperingThroughCLI(t *testing.T) {
	storetest.Run(t, testVerifyDetectsTamperingThroughCLI)
}

func testVerifyDetectsTamperingThroughCLI(t *testing.T) {
	for _, tc := range audittest.Tampers() {
		t.Run(tc.Name, func(t *testing.T) {
			f := audittest.Build(t, audittest.TamperSize, audittest.TamperEvery)
			tc.Apply(t, audittest.OpenRaw(t, f.Path))
			code, out, errOut := runCLI(t, "verify", "--database", f.Path, "--public-key", f.Keys.PublicKeyFile)
			if code != exitCheckFailed {
				t.Fatalf("exit %d, want %d\n%s%s", code, exitCheckFailed, out, errOut)
			}
			if !strings.Contains(out, "FAIL: "+tc.Want) {
				t.Fatalf("output lacks %q:\n%s", "FAIL: "+tc.Want, out)
			}
			if strings.Contains(out, "\nOK") {
				t.Fatalf("a tampered log printed OK:\n%s", out)
			}
		})
	}
}

func TestVerifyWithConfig(t *testing.T) { storetest.Run(t, testVerifyWithConfig) }

func testVerifyWithConfig(t *testing.T) {
	f := audittest.Build(t, 30, 10)
	cfg := writeTestConfig(t, f)
	code, out, errOut := runCLI(t, "verify", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "entries:         30\n") || !strings.HasSuffix(out, "\nOK\n") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

func TestVerifyUsageErrors(t *testing.T) {
	f := audittest.Build(t, 3, 0)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no database", []string{"verify", "--public-key", f.Keys.PublicKeyFile}, "no database"},
		{"no public key", []string{"verify", "--database", f.Path}, "no public key"},
		{"missing database file", []string{"verify", "--database", f.Path + ".missing", "--public-key", f.Keys.PublicKeyFile}, "open store"},
		{"not a key", []string{"verify", "--database", f.Path, "--public-key", f.Path}, "audit public key"},
		{"stray argument", []string{"verify", "extra"}, "usage: tollgate verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != exitUsage || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, want %d with %q\n%s%s", code, exitUsage, tt.want, out, errOut)
			}
		})
	}
}
