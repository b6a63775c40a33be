package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/config"
	ghint "github.com/tollgate-dev/tollgate/integrations/github"
	"github.com/tollgate-dev/tollgate/store/anchor"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// Schedule of the compliance loop: new signed checkpoints go to the anchor
// repository within a minute; access review reminders and the
// reconciliation of organisation members run at start and once a day.
const (
	anchorInterval        = time.Minute
	accessCheckInterval   = 24 * time.Hour
	complianceRoundBudget = 2 * time.Minute // GitHub calls of one round
	anchorShutdownBudget  = 15 * time.Second
	metricsReadTimeout    = 2 * time.Second
)

// errNoOrg reports a configuration without github.org: access reviews and
// reconciliation have no organisation to check.
var errNoOrg = errors.New("github.org is not set")

// compliance is what the serve loop needs for anchoring and access
// reviews beyond the server itself.
type compliance struct {
	app      *ghint.App
	roster   *ghint.Roster
	verifier note.Verifier // checks a checkpoint before it is published
	// previous are rotated-out audit keys (audit.previous_public_key_files):
	// checkpoints they signed before a rotation may still await publishing.
	previous audit.Keyring
}

// newCompliance builds the compliance pieces of s and registers the
// overdue emergency reviews gauge; s.svc and s.metrics must exist.
func newCompliance(s *Server, app *ghint.App, signingKeyFile string) (*compliance, error) {
	v, err := audit.VerifierFromSigningKeyFile(signingKeyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: audit.signing_key_file: %w", ErrConfig, err)
	}
	previous, err := audit.LoadKeyring(s.live.Current().Audit.PreviousPublicKeyFiles...)
	if err != nil {
		return nil, fmt.Errorf("%w: audit.previous_public_key_files: %w", ErrConfig, err)
	}
	s.metrics.Registry().MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tollgate_emergency_reviews_overdue",
		Help: "Emergency changes past emergency.review_within still without their after-the-fact review.",
	}, s.overdueEmergencyReviews))
	return &compliance{app: app, roster: ghint.NewRoster(app), verifier: v, previous: previous}, nil
}

// overdueEmergencyReviews counts pending emergency reviews past their
// deadline; NaN when they cannot be read.
func (s *Server) overdueEmergencyReviews() float64 {
	ctx, cancel := context.WithTimeout(context.Background(), metricsReadTimeout)
	defer cancel()
	revs, err := s.svc.EmergencyReviews(ctx, true)
	if err != nil {
		s.log.Warn("metrics: reading emergency reviews", "err", err)
		return math.NaN()
	}
	now, n := s.now(), 0
	for i := range revs {
		if revs[i].Overdue(now) {
			n++
		}
	}
	return float64(n)
}

// complianceLoop anchors checkpoints every minute and runs the daily
// access checks until ctx ends.
func (s *Server) complianceLoop(ctx context.Context) {
	t := time.NewTicker(anchorInterval)
	defer t.Stop()
	var lastAccessCheck time.Time
	for {
		s.publishAnchors(ctx)
		if lastAccessCheck.IsZero() || s.now().Sub(lastAccessCheck) >= accessCheckInterval {
			lastAccessCheck = s.now()
			s.accessChecks(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// publishAnchors commits every signed checkpoint not yet anchored to
// audit.anchor_repository, when one is configured. A failure is logged;
// the next round carries on from the first checkpoint not published.
func (s *Server) publishAnchors(ctx context.Context) {
	repo := s.live.Current().Audit.AnchorRepository
	if repo == "" || s.compliance == nil {
		return
	}
	anchors, err := ghint.NewAnchors(s.compliance.app, repo, "")
	if err != nil {
		s.log.Error("anchor repository", "repository", repo, "err", err)
		return
	}
	cctx, cancel := context.WithTimeout(ctx, complianceRoundBudget)
	defer cancel()
	n, err := anchor.New(s.store, AnchorPublisher(anchors), s.compliance.verifier, s.now).
		TrustPrevious(s.compliance.previous...).PublishPending(cctx)
	if n > 0 {
		s.log.Info("audit checkpoints anchored", "repository", repo, "count", n)
	}
	if err != nil && ctx.Err() == nil {
		s.log.Error("anchoring audit checkpoints", "repository", repo, "published", n, "err", err)
	}
}

// publishAnchorsAtShutdown anchors the shutdown checkpoint, within a
// budget: an unreachable GitHub must not hold the stop, and the next start
// publishes what is left.
func (s *Server) publishAnchorsAtShutdown(ctx context.Context) {
	actx, cancel := context.WithTimeout(ctx, anchorShutdownBudget)
	defer cancel()
	s.publishAnchors(actx)
}

// accessChecks reminds the access reviewers when a review is due and
// reconciles the organisation's members with who Tollgate still trusts.
func (s *Server) accessChecks(ctx context.Context) {
	ar, err := s.accessReviews()
	if errors.Is(err, errNoOrg) {
		return
	}
	if err != nil {
		s.log.Error("access reviews unavailable", "err", err)
		return
	}
	cctx, cancel := context.WithTimeout(ctx, complianceRoundBudget)
	defer cancel()
	if sent, err := ar.RemindIfDue(cctx); err != nil && ctx.Err() == nil {
		s.log.Error("access review reminder", "err", err)
	} else if sent {
		s.log.Info("access review due: reviewers reminded")
	}
	res, err := ar.Reconcile(cctx)
	if err != nil && ctx.Err() == nil {
		s.log.Error("reconciling organisation members", "err", err)
	}
	for _, who := range res.Revoked {
		s.log.Warn("access revoked: no longer an organisation member", "login", who.Login, "github_id", who.GitHubID)
	}
}

// accessReviews returns the access review controls of the configuration
// in force (the Slack handler's /deploy access-review and sign-off, and
// the daily checks).
func (s *Server) accessReviews() (*bot.AccessReviews, error) {
	if s.compliance == nil {
		return nil, errors.New("the GitHub App is not set up")
	}
	l := s.live.cur.Load()
	cfg := l.cfg
	if cfg.GitHub.Org == "" {
		return nil, errNoOrg
	}
	org := cfg.GitHub.Org
	return s.svc.AccessReviews(bot.AccessReviewConfig{Org: org, Environments: l.policies.All(),
		Admins: config.QualifiedTeams(org, cfg.Teams.Admins), Reviewers: config.QualifiedTeams(org, cfg.Teams.AccessReviewers),
		Interval: cfg.AccessReview.Interval, Teams: s.compliance.roster, Members: s.compliance.roster,
		Member: s.compliance.roster})
}

// accessChanges is accessReviews for the GitHub dispatcher's membership
// and organization webhooks.
func (s *Server) accessChanges() (ghint.AccessChanges, error) {
	ar, err := s.accessReviews()
	if err != nil {
		return nil, err
	}
	return ar, nil
}
