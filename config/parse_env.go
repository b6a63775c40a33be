package config

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

var environmentKeys = []string{
	"production", "transient", "type", "gate_only", "deployers", "approvers", "required_approvals",
	"approval_ttl", "branches", "require", "emergency", "require_ticket", "freeze", "auto_deploy",
	"labels", "servers", "ssh", "path", "keep_releases", "max_parallel", "max_parallel_servers",
	"tarball_above_percent", "shared", "hooks", "health_check", "environment_url", "secrets", "approvals",
}

func (d *decoder) repositories(top *section, org string) map[string]*Repository {
	repos := map[string]*Repository{}
	e, ok := top.require("repositories")
	if !ok {
		return repos
	}
	list := d.entries(e.path, e.val)
	if len(list) == 0 && e.val.Kind == yaml.MappingNode {
		d.errorf(e.key.Line, e.path, "no repositories configured")
	}
	for _, re := range list {
		name := re.key.Value
		if !repoNameRE.MatchString(name) {
			d.errorf(re.key.Line, re.path, "invalid repository name %q: want owner/name", name)
			continue
		}
		rs := d.section(re.path, re.key.Line, re.val, "environments")
		r := &Repository{Name: name, Environments: map[string]*Environment{}}
		repos[name] = r
		ee, ok := rs.require("environments")
		if !ok {
			continue
		}
		envs := d.entries(ee.path, ee.val)
		if len(envs) == 0 && ee.val.Kind == yaml.MappingNode {
			d.errorf(ee.key.Line, ee.path, "no environments configured")
		}
		for _, en := range envs {
			if !envNameRE.MatchString(en.key.Value) {
				d.errorf(en.key.Line, en.path, "invalid environment name %q (use letters, digits, '-', '_' and '.')", en.key.Value)
				continue
			}
			r.Environments[en.key.Value] = d.environment(name, en, org)
		}
	}
	return repos
}

func (d *decoder) environment(repo string, en entry, org string) *Environment {
	s := d.section(en.path, en.key.Line, en.val, environmentKeys...)
	env := &Environment{
		Repository: repo, Name: en.key.Value, Line: en.key.Line,
		Production:  s.boolean("production"),
		Transient:   s.boolean("transient"),
		Deployers:   d.teamList(s, "deployers", org),
		Approvers:   d.teamList(s, "approvers", org),
		ApprovalTTL: s.duration("approval_ttl", DefaultApprovalTTL),
		Branches:    []string{"main"},
		Labels:      []string{"deploy:" + en.key.Value},
	}
	if e, ok := s.require("deployers"); ok && len(env.Deployers) == 0 {
		if items, isList := d.seq(e.path, e.val); isList && len(items) == 0 {
			d.errorf(e.key.Line, e.path, "at least one team is required")
		}
	}
	if v, ok := s.integer("required_approvals"); ok {
		line := s.f["required_approvals"].val.Line
		switch {
		case v < 0:
			d.errorf(line, join(s.path, "required_approvals"), "must not be negative, got %d", v)
		case v > 10:
			d.errorf(line, join(s.path, "required_approvals"), "%d approvals is more than the 10 supported", v)
		case v > 0 && len(env.Approvers) == 0:
			d.errorf(line, join(s.path, "required_approvals"), "%d approvals required but no approvers teams are listed", v)
		default:
			env.RequiredApprovals = int(v)
		}
	}
	if s.has("branches") {
		env.Branches = d.globs(s, "branches")
	}
	if s.has("labels") {
		env.Labels = s.strings("labels")
	}
	d.targetType(s, env)
	d.policy(s, env, org)
	d.targets(s, env)
	return env
}

// globs reads a list of branch globs in path.Match syntax.
func (d *decoder) globs(s *section, name string) []string {
	list := s.strings(name)
	e := s.f[name]
	for i, g := range list {
		if _, err := path.Match(g, ""); err != nil {
			d.errorf(e.val.Line, index(e.path, i), "invalid branch pattern %q: %v", g, err)
		}
	}
	return list
}

// policy decodes the checks: require, emergency, tickets, freezes, auto_deploy.
func (d *decoder) policy(s *section, env *Environment, org string) {
	req := d.subsection(s, "require", "pr_review", "checks")
	env.Require.PRReview = req.boolean("pr_review")
	if e, ok := req.get("checks"); ok {
		if e.val.Kind == yaml.SequenceNode {
			env.Require.CheckNames, _ = d.stringList(e.path, e.val)
			env.Require.Checks = true
			if len(e.val.Content) == 0 {
				d.errorf(e.val.Line, e.path, "empty list: write true to require every check, or list the check names")
			}
		} else if e.val.Kind == yaml.ScalarNode && (e.val.ShortTag() == "!!bool" || strings.Contains(e.val.Value, "${")) {
			env.Require.Checks, _ = d.boolValue(e.path, e.val)
		} else {
			d.errorf(e.val.Line, e.path, "expected true, false or a list of check names, got %s", describe(e.val))
		}
	}

	em := d.subsection(s, "emergency", "teams", "review_within", "require_ticket", "require_webauthn")
	env.Emergency = Emergency{
		Teams:           d.teamList(em, "teams", org),
		ReviewWithin:    em.duration("review_within", DefaultEmergencyReview),
		RequireTicket:   em.boolean("require_ticket"),
		RequireWebAuthn: em.boolean("require_webauthn"),
	}
	d.approvals(s, env)

	rt := d.subsection(s, "require_ticket", "pattern")
	if s.has("require_ticket") {
		if e, ok := rt.require("pattern"); ok {
			if v, ok := d.stringValue(e.path, e.val); ok {
				re, err := regexp.Compile(v)
				if err != nil {
					d.errorf(e.val.Line, e.path, "invalid regular expression %q: %v", v, unwrapRegexpError(err))
				} else {
					env.RequireTicket, env.TicketPattern = true, re
				}
			}
		}
	}
	if env.Emergency.RequireTicket && env.TicketPattern == nil {
		env.TicketPattern = regexp.MustCompile(DefaultEmergencyTicketRE)
	}

	if e, ok := s.get("freeze"); ok {
		items, _ := d.seq(e.path, e.val)
		for i, item := range items {
			if w, ok := d.freeze(index(e.path, i), item); ok {
				env.Freezes = append(env.Freezes, w)
			}
		}
	}

	ad := d.subsection(s, "auto_deploy", "on_merge_to")
	env.AutoDeploy.OnMergeTo = ad.strings("on_merge_to")
	for i, b := range env.AutoDeploy.OnMergeTo {
		if !env.BranchAllowed(b) {
			d.errorf(ad.f["on_merge_to"].val.Line, index(join(ad.path, "on_merge_to"), i),
				"branch %q is not allowed by branches %v, so its merges could never deploy", b, env.Branches)
		}
	}
}

// unwrapRegexpError drops the "error parsing regexp: " prefix.
func unwrapRegexpError(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

// loadLocation loads an IANA zone; "Local" is refused because its meaning
// depends on the machine.
func loadLocation(name string) (*time.Location, error) {
	if name == "Local" || name == "" {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return time.LoadLocation(name)
}

func (d *decoder) timestamp(s *section, name string) (time.Time, bool) {
	e, ok := s.require(name)
	if !ok {
		return time.Time{}, false
	}
	v, ok := d.stringValue(e.path, e.val)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		d.errorf(e.val.Line, e.path, "invalid time %q: want RFC 3339 with an offset, e.g. 2025-12-24T00:00:00+01:00", v)
		return time.Time{}, false
	}
	return t, true
}
