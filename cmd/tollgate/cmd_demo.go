package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

func init() {
	register("demo", "run the tollgate-demo binary: fake GitHub, Slack and SSH servers and a deploy story", runDemo)
}

// demoBinary is the demo's own command; the tollgate binary links no fake.
const demoBinary = "tollgate-demo"

// demoHowTo says how to run the demo when its binary cannot be found.
const demoHowTo = "the demo is a separate binary, so that tollgate links no fake server.\n" +
	"From a clone of the repository:   go run ./cmd/tollgate-demo [--exit] [--data DIR] [--listen ADDR]\n" +
	"Or build it beside tollgate:       go build -o bin/ ./cmd/tollgate ./cmd/tollgate-demo"

// runDemo runs tollgate-demo with args: the one beside this executable,
// else the one on PATH. Without one it says how to run the demo (exit 2).
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	bin, err := findDemo()
	if err != nil {
		fmt.Fprintf(stderr, "tollgate demo: %v: %s\n", err, demoHowTo)
		return exitUsage
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) } // let it stop its server
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode()
	case ctx.Err() != nil:
		return exitOK // stopped by Ctrl-C, as the demo itself exits
	default:
		fmt.Fprintf(stderr, "tollgate demo: running %s: %v\n", bin, err)
		return exitCheckFailed
	}
}

// findDemo looks for tollgate-demo beside the running executable, then on PATH.
func findDemo() (string, error) {
	if self, err := os.Executable(); err == nil {
		beside := filepath.Join(filepath.Dir(self), demoBinary)
		if fi, err := os.Stat(beside); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return beside, nil
		}
	}
	bin, err := exec.LookPath(demoBinary)
	if err != nil {
		return "", fmt.Errorf("%s is neither beside this tollgate nor on PATH", demoBinary)
	}
	return bin, nil
}
