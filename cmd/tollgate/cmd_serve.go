package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/server"
)

func init() {
	register("serve", "run the GitHub App and Slack bot: webhooks, deploy workers, log pages, metrics", runServe)
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve", stderr,
		"usage: tollgate serve --config tollgate.yml [flags]",
		"Serves POST /webhooks/github, /slack/commands, /slack/interactions, /oauth/github/*,",
		"GET /healthz, /readyz, /metrics and /deployments/{id}. Logs are JSON lines on stderr.",
		"SIGHUP reloads the configuration; SIGTERM or SIGINT stops after running deploys finish.",
	)
	configPath := fs.String("config", "", "tollgate.yml `FILE` (required)")
	grace := fs.Duration("shutdown-grace", server.DefaultShutdownGrace, "how long running deploys may finish after SIGTERM before they are marked interrupted")
	workers := fs.Int("workers", server.DefaultDeployWorkers, "deploy workers (one deploy per environment runs at a time regardless)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if !parseFlags(fs, args) {
		return exitUsage
	}
	if *configPath == "" || *workers < 1 || *grace < 0 {
		fs.Usage()
		return exitUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "tollgate serve: --log-level %q: want debug, info, warn or error\n", *logLevel)
		return exitUsage
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	reload := make(chan struct{}, 1)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()
	return serve(ctx, log, stderr, server.RunOptions{ConfigPath: *configPath, Workers: *workers, ShutdownGrace: *grace, Reload: reload})
}

// serve loads the configuration, builds the server and runs it until ctx
// ends. It returns the exit code: 2 for a configuration that cannot be
// used (every problem printed), 1 when serving failed, 0 after a clean stop.
func serve(ctx context.Context, log *slog.Logger, stderr io.Writer, opts server.RunOptions) int {
	cfg, warnings, err := config.Load(opts.ConfigPath)
	for _, w := range warnings {
		log.Warn("configuration", "file", w.File, "line", w.Line, "key", w.Key, "warning", w.Message)
	}
	if err != nil {
		fmt.Fprintf(stderr, "tollgate serve: invalid configuration:\n%v\n", err)
		return exitUsage
	}
	srv, err := server.New(ctx, cfg, server.Options{Logger: log, Version: version})
	if errors.Is(err, server.ErrConfig) {
		fmt.Fprintf(stderr, "tollgate serve: invalid configuration:\n%v\n", err)
		return exitUsage
	}
	if err != nil {
		log.Error("starting", "err", err)
		return exitCheckFailed
	}
	defer srv.Close()
	if err := srv.Run(ctx, opts); err != nil {
		log.Error("serving", "err", err)
		return exitCheckFailed
	}
	log.Info("stopped")
	return exitOK
}
