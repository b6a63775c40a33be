package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/doctor"
)

func init() {
	register("doctor", "check the installation against the SOC 2 checklist; print each failing item with its fix (exit 1 if any fails)", runDoctor)
}

func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("doctor", stderr,
		"usage: tollgate doctor [--config FILE] [--env-file FILE] [--timeout 10s]",
		"Checks the configuration, key files, servers, GitHub App, organisation, branch protection,",
		"anchor repository, Slack, clock, inbox, emergency and access reviews, and prints the SOC 2",
		"checklist with the fix for each failing item. Exit 0 all pass, 1 something fails, 2 bad usage.",
	)
	cfgPath := fs.String("config", "tollgate.yml", "configuration `FILE`")
	timeout := fs.Duration("timeout", 10*time.Second, "time limit of each network check")
	envFile := fs.String("env-file", "", "secrets `FILE` whose mode to check (default: tollgate.env next to the config, if any)")
	if !parseFlags(fs, args) {
		return exitUsage
	}
	data, err := os.ReadFile(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate doctor: %v\n", err)
		return exitUsage
	}
	// Parse, not Load: the file checks Load makes (permissions, existence)
	// are reported below one by one, each with its fix.
	cfg, _, err := config.Parse(*cfgPath, data, os.LookupEnv)
	if err != nil {
		fmt.Fprintf(stdout, "✗ configuration %s does not load\n%v\n    fix: correct the lines named above; `tollgate check-config` explains each key\n", *cfgPath, err)
		return exitUsage
	}
	if *envFile == "" {
		*envFile = filepath.Join(filepath.Dir(*cfgPath), "tollgate.env")
	}
	if doctor.Run(ctx, cfg, doctor.Options{Timeout: *timeout, EnvFile: *envFile}).Write(stdout, *cfgPath) > 0 {
		return exitCheckFailed
	}
	return exitOK
}
