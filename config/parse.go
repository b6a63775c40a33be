package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate-dev/tollgate/deploy/attest"
)

// MaxFileSize is the largest config file accepted.
const MaxFileSize = 4 << 20

var (
	repoNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	envNameRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	teamSlugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
	orgRE      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*$`)
	yamlLineRE = regexp.MustCompile(`line (\d+): (.*)`)
)

// Parse decodes and validates a config file's contents. filename is used
// in messages and to resolve relative file paths; lookupEnv expands ${VAR}
// (nil: no variables are set). Parse touches no files, so it is safe to
// fuzz; Load adds the file checks. On error it returns a *ValidationError
// listing every problem, sorted by line.
func Parse(filename string, data []byte, lookupEnv func(string) (string, bool)) (*Config, []Warning, error) {
	return parse(filename, data, lookupEnv).finish()
}

// parse decodes and validates without finishing, so Load can add its
// file checks to the same list of problems.
func parse(filename string, data []byte, lookupEnv func(string) (string, bool)) *decoder {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	d := &decoder{file: filename, dir: filepath.Dir(filename), lookup: lookupEnv, budget: maxNodes}
	if len(data) > MaxFileSize {
		d.errorf(1, "", "config file is larger than %d bytes", MaxFileSize)
	} else if root := d.parseYAML(data); root != nil {
		c := d.config(root)
		c.File = filename
		sum := sha256.Sum256(data)
		c.hash = hex.EncodeToString(sum[:])
		d.validate(c)
		c.buildPolicies()
		d.cfg = c
	}
	return d
}

// finish sorts and de-duplicates what was found (an alias visited twice
// reports its problems twice).
func (d *decoder) finish() (*Config, []Warning, error) {
	sortWarnings(d.warnings)
	d.warnings = dedupe(d.warnings)
	if len(d.problems) > 0 {
		sortProblems(d.problems)
		return nil, d.warnings, &ValidationError{Problems: dedupe(d.problems)}
	}
	return d.cfg, d.warnings, nil
}

func dedupe[T comparable](xs []T) []T {
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// parseYAML returns the top-level mapping, or nil after reporting why not.
func (d *decoder) parseYAML(data []byte) (root *yaml.Node) {
	defer func() {
		// The YAML library is third-party code; a panic on hostile input
		// must become an error, never a crash.
		if r := recover(); r != nil {
			d.errorf(1, "", "yaml: cannot parse: %v", r)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errorf(1, "", "config file is empty")
		} else {
			d.yamlError(err)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errorf(extra.Line, "", "more than one YAML document; put the whole configuration in one")
		return nil
	} else if !errors.Is(err, io.EOF) {
		d.yamlError(err)
		return nil
	}
	n := &doc
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n = d.node(n); n == nil || isNull(n) {
		d.errorf(1, "", "config file is empty")
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, "", "expected a mapping of keys at the top level, got %s", describe(n))
		return nil
	}
	return n
}

// yamlError turns the YAML library's "yaml: line N: msg" into a located problem.
func (d *decoder) yamlError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil {
			line, msg = n, m[2]
		}
	}
	d.errorf(line, "", "yaml: %s", msg)
}

func (d *decoder) config(root *yaml.Node) *Config {
	top := d.section("", 1, root, "listen", "public_url", "database", "audit", "github", "slack",
		"teams", "access_review", "locks", "replicas", "repositories", "webauthn", "drift", "attestation")
	c := &Config{Listen: DefaultListen}
	if v, ok := top.str("listen"); ok {
		if _, port, err := net.SplitHostPort(v); err != nil || !validPort(port) {
			d.errorf(top.f["listen"].val.Line, "listen", "invalid address %q (use host:port, e.g. \":8080\")", v)
		} else {
			c.Listen = v
		}
	}
	if e, ok := top.require("public_url"); ok {
		if v, ok := d.stringValue(e.path, e.val); ok {
			if u, ok := d.httpURL(e.path, e.val.Line, v); ok {
				c.PublicURL = strings.TrimRight(u, "/")
			}
		}
	}
	c.Database = d.database(top)
	c.Audit = d.audit(top)
	att := d.subsection(top, "attestation", "signing_key_file", "previous_public_key_files")
	c.Attestation.SigningKeyFile = d.filePath(att, "signing_key_file", fileRef{secret: true, attest: true})
	c.Attestation.PreviousPublicKeys = d.previousKeys(att, "previous_public_key_files")
	c.GitHub = d.github(top)
	c.Slack = d.slack(top)
	c.Teams = d.teamsSection(top, c.GitHub.Org)

	ar := d.subsection(top, "access_review", "interval")
	c.AccessReview.Interval = ar.duration("interval", DefaultAccessReview)
	locks := d.subsection(top, "locks", "remind_after")
	c.Locks.RemindAfter = locks.duration("remind_after", DefaultLockRemindAfter)
	c.Drift.Interval = d.driftInterval(d.subsection(top, "drift", "interval"))
	replicas := d.subsection(top, "replicas", "lease")
	c.Replicas.Lease = replicas.duration("lease", DefaultReplicaLease)
	if c.Replicas.Lease < MinReplicaLease || c.Replicas.Lease > MaxReplicaLease {
		d.errorf(replicas.lineOf("lease"), "replicas.lease", "%s is out of range: want between %s and %s (the time a dead replica's work waits before another takes it over)",
			c.Replicas.Lease, MinReplicaLease, MaxReplicaLease)
	}

	c.WebAuthn = d.webauthn(top)
	c.Repositories = d.repositories(top, c.GitHub.Org)
	return c
}

// subsection decodes an optional nested mapping of parent.
func (d *decoder) subsection(parent *section, name string, known ...string) *section {
	e, ok := parent.f[name]
	if !ok {
		return d.section(join(parent.path, name), parent.line, nil, known...)
	}
	return d.section(e.path, e.key.Line, e.val, known...)
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535
}

// httpURL validates an absolute http(s) URL without credentials.
func (d *decoder) httpURL(path string, line int, v string) (string, bool) {
	u, err := url.Parse(v)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		d.errorf(line, path, "invalid URL %q: want an absolute http:// or https:// URL", v)
	case u.User != nil:
		d.errorf(line, path, "URL %q contains credentials; put secrets in their own keys", v)
	case u.RawQuery != "" || u.Fragment != "":
		d.errorf(line, path, "URL %q must not have a query or fragment", v)
	default:
		return v, true
	}
	return "", false
}

// baseURL reads an optional API base URL, normalised to end in "/".
func (d *decoder) baseURL(s *section, name, def string) string {
	e, ok := s.get(name)
	if !ok {
		return def
	}
	v, ok := d.stringValue(e.path, e.val)
	if !ok {
		return def
	}
	if _, ok := d.httpURL(e.path, e.val.Line, v); !ok {
		return def
	}
	return strings.TrimRight(v, "/") + "/"
}

// filePath reads a local file path, resolves it against the config file's
// directory and records it for Load's checks.
func (d *decoder) filePath(s *section, name string, ref fileRef) string {
	e, ok := s.get(name)
	if !ok {
		return ""
	}
	v, ok := d.stringValue(e.path, e.val)
	if !ok {
		return ""
	}
	if !filepath.IsAbs(v) {
		v = filepath.Join(d.dir, v)
	}
	ref.key, ref.line, ref.path = e.path, e.val.Line, v
	d.files = append(d.files, ref)
	return v
}

// filePaths reads a list of (public) file paths like filePath reads one;
// each must exist.
func (d *decoder) filePaths(s *section, name string) []string {
	var out []string
	d.eachString(s, name, func(p string, item *yaml.Node, v string) {
		if !filepath.IsAbs(v) {
			v = filepath.Join(d.dir, v)
		}
		d.files = append(d.files, fileRef{key: p, line: item.Line, path: v})
		out = append(out, v)
	})
	return out
}

// previousKeys reads a list of rotated-out attestation public keys like
// filePaths, each "PATH" or "PATH@TIME" with its retirement time (RFC 3339
// or a UTC day, as `tollgate attest verify --retired-key`).
func (d *decoder) previousKeys(s *section, name string) []PreviousKey {
	var out []PreviousKey
	d.eachString(s, name, func(p string, item *yaml.Node, v string) {
		file, at, err := attest.SplitRetiredKey(v)
		if err != nil {
			d.errorf(item.Line, p, "key %s: %v: write PATH or PATH@TIME, e.g. keys/attest-2025.pub@2026-03-01T00:00:00Z", strconv.Quote(v), err)
			return
		}
		if !filepath.IsAbs(file) {
			file = filepath.Join(d.dir, file)
		}
		d.files = append(d.files, fileRef{key: p, line: item.Line, path: file})
		out = append(out, PreviousKey{File: file, RetiredAt: at})
	})
	return out
}

func (d *decoder) audit(top *section) Audit {
	s := d.subsection(top, "audit", "signing_key_file", "public_key_file", "checkpoint_every",
		"anchor_repository", "retention_days", "hmac_key_file", "previous_public_key_files")
	if _, ok := top.require("audit"); !ok {
		return Audit{}
	}
	a := Audit{CheckpointEvery: DefaultCheckpointEvery, RetentionDays: MinRetentionDays}
	if _, ok := s.require("signing_key_file"); ok {
		a.SigningKeyFile = d.filePath(s, "signing_key_file", fileRef{secret: true})
	}
	a.PublicKeyFile = d.filePath(s, "public_key_file", fileRef{})
	a.PreviousPublicKeyFiles = d.filePaths(s, "previous_public_key_files")
	a.HMACKeyFile = d.filePath(s, "hmac_key_file", fileRef{secret: true})
	if v, ok := s.integer("checkpoint_every"); ok {
		if v < 1 || v > 1_000_000 {
			d.errorf(s.f["checkpoint_every"].val.Line, "audit.checkpoint_every", "must be between 1 and 1000000, got %d", v)
		} else {
			a.CheckpointEvery = int(v)
		}
	}
	if v, ok := s.integer("retention_days"); ok {
		if v < MinRetentionDays {
			d.errorf(s.f["retention_days"].val.Line, "audit.retention_days",
				"%d is less than %d: audit periods are 12 months, so the log must be kept at least %d days", v, MinRetentionDays, MinRetentionDays)
		} else if v > 100*366 {
			d.errorf(s.f["retention_days"].val.Line, "audit.retention_days", "%d days is more than a century", v)
		} else {
			a.RetentionDays = int(v)
		}
	}
	if v, ok := s.str("anchor_repository"); ok {
		if !repoNameRE.MatchString(v) {
			d.errorf(s.f["anchor_repository"].val.Line, "audit.anchor_repository", "invalid repository %q: want owner/name", v)
		} else {
			a.AnchorRepository = v
		}
	}
	return a
}

func (d *decoder) github(top *section) GitHub {
	s := d.subsection(top, "github", "api_url", "web_url", "app_id", "private_key", "private_key_file",
		"webhook_secret", "oauth_client_id", "oauth_client_secret", "org")
	if _, ok := top.require("github"); !ok {
		return GitHub{}
	}
	g := GitHub{
		APIURL: d.baseURL(s, "api_url", DefaultGitHubAPIURL),
		WebURL: d.baseURL(s, "web_url", DefaultGitHubWebURL),
	}
	if _, ok := s.require("app_id"); ok {
		if v, ok := s.integer("app_id"); ok {
			if v < 1 {
				d.errorf(s.f["app_id"].val.Line, "github.app_id", "must be a positive integer, got %d", v)
			}
			g.AppID = v
		}
	}
	switch hasKey, hasFile := s.has("private_key"), s.has("private_key_file"); {
	case hasKey && hasFile:
		d.errorf(s.lineOf("private_key_file"), "github.private_key_file", "set either private_key or private_key_file, not both")
	case !hasKey && !hasFile:
		d.errorf(s.line, "github.private_key_file", "required key is missing (or set private_key)")
	case hasKey:
		g.PrivateKey = s.secret("private_key")
	default:
		g.PrivateKeyFile = d.filePath(s, "private_key_file", fileRef{secret: true})
	}
	if _, ok := s.require("webhook_secret"); ok {
		g.WebhookSecret = s.secret("webhook_secret")
	}
	g.OAuthClientID, _ = s.str("oauth_client_id")
	g.OAuthClientSecret = s.secret("oauth_client_secret")
	if hasID, hasSecret := s.has("oauth_client_id"), s.has("oauth_client_secret"); hasID != hasSecret {
		missing := "oauth_client_secret"
		if !hasID {
			missing = "oauth_client_id"
		}
		d.errorf(s.line, join("github", missing), "required key is missing (oauth_client_id and oauth_client_secret go together)")
	}
	if _, ok := s.require("org"); ok {
		if v, ok := s.str("org"); ok {
			if !orgRE.MatchString(v) {
				d.errorf(s.f["org"].val.Line, "github.org", "invalid organisation %q", v)
			} else {
				g.Org = v
			}
		}
	}
	return g
}

var channelIDRE = regexp.MustCompile(`^[CG][A-Z0-9]{2,}$`)

func (d *decoder) slack(top *section) Slack {
	e, present := top.f["slack"]
	s := d.subsection(top, "slack", "api_url", "response_url_base", "web_url", "bot_token", "signing_secret", "channel", "channels",
		"client_id", "client_secret")
	if !present || isNull(e.val) {
		return Slack{}
	}
	d.slackLine, d.channelLines = e.key.Line, map[string]int{}
	sl := Slack{Enabled: true, APIURL: d.baseURL(s, "api_url", DefaultSlackAPIURL),
		ResponseURLBase: d.baseURL(s, "response_url_base", DefaultSlackResponseURLBase),
		WebURL:          d.baseURL(s, "web_url", DefaultSlackWebURL), Channels: map[string]string{}}
	sl.ClientID, _ = s.str("client_id")
	sl.ClientSecret = s.secret("client_secret")
	switch hasID, hasSecret := s.has("client_id"), s.has("client_secret"); {
	case hasID != hasSecret:
		missing := "client_secret"
		if !hasID {
			missing = "client_id"
		}
		d.errorf(s.line, join("slack", missing), "required key is missing (client_id and client_secret go together)")
	case !hasID:
		d.warnf(s.line, "slack.client_id", "Slack users cannot link a GitHub account until it is set: /deploy link proves "+
			"the Slack user with Sign in with Slack, the Slack app's OAuth client (client_id, client_secret)")
	}
	if _, ok := s.require("bot_token"); ok {
		sl.BotToken = s.secret("bot_token")
	}
	if _, ok := s.require("signing_secret"); ok {
		sl.SigningSecret = s.secret("signing_secret")
	}
	if _, ok := s.require("channel"); ok {
		sl.Channel, _ = s.str("channel")
	}
	if ce, ok := s.get("channels"); ok {
		for _, ch := range d.entries(ce.path, ce.val) {
			if !channelIDRE.MatchString(ch.key.Value) {
				d.errorf(ch.key.Line, ch.path, "%q is not a channel ID (slash commands report IDs such as C0123456789; copy it from the channel's details)", ch.key.Value)
				continue
			}
			if v, ok := d.stringValue(ch.path, ch.val); ok {
				sl.Channels[ch.key.Value] = v // checked against repositories in validate
				d.channelLines[ch.key.Value] = ch.val.Line
			}
		}
	}
	return sl
}

func (d *decoder) teamsSection(top *section, org string) Teams {
	s := d.subsection(top, "teams", "admins", "access_reviewers", "auditors")
	return Teams{
		Admins:          d.teamList(s, "admins", org),
		AccessReviewers: d.teamList(s, "access_reviewers", org),
		Auditors:        d.teamList(s, "auditors", org),
	}
}

// teamList reads team slugs; "org/slug" is accepted for the configured org
// and stored as the slug.
func (d *decoder) teamList(s *section, name, org string) []string {
	var out []string
	d.eachString(s, name, func(p string, item *yaml.Node, v string) {
		slug := v
		if o, sl, hasOrg := strings.Cut(v, "/"); hasOrg {
			if org != "" && !strings.EqualFold(o, org) {
				d.errorf(item.Line, p, "team %q is in organisation %q, but github.org is %q", v, o, org)
				return
			}
			slug = sl
		}
		if !teamSlugRE.MatchString(slug) {
			d.errorf(item.Line, p, "invalid team slug %q (slugs are lowercase letters, digits, '-', '_' and '.', as in the team's URL)", v)
			return
		}
		out = append(out, slug)
	})
	return out
}
