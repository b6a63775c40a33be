package config

import (
	"fmt"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"
)

// targets decodes where and how an environment is deployed.
func (d *decoder) targets(s *section, env *Environment) {
	env.KeepReleases = DefaultKeepReleases
	env.MaxParallel = DefaultMaxParallel
	d.servers(s, env)

	ssh := d.subsection(s, "ssh", "private_key_file", "known_hosts_file")
	if s.has("ssh") {
		if _, ok := ssh.require("private_key_file"); ok {
			env.SSH.PrivateKeyFile = d.filePath(ssh, "private_key_file", fileRef{secret: true, sshKey: true, env: env.String()})
		}
		if _, ok := ssh.require("known_hosts_file"); ok {
			env.SSH.KnownHostsFile = d.filePath(ssh, "known_hosts_file", fileRef{})
		}
	}
	ownPaths := everyServerHasPath(env.Servers)
	env.Path = d.deployPath(s)
	for i := range env.Servers {
		if env.Servers[i].Path == "" {
			env.Servers[i].Path = env.Path
		}
	}
	if v, ok := s.integer("keep_releases"); ok {
		if v < 2 || v > 1000 {
			d.errorf(s.f["keep_releases"].val.Line, join(s.path, "keep_releases"), "must be between 2 and 1000 (the current release and one to roll back to), got %d", v)
		} else {
			env.KeepReleases = int(v)
		}
	}
	d.deployTuning(s, env)
	env.Shared = s.strings("shared")
	for i, p := range env.Shared {
		if path.IsAbs(p) || path.Clean(p) != p || p == "." || p == ".." || strings.HasPrefix(p, "../") {
			d.errorf(s.f["shared"].val.Line, index(join(s.path, "shared"), i), "shared path %q must be relative to the release, clean and inside it", p)
		}
	}
	hooks := d.subsection(s, "hooks", "before_switch", "after_switch")
	env.Hooks = Hooks{BeforeSwitch: hooks.strings("before_switch"), AfterSwitch: hooks.strings("after_switch")}
	if s.has("health_check") {
		env.HealthCheck = d.healthCheck(s)
	}
	if e, ok := s.get("environment_url"); ok {
		if v, ok := d.stringValue(e.path, e.val); ok {
			env.EnvironmentURL, _ = d.httpURL(e.path, e.val.Line, v)
		}
	}
	if e, ok := s.get("secrets"); ok {
		items, _ := d.seq(e.path, e.val)
		for i, item := range items {
			if v, ok := d.stringValue(index(e.path, i), item); ok {
				if len(v) < 4 {
					d.warnf(item.Line, index(e.path, i), "secret is shorter than 4 characters; redacting it will mangle hook output")
				}
				env.Secrets = append(env.Secrets, NewSecret(v))
			}
		}
	}
	d.targetRules(s, env, ownPaths)
}

// deployPath decodes the path key of s: an absolute, clean directory
// other than the root. It returns "" when the key is absent or bad.
func (d *decoder) deployPath(s *section) string {
	e, ok := s.get("path")
	if !ok {
		return ""
	}
	v, ok := d.stringValue(e.path, e.val)
	if !ok {
		return ""
	}
	switch {
	case !path.IsAbs(v):
		d.errorf(e.val.Line, e.path, "path %q must be absolute", v)
	case path.Clean(v) != v:
		d.errorf(e.val.Line, e.path, "path %q is not clean (did you mean %q?)", v, path.Clean(v))
	case v == "/":
		d.errorf(e.val.Line, e.path, "path must not be the root directory")
	default:
		return v
	}
	return ""
}

// Target types: who carries out a deploy of the environment.
const (
	// TargetSSH: Tollgate deploys over SSH to the environment's servers.
	TargetSSH = "ssh"
	// TargetActionsGate: GitHub Actions deploys; Tollgate gates the job
	// through a deployment protection rule and has no servers.
	TargetActionsGate = "actions_gate"
)

// targetType reads type (ssh, actions_gate) and its older spelling
// gate_only: true, which means actions_gate.
func (d *decoder) targetType(s *section, env *Environment) {
	env.Type = TargetSSH
	gateOnly := s.boolean("gate_only")
	if e, ok := s.get("type"); ok {
		v, good := d.stringValue(e.path, e.val)
		switch {
		case !good:
		case v != TargetSSH && v != TargetActionsGate:
			hint := fmt.Sprintf("want %s or %s", TargetSSH, TargetActionsGate)
			if best, close := closest(v, []string{TargetSSH, TargetActionsGate}); close {
				hint = fmt.Sprintf("did you mean %q?", best)
			}
			d.errorf(e.val.Line, e.path, "unknown target type %q (%s)", v, hint)
		case gateOnly && v != TargetActionsGate:
			d.errorf(e.val.Line, e.path, "type %s contradicts gate_only: true (which means type: %s)", v, TargetActionsGate)
		default:
			env.Type = v
		}
		env.typeKey = "type: " + env.Type
	}
	if gateOnly {
		env.Type, env.typeKey = TargetActionsGate, "gate_only: true"
	}
	env.GateOnly = env.Type == TargetActionsGate
}

// targetRules checks that servers, credentials and path come together, and
// that gate-only environments have none of them.
func (d *decoder) targetRules(s *section, env *Environment, ownPaths bool) {
	if env.GateOnly {
		for _, k := range []string{"servers", "ssh", "path", "hooks", "health_check"} {
			if s.has(k) {
				d.errorf(s.lineOf(k), join(s.path, k), "not allowed with %s (GitHub Actions deploys this environment)", env.typeKey)
			}
		}
		return
	}
	if !s.has("servers") {
		d.errorf(s.line, join(s.path, "servers"), "required key is missing (or set type: actions_gate for an environment GitHub Actions deploys)")
		return
	}
	if !s.has("ssh") {
		d.errorf(s.line, join(s.path, "ssh"), "required key is missing: each environment needs its own SSH key and known_hosts")
	}
	if !s.has("path") && !ownPaths {
		d.errorf(s.line, join(s.path, "path"), "required key is missing: the absolute directory to deploy into (or a path on every server)")
	}
}

// everyServerHasPath reports whether each server sets its own path, which
// makes the environment's path unnecessary.
func everyServerHasPath(servers []Server) bool {
	for _, srv := range servers {
		if srv.Path == "" {
			return false
		}
	}
	return len(servers) > 0
}

func (d *decoder) servers(s *section, env *Environment) {
	e, ok := s.get("servers")
	if !ok {
		return
	}
	items, ok := d.seq(e.path, e.val)
	if ok && len(items) == 0 {
		d.errorf(e.key.Line, e.path, "at least one server is required")
	}
	seen := map[string]string{}
	for i, item := range items {
		p := index(e.path, i)
		ss := d.section(p, item.Line, item, "host", "port", "user", "path")
		if item.Kind != yaml.MappingNode {
			continue
		}
		srv := Server{Port: DefaultSSHPort}
		if _, ok := ss.require("host"); ok {
			if v, ok := ss.str("host"); ok {
				if strings.ContainsAny(v, " \t/@:") && !isIPv6(v) {
					d.errorf(ss.f["host"].val.Line, join(p, "host"), "invalid host %q (give user and port in their own keys)", v)
				}
				srv.Host = v
			}
		}
		if v, ok := ss.integer("port"); ok {
			if v < 1 || v > 65535 {
				d.errorf(ss.f["port"].val.Line, join(p, "port"), "must be between 1 and 65535, got %d", v)
			} else {
				srv.Port = int(v)
			}
		}
		if _, ok := ss.require("user"); ok {
			srv.User, _ = ss.str("user")
		}
		srv.Path = d.deployPath(ss) // "" → the environment's path, filled in by targets
		if srv.Host == "" || srv.User == "" {
			continue
		}
		id := fmt.Sprintf("%s@%s:%d", srv.User, srv.Host, srv.Port)
		target := fmt.Sprintf("%s:%d", strings.ToLower(srv.Host), srv.Port)
		if first, dup := seen[target]; dup {
			d.errorf(item.Line, p, "duplicate server %s (same host and port as %s)", id, first)
			continue
		}
		seen[target] = p
		env.Servers = append(env.Servers, srv)
	}
}

func isIPv6(h string) bool { return strings.Count(h, ":") >= 2 && !strings.ContainsAny(h, " \t/@[]") }

func (d *decoder) healthCheck(s *section) *HealthCheck {
	hs := d.subsection(s, "health_check", "url", "command", "timeout", "retries", "interval")
	hc := &HealthCheck{
		Timeout:  hs.duration("timeout", DefaultHealthTimeout),
		Retries:  DefaultHealthRetries,
		Interval: hs.duration("interval", DefaultHealthInterval),
	}
	switch hasURL, hasCmd := hs.has("url"), hs.has("command"); {
	case hasURL && hasCmd:
		d.errorf(hs.lineOf("command"), join(hs.path, "command"), "set either url or command, not both")
	case hasURL:
		e := hs.f["url"]
		if v, ok := d.stringValue(e.path, e.val); ok {
			hc.URL, _ = d.httpURL(e.path, e.val.Line, v)
		}
	case hasCmd:
		hc.Command, _ = hs.str("command")
	default:
		d.errorf(hs.line, join(hs.path, "url"), "required key is missing (or set command)")
	}
	if v, ok := hs.integer("retries"); ok {
		if v < 0 || v > 100 {
			d.errorf(hs.f["retries"].val.Line, join(hs.path, "retries"), "must be between 0 and 100, got %d", v)
		} else {
			hc.Retries = int(v)
		}
	}
	return hc
}

// DefaultTarballAbovePercent is tarball_above_percent's default.
const DefaultTarballAbovePercent = 20

// deployTuning decodes how a deploy is carried out: max_parallel_servers
// (max_parallel is its older name, still accepted) and
// tarball_above_percent.
func (d *decoder) deployTuning(s *section, env *Environment) {
	env.TarballAbovePercent = DefaultTarballAbovePercent
	key := "max_parallel_servers"
	if s.has("max_parallel") {
		if s.has(key) {
			d.errorf(s.f["max_parallel"].val.Line, join(s.path, "max_parallel"), "set max_parallel_servers or its older name max_parallel, not both")
		}
		key = "max_parallel"
	}
	if v, ok := s.integer(key); ok {
		if v < 1 || v > 1000 {
			d.errorf(s.f[key].val.Line, join(s.path, key), "must be between 1 and 1000, got %d", v)
		} else {
			env.MaxParallel = int(v)
		}
	}
	if v, ok := s.integer("tarball_above_percent"); ok {
		if v < 0 || v > 100 {
			d.errorf(s.f["tarball_above_percent"].val.Line, join(s.path, "tarball_above_percent"), "must be between 0 and 100 (0: always the whole tarball), got %d", v)
		} else {
			env.TarballAbovePercent = int(v)
		}
	}
}
