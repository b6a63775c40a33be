// Command tollgate-demo runs Tollgate against fake GitHub, Slack and SSH
// servers on localhost and plays a deploy story: `go run ./cmd/tollgate-demo`.
// It is a binary of its own so that the tollgate binary links no fake.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tollgate-dev/tollgate/internal/demo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := demo.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
