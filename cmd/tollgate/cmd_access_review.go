package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/config"
	ghint "github.com/tollgate-dev/tollgate/integrations/github"
	"github.com/tollgate-dev/tollgate/server"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

func init() {
	register("access-review", "record who can deploy, approve and use the emergency path, and what changed (--reconcile: revoke people who left the org)", runAccessReview)
}

func runAccessReview(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("access-review", stdout, stderr,
		[]string{"tollgate access-review [--config FILE] [--by NAME] [--dry-run | --reconcile]"},
		"Resolves, live from GitHub, who can deploy, approve and use the emergency path on every",
		"environment, shows what changed since the last signed review and records the snapshot",
		"(audited) for a member of teams.access_reviewers to sign off in Slack.",
		"Exit 0 recorded, 1 GitHub could not be asked or nobody can sign the review off, 2 bad usage.",
	)
	cfgPath := fs.String("config", "tollgate.yml", "configuration `FILE`")
	by := fs.String("by", "tollgate-cli", "who asks for the review (`NAME`), for the audit log")
	dryRun := fs.Bool("dry-run", false, "show who has access now without recording a snapshot")
	reconcile := fs.Bool("reconcile", false, "run the daily reconciliation once instead: revoke links and pending work of people who left the organisation")
	if code, done := fs.Parse(args); done {
		return code
	}
	if *dryRun && *reconcile {
		return fs.Fail("give --dry-run or --reconcile, not both")
	}
	env, err := openAccessReviews(ctx, *cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate access-review: %v\n", err)
		return exitUsage
	}
	defer env.close()
	ar := env.reviews
	switch {
	case *reconcile:
		res, err := ar.Reconcile(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "tollgate access-review: %v\n", err)
			return exitCheckFailed
		}
		fmt.Fprintf(stdout, "organisation %s: %s\n", env.cfg.GitHub.Org, plural(res.Members, "member", "members"))
		for _, who := range res.Revoked {
			fmt.Fprintf(stdout, "revoked %s: left the organisation; Slack links removed, pending requests and approvals withdrawn\n", who.Login)
		}
		fmt.Fprintf(stdout, "%d revoked\n", len(res.Revoked))
		return exitOK
	case *dryRun:
		grants, err := ar.Resolve(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "tollgate access-review: %v\n", err)
			return exitCheckFailed
		}
		printGrants(stdout, grants)
		fmt.Fprintln(stdout, "(dry run: nothing recorded)")
		return exitOK
	}
	r, err := ar.Snapshot(ctx, *by)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate access-review: %v\n", err)
		return exitCheckFailed
	}
	fmt.Fprintf(stdout, "access review %s taken %s by %s (digest %s)\n", r.ID, r.TakenAt.Format(time.RFC3339), r.TakenBy, r.Digest[:16])
	printGrants(stdout, r.Grants)
	if r.PreviousID == "" {
		fmt.Fprintln(stdout, "changes: first review, every grant is new")
	} else {
		fmt.Fprintf(stdout, "changes since %s: %d added, %d removed\n", r.PreviousID, len(r.Added), len(r.Removed))
		for _, g := range r.Added {
			fmt.Fprintf(stdout, "  + %s\n", g)
		}
		for _, g := range r.Removed {
			fmt.Fprintf(stdout, "  - %s\n", g)
		}
	}
	if len(env.cfg.Teams.AccessReviewers) == 0 {
		fmt.Fprintln(stdout, "sign-off: no teams.access_reviewers configured; nobody can sign this review off")
		return exitCheckFailed
	}
	fmt.Fprintf(stdout, "sign-off: a member of %v signs %s off in Slack (Reviewed, no changes / Changes needed)\n",
		env.cfg.Teams.AccessReviewers, r.ID)
	return exitOK
}

// printGrants prints grants grouped by environment and role.
func printGrants(w io.Writer, grants []bot.AccessGrant) {
	type key struct {
		where string
		role  bot.AccessRole
	}
	var order []key
	who := map[key][]string{}
	for _, g := range grants {
		where := "tollgate-wide"
		if g.Repo != "" {
			where = g.Repo + " " + g.Environment
		}
		k := key{where, g.Role}
		if _, ok := who[k]; !ok {
			order = append(order, k)
		}
		who[k] = append(who[k], g.Login+" ("+g.Team+")")
	}
	last := ""
	for _, k := range order {
		if k.where != last {
			fmt.Fprintln(w, k.where)
			last = k.where
		}
		fmt.Fprintf(w, "  %-16s %s\n", string(k.role)+":", strings.Join(who[k], ", "))
	}
}

// accessReviewEnv is what access-review runs on.
type accessReviewEnv struct {
	cfg     *config.Config
	store   *store.Store
	reviews *bot.AccessReviews
}

func (e *accessReviewEnv) close() { e.store.Close() }

// noDeploys is the Deployer of CLI commands that record but never deploy.
type noDeploys struct{}

var errNoDeploys = errors.New("this command does not deploy")

func (noDeploys) Deploy(context.Context, bot.DeployJob) (bot.DeployOutcome, error) {
	return bot.DeployOutcome{}, errNoDeploys
}

func (noDeploys) Rollback(context.Context, bot.DeployJob) (bot.DeployOutcome, error) {
	return bot.DeployOutcome{}, errNoDeploys
}

// openAccessReviews loads the config and builds the access review
// controls over the database and the GitHub App.
func openAccessReviews(ctx context.Context, cfgPath string) (*accessReviewEnv, error) {
	cfg, _, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	policies := cfg.Policies()
	app, err := server.GitHubApp(ctx, cfg)
	if err != nil {
		return nil, err
	}
	signer, err := audit.LoadSigner(cfg.Audit.SigningKeyFile)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.Database, store.Options{Signer: signer, CheckpointEvery: cfg.Audit.CheckpointEvery})
	if err != nil {
		return nil, err
	}
	svc, err := bot.New(bot.Config{Store: st, Directory: ghint.NewDirectory(app, 0), Changes: ghint.NewChanges(app),
		Deployer: noDeploys{}, Policies: policies})
	if err != nil {
		st.Close()
		return nil, err
	}
	envs := policies.All()
	roster := ghint.NewRoster(app)
	ar, err := svc.AccessReviews(bot.AccessReviewConfig{Org: cfg.GitHub.Org, Environments: envs,
		Admins: config.QualifiedTeams(cfg.GitHub.Org, cfg.Teams.Admins), Reviewers: config.QualifiedTeams(cfg.GitHub.Org, cfg.Teams.AccessReviewers),
		Interval: cfg.AccessReview.Interval, Teams: roster, Members: roster})
	if err != nil {
		st.Close()
		return nil, err
	}
	return &accessReviewEnv{cfg: cfg, store: st, reviews: ar}, nil
}
