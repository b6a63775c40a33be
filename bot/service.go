package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"
)

// Policies gives the policy in force for a repository's environment. The
// wiring converts the server configuration into it (and may swap it on
// reload); bot never reads configuration files itself.
type Policies interface {
	// Environment returns the policy of repo's env; ok is false when the
	// environment is not configured for repo.
	Environment(repo, env string) (p *EnvironmentPolicy, ok bool)
	// Environments lists repo's configured environments, for refusals that
	// name what exists.
	Environments(repo string) []string
}

// PolicySet is a fixed Policies built from a list of environment policies.
type PolicySet map[string]map[string]*EnvironmentPolicy

// NewPolicySet indexes ps by repository and environment.
func NewPolicySet(ps ...*EnvironmentPolicy) PolicySet {
	set := PolicySet{}
	for _, p := range ps {
		if set[p.Repo] == nil {
			set[p.Repo] = map[string]*EnvironmentPolicy{}
		}
		set[p.Repo][p.Environment] = p
	}
	return set
}

// Environment implements Policies.
func (s PolicySet) Environment(repo, env string) (*EnvironmentPolicy, bool) {
	p, ok := s[repo][env]
	return p, ok
}

// All lists every policy, sorted by repository then environment.
func (s PolicySet) All() []*EnvironmentPolicy {
	var out []*EnvironmentPolicy
	repos := make([]string, 0, len(s))
	for repo := range s {
		repos = append(repos, repo)
	}
	sort.Strings(repos)
	for _, repo := range repos {
		for _, env := range s.Environments(repo) {
			out = append(out, s[repo][env])
		}
	}
	return out
}

// Environments implements Policies.
func (s PolicySet) Environments(repo string) []string {
	var out []string
	for env := range s[repo] {
		out = append(out, env)
	}
	sort.Strings(out)
	return out
}

// Config is what a Service needs. Notifier and Logger may be nil.
type Config struct {
	Store     Store
	Directory Directory
	Changes   Changes
	Deployer  Deployer
	Notifier  Notifier
	Policies  Policies
	Clock     Clock
	Logger    *slog.Logger
	// Compliance keeps emergency reviews, access reviews and reminders;
	// nil means Store, when Store implements ComplianceStore. Without one,
	// emergency changes are refused: they could not be reviewed.
	Compliance ComplianceStore
	// MFA keeps registered security keys; nil means Store, when Store
	// implements MFAStore. Without one, actions that need a security key
	// are refused.
	MFA MFAStore
	// Admins returns the admins teams in force (teams.admins), who may
	// revoke someone else's security key; nil means nobody may.
	Admins func() []Team
	// RefusalLimits counts refusals per person; nil means Store, when
	// Store implements RefusalLimits. Without one, refusals are not limited.
	RefusalLimits RefusalLimits
}

// Service is the domain's entry point: the GitHub and Slack handlers and
// the workers call it; it decides and records, and never speaks HTTP, SQL
// or SSH itself.
type Service struct {
	store      Store
	dir        Directory
	changes    Changes
	deployer   Deployer
	notifier   Notifier
	policies   Policies
	compliance ComplianceStore
	mfa        MFAStore
	admins     func() []Team
	now        Clock
	log        *slog.Logger
	wake       chan struct{} // nudges idle workers when something was queued
	limits     RefusalLimits
	outsiders  *tokenBucket // audit lines for outsiders' commands, all accounts together
}

// New returns a Service, or an error naming the missing dependency.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("bot: Config.Store is required")
	case cfg.Directory == nil:
		return nil, errors.New("bot: Config.Directory is required")
	case cfg.Changes == nil:
		return nil, errors.New("bot: Config.Changes is required")
	case cfg.Deployer == nil:
		return nil, errors.New("bot: Config.Deployer is required")
	case cfg.Policies == nil:
		return nil, errors.New("bot: Config.Policies is required")
	}
	s := &Service{
		store: cfg.Store, dir: cfg.Directory, changes: cfg.Changes, deployer: cfg.Deployer,
		notifier: cfg.Notifier, policies: cfg.Policies, now: cfg.Clock, log: cfg.Logger,
		wake: make(chan struct{}, 1), admins: cfg.Admins,
	}
	if s.mfa = cfg.MFA; s.mfa == nil {
		s.mfa, _ = cfg.Store.(MFAStore)
	}
	if s.compliance = cfg.Compliance; s.compliance == nil {
		s.compliance, _ = cfg.Store.(ComplianceStore)
	}
	if s.limits = cfg.RefusalLimits; s.limits == nil {
		s.limits, _ = cfg.Store.(RefusalLimits)
	}
	s.outsiders = newTokenBucket(OutsiderLinesBurst, OutsiderLinesEvery)
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Request returns one request.
func (s *Service) Request(ctx context.Context, id string) (Request, error) {
	r, err := s.store.Request(ctx, id)
	if err != nil {
		return Request{}, fmt.Errorf("reading request %s: %w", id, err)
	}
	return r, nil
}

// History returns the latest requests for repo/env (all when env is
// empty), newest first; limit 0 means 10.
func (s *Service) History(ctx context.Context, repo, env string, limit int) ([]Request, error) {
	if limit <= 0 {
		limit = 10
	}
	rs, err := s.store.ListRequests(ctx, RequestFilter{Repo: repo, Environment: env, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("listing history of %s %s: %w", repo, env, err)
	}
	return rs, nil
}

// Active returns the requests of repo/env that have not finished
// (awaiting approval, queued, running), oldest first: what /deploy status shows.
func (s *Service) Active(ctx context.Context, repo, env string) ([]Request, error) {
	rs, err := s.store.ListRequests(ctx, RequestFilter{Repo: repo, Environment: env,
		States: []State{StateRequested, StateAwaitingApproval, StateQueued, StateRunning}, Limit: 1000})
	if err != nil {
		return nil, fmt.Errorf("listing active requests of %s %s: %w", repo, env, err)
	}
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].CreatedAt.Before(rs[j].CreatedAt) })
	return rs, nil
}

// Live returns the last request that succeeded on repo/env: what runs
// there now. ok is false when nothing was deployed yet.
func (s *Service) Live(ctx context.Context, repo, env string) (Request, bool, error) {
	return LiveRequest(ctx, s.store, repo, env)
}

// LiveRequest is Service.Live for whoever holds only a RequestLister (the
// drift check).
func LiveRequest(ctx context.Context, rs RequestLister, repo, env string) (Request, bool, error) {
	list, err := rs.ListRequests(ctx, RequestFilter{Repo: repo, Environment: env,
		States: []State{StateSucceeded}, Limit: 1, ByFinish: true})
	if err != nil {
		return Request{}, false, fmt.Errorf("finding what runs on %s %s: %w", repo, env, err)
	}
	if len(list) == 0 {
		return Request{}, false, nil
	}
	return list[0], true, nil
}

// SetGitHubDeployment records the GitHub Deployment that mirrors request id.
func (s *Service) SetGitHubDeployment(ctx context.Context, id string, deploymentID int64) error {
	_, err := s.store.UpdateRequest(ctx, id, func(r *Request) ([]AuditEvent, error) {
		r.GitHubDeploymentID = deploymentID
		return nil, nil
	})
	if err != nil {
		return fmt.Errorf("recording GitHub deployment %d on request %s: %w", deploymentID, id, err)
	}
	return nil
}

// SetExternalRef records integration bookkeeping on a request (the Slack
// message timestamp, the PR comment id) so later updates edit in place.
func (s *Service) SetExternalRef(ctx context.Context, id, key, value string) error {
	_, err := s.store.UpdateRequest(ctx, id, func(r *Request) ([]AuditEvent, error) {
		if r.ExternalRefs == nil {
			r.ExternalRefs = map[string]string{}
		}
		r.ExternalRefs[key] = value
		return nil, nil
	})
	if err != nil {
		return fmt.Errorf("recording %s on request %s: %w", key, id, err)
	}
	return nil
}

// idAlphabet avoids letters people confuse when typing an id from a
// screen (0/o, 1/l/i).
const idAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"

// NewRequestID returns a short, human-typeable id such as "r-7f3k2q".
func NewRequestID() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error (it crashes instead)
	out := []byte("r-")
	for _, x := range b {
		out = append(out, idAlphabet[int(x)%len(idAlphabet)])
	}
	return string(out)
}

// newNonce returns a secret carried by approval buttons.
func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Kick wakes an idle deploy worker without blocking: another process
// queued a request or finished a deploy (server wakes on its notice).
func (s *Service) Kick() { s.kick() }

// kick wakes an idle worker without blocking.
func (s *Service) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
