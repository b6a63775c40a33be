package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

func init() {
	register("healthcheck", "exit 0 if a running tollgate serve answers GET /healthz (for container HEALTHCHECKs)", runHealthcheck)
}

// runHealthcheck lets a container image check the server without curl.
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlags("healthcheck", stdout, stderr,
		[]string{"tollgate healthcheck [--url URL] [--timeout DURATION]"},
		"GETs a running tollgate serve's /healthz, for a container's HEALTHCHECK (no curl needed).",
		"Exit 0 healthy, 1 no answer or not 200 OK, 2 bad usage.",
	)
	target := flags.String("url", "http://127.0.0.1:8080/healthz", "health `URL` to GET")
	timeout := flags.Duration("timeout", 5*time.Second, "give up after `DURATION`")
	if code, done := flags.Parse(args); done {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *target, nil)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate healthcheck: %v\n", err)
		return exitUsage
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate healthcheck: %v\n", err)
		return exitCheckFailed
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "tollgate healthcheck: %s answered %s\n", *target, resp.Status)
		return exitCheckFailed
	}
	fmt.Fprintf(stdout, "ok: %s\n", *target)
	return exitOK
}
