// Command withpostgres runs a command with TOLLGATE_TEST_POSTGRES naming a
// throwaway PostgreSQL cluster (initdb in a temporary directory, a free
// port, trust authentication, as the postgres user when run as root),
// started for the command and removed after it: `make test` runs the
// whole suite against one server instead of a cluster per test process.
//
//	go run ./internal/tools/withpostgres -- go test ./...
//
// When TOLLGATE_TEST_POSTGRES is already set, or TOLLGATE_SKIP_POSTGRES=1,
// the command runs as it is. When PostgreSQL cannot be found or started it
// fails, saying what to install: CI never skips the PostgreSQL tests.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/tollgate-dev/tollgate/store/storetest"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: withpostgres [--] COMMAND [ARG]...")
		os.Exit(2)
	}
	os.Exit(run(args))
}

func run(args []string) int {
	env := os.Environ()
	if os.Getenv(storetest.EnvPostgres) == "" && os.Getenv("TOLLGATE_SKIP_POSTGRES") != "1" {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		c, err := storetest.StartCluster(ctx)
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "withpostgres: %v\n\n%s\n", err, storetest.InstallHint)
			return 1
		}
		defer c.Stop()
		fmt.Fprintf(os.Stderr, "withpostgres: PostgreSQL for the tests at %s\n", c.DSN)
		env = append(env, storetest.EnvPostgres+"="+c.DSN)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "withpostgres: %v\n", err)
		return 1
	}
	// A signal is passed on to the command; the cluster stops once it ends.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	err := cmd.Wait()
	signal.Stop(sigs)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode()
	default:
		fmt.Fprintf(os.Stderr, "withpostgres: %v\n", err)
		return 1
	}
}
