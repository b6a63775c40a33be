package deploy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Server is one SSH target of an environment.
type Server struct {
	Host string
	Port int // 0 means 22
	User string
	// Path, if set, overrides Target.Path on this server.
	Path string
}

// Addr returns host:port, the name used in every error and result.
func (s Server) Addr() string {
	port := s.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(s.Host, strconv.Itoa(port))
}

// Hooks are shell commands run on every server inside a release directory.
type Hooks struct {
	BeforeSwitch []string
	AfterSwitch  []string
}

// HealthCheck decides whether a release that went live works. Either URL
// (checked from this process, expecting 2xx; "{host}" is replaced by the
// server's host) or Command (run on the server in <path>/current) is set.
type HealthCheck struct {
	URL      string
	Command  string
	Timeout  time.Duration // per attempt; 0 means 10s
	Retries  int           // attempts after the first failed one
	Interval time.Duration // between attempts; 0 means 2s
}

// Target is everything the engine needs to reach one environment's servers.
type Target struct {
	Environment    string
	Servers        []Server
	Signer         ssh.Signer // the environment's own private key
	KnownHostsFile string     // the environment's own known_hosts; always enforced
	Path           string     // absolute deploy path on every server
	KeepReleases   int        // 0 means 5
	MaxParallel    int        // servers worked on at once; 0 means all
	Shared         []string   // paths linked from <path>/shared; "dir/" creates a missing directory
	Hooks          Hooks
	HealthCheck    HealthCheck
	Secrets        []string // values redacted from hook output and errors
	DialTimeout    time.Duration
	CommandTimeout time.Duration // per remote command, upload included; 0 means 10m
	LockWait       time.Duration // how long to wait for another deploy's lock; 0 fails at once
	// UploadBytesPerSecond limits each server's upload rate; 0 means unlimited.
	UploadBytesPerSecond int64
	// Ciphers, if set, restricts the SSH ciphers offered (e.g. aes128-gcm@openssh.com).
	Ciphers []string
	// FetchChangedLimit is the share (0 to 1) of a release's file bytes a
	// ListedSource may fetch file by file; above it the whole tarball is
	// read. 0 means DefaultFetchChangedLimit; negative always reads the
	// tarball.
	FetchChangedLimit float64
	// RecordedManifest returns the manifest digest ("sha256:<hex>")
	// Tollgate recorded when it deployed release; "" when it has no record.
	// A rollback refuses a release whose manifest on a server differs.
	// nil: no record is consulted (the files are still checked against the
	// server's manifest).
	RecordedManifest func(ctx context.Context, release string) (string, error)
}

// DefaultFetchChangedLimit is Target.FetchChangedLimit's default: fetching
// a fifth of a release file by file (a round trip per file, in parallel)
// costs about what downloading the whole tarball does.
const DefaultFetchChangedLimit = 0.2

const (
	defaultKeepReleases   = 5
	defaultDialTimeout    = 15 * time.Second
	defaultCommandTimeout = 10 * time.Minute
	defaultHealthTimeout  = 10 * time.Second
	defaultHealthInterval = 2 * time.Second
)

var (
	releaseNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	shaRe         = regexp.MustCompile(`^[0-9a-f]{7,64}$`)
	userRe        = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$`)
	hostRe        = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,253}$`)
)

// validate checks the target and fills in defaults on a copy.
func (t Target) validate() (Target, error) {
	var errs []error
	if len(t.Servers) == 0 {
		errs = append(errs, errors.New("no servers"))
	}
	for i, s := range t.Servers {
		if !hostRe.MatchString(s.Host) || strings.HasPrefix(s.Host, "-") {
			errs = append(errs, fmt.Errorf("server %d: invalid host %q", i, s.Host))
		}
		if s.Port < 0 || s.Port > 65535 {
			errs = append(errs, fmt.Errorf("server %s: invalid port %d", s.Addr(), s.Port))
		}
		if s.Path != "" {
			if err := validateDeployPath(s.Path); err != nil {
				errs = append(errs, fmt.Errorf("server %s: %w", s.Addr(), err))
			}
		}
		if !userRe.MatchString(s.User) {
			errs = append(errs, fmt.Errorf("server %s: invalid user %q", s.Addr(), s.User))
		}
	}
	if t.Signer == nil {
		errs = append(errs, errors.New("no SSH private key"))
	}
	if t.KnownHostsFile == "" {
		errs = append(errs, errors.New("no known_hosts file: host keys are always checked"))
	}
	if t.Path != "" || !allHavePath(t.Servers) {
		if err := validateDeployPath(t.Path); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range t.Shared {
		p := strings.TrimSuffix(s, "/")
		if err := validateRelPath(p); err != nil {
			errs = append(errs, fmt.Errorf("shared path %q: %w", s, err))
		}
	}
	for _, h := range append(append([]string{}, t.Hooks.BeforeSwitch...), t.Hooks.AfterSwitch...) {
		if strings.TrimSpace(h) == "" {
			errs = append(errs, errors.New("empty hook command"))
		}
	}
	hc := t.HealthCheck
	if hc.URL != "" && hc.Command != "" {
		errs = append(errs, errors.New("health check has both url and command"))
	}
	if hc.URL != "" {
		u, err := url.Parse(strings.ReplaceAll(hc.URL, "{host}", "host"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("health check url %q is not an http(s) URL", hc.URL))
		}
	}
	if hc.Retries < 0 || t.KeepReleases < 0 || t.MaxParallel < 0 {
		errs = append(errs, errors.New("negative retries, keep_releases or max_parallel"))
	}
	if t.FetchChangedLimit > 1 {
		errs = append(errs, fmt.Errorf("fetch_changed_limit %v is over 1 (100%%)", t.FetchChangedLimit))
	}
	if err := errors.Join(errs...); err != nil {
		return t, fmt.Errorf("deploy target %q: %w", t.Environment, err)
	}
	if t.KeepReleases == 0 {
		t.KeepReleases = defaultKeepReleases
	}
	if t.FetchChangedLimit == 0 {
		t.FetchChangedLimit = DefaultFetchChangedLimit
	}
	if t.MaxParallel == 0 || t.MaxParallel > len(t.Servers) {
		t.MaxParallel = len(t.Servers)
	}
	if t.DialTimeout <= 0 {
		t.DialTimeout = defaultDialTimeout
	}
	if t.CommandTimeout <= 0 {
		t.CommandTimeout = defaultCommandTimeout
	}
	if t.HealthCheck.Timeout <= 0 {
		t.HealthCheck.Timeout = defaultHealthTimeout
	}
	if t.HealthCheck.Interval <= 0 {
		t.HealthCheck.Interval = defaultHealthInterval
	}
	return t, nil
}

// validateDeployPath accepts an absolute, clean path without control characters.
func validateDeployPath(p string) error {
	switch {
	case p == "":
		return errors.New("no deploy path")
	case !path.IsAbs(p):
		return fmt.Errorf("deploy path %q is not absolute", p)
	case path.Clean(p) != p || p == "/":
		return fmt.Errorf("deploy path %q is not a clean directory path", p)
	case hasControl(p):
		return fmt.Errorf("deploy path %q contains control characters", p)
	}
	return nil
}

// validateRelPath accepts a clean relative path that stays inside its root.
func validateRelPath(p string) error {
	switch {
	case p == "" || p == ".":
		return errors.New("empty path")
	case strings.HasPrefix(p, "/"):
		return errors.New("absolute path")
	case hasControl(p):
		return errors.New("control characters in path")
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return errors.New("path has a \"..\" component")
		}
		if c == "" || c == "." {
			return errors.New("path is not clean")
		}
	}
	return nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// ReleaseSpec names what is being deployed.
type ReleaseSpec struct {
	SHA  string // full or abbreviated (>= 7) lowercase hex commit id
	Name string // optional; default <UTC yyyymmddHHMMSS>-<sha7>
	Ref  string // optional, informational (branch, tag); given to hooks as TOLLGATE_REF
}

func (r ReleaseSpec) validate(now time.Time) (ReleaseSpec, error) {
	if !shaRe.MatchString(r.SHA) {
		return r, fmt.Errorf("release sha %q is not a lowercase hex commit id", r.SHA)
	}
	if r.Name == "" {
		r.Name = now.UTC().Format("20060102150405") + "-" + r.SHA[:7]
	}
	if !releaseNameRe.MatchString(r.Name) {
		return r, fmt.Errorf("release name %q: only letters, digits, dot, underscore and hyphen are allowed", r.Name)
	}
	if hasControl(r.Ref) || len(r.Ref) > 1024 {
		return r, fmt.Errorf("release ref %q contains control characters or is too long", r.Ref)
	}
	return r, nil
}

func allHavePath(servers []Server) bool {
	for _, s := range servers {
		if s.Path == "" {
			return false
		}
	}
	return len(servers) > 0
}
