// Package evidencetest builds a realistic deploy history through the real
// bot.Service on a real store (on the test's engine, see storetest), with recording fakes for GitHub and
// the deploy engine, for the tests of the evidence pack and its commands.
package evidencetest

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// Repo is the repository of the generated history.
const Repo = "acme/shop"

// Start is when the generated history begins (UTC).
var Start = time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)

// FreezeStart is when canary's "quarter close" freeze window begins; it lasts 36 h.
var FreezeStart = Start.AddDate(0, 0, 10)

// People of the history. GitHub ids are fixed so separation of duties is
// checked by id as well as by login.
var (
	Alice   = bot.Identity{Login: "alice", GitHubID: 1}
	Bob     = bot.Identity{Login: "bob", GitHubID: 2}
	Carol   = bot.Identity{Login: "carol", GitHubID: 3}
	Dave    = bot.Identity{Login: "dave", GitHubID: 4}
	Erin    = bot.Identity{Login: "erin", GitHubID: 5}
	Frank   = bot.Identity{Login: "frank", GitHubID: 6}
	Gina    = bot.Identity{Login: "gina", GitHubID: 7}
	Hank    = bot.Identity{Login: "hank", GitHubID: 8}
	Mallory = bot.Identity{Login: "mallory", GitHubID: 66}
)

var (
	deployersTeam = bot.Team{Org: "acme", Slug: "deployers"}
	approversTeam = bot.Team{Org: "acme", Slug: "approvers"}
	oncallTeam    = bot.Team{Org: "acme", Slug: "oncall"}
	adminsTeam    = bot.Team{Org: "acme", Slug: "admins"}
	deployers     = []bot.Identity{Alice, Bob, Carol, Dave}
	approvers     = []bot.Identity{Carol, Dave, Erin, Frank, Hank}
)

func policyList() []*bot.EnvironmentPolicy {
	var out []*bot.EnvironmentPolicy
	for _, env := range Policies()[Repo] {
		out = append(out, env)
	}
	return out
}

// Policies returns the three environments: staging deploys without
// approval, canary needs one, production two (and is the production one).
func Policies() bot.PolicySet {
	base := func(env string, approvals int) *bot.EnvironmentPolicy {
		return &bot.EnvironmentPolicy{Repo: Repo, Environment: env, Deployers: []bot.Team{deployersTeam},
			Approvers: []bot.Team{approversTeam}, Emergency: []bot.Team{oncallTeam}, Admins: []bot.Team{adminsTeam},
			RequiredApprovals: approvals, ApprovalTTL: 4 * time.Hour, Branches: []string{"main"},
			RequirePRReview: approvals > 0, RequireChecks: true, Production: env == "production"}
	}
	canary := base("canary", 1)
	canary.FreezeWindows = []bot.FreezeWindow{{Name: "quarter close", Start: FreezeStart, End: FreezeStart.Add(36 * time.Hour)}}
	return bot.NewPolicySet(base("staging", 0), canary, base("production", 2))
}

// History is a generated history in a temp database.
type History struct {
	Store  *store.Store
	DBPath string // the database's location: a file, or a postgres:// URL
	Keys   audittest.Keys
	From   time.Time // the first request's day (00:00 UTC)
	To     time.Time // the day after the last entry (00:00 UTC)
	Clock  *Clock
	// Created counts requests created by environment.
	Created map[string]int
	// Rollbacks, Emergencies and Refused count what was generated.
	Rollbacks, Emergencies, Refused int
}

// Build generates n deploy requests through bot.Service, with refusals,
// expiries, failed deploys rolled back, rollbacks, emergency changes,
// locks, identity links and an access revocation, drawn from seed.
func Build(t testing.TB, n int, seed uint64) *History {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	h := &History{DBPath: storetest.LocationIn(t, dir), Keys: audittest.NewKeys(t, dir, audittest.KeyName),
		Clock: &Clock{now: Start}, Created: map[string]int{}}
	st, err := store.Open(ctx, h.DBPath, store.Options{Signer: h.Keys.Signer, CheckpointEvery: 64,
		Now: h.Clock.Now, Synchronous: "OFF"})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	h.Store = st
	g := &generator{t: t, ctx: ctx, h: h, rng: rand.New(rand.NewPCG(seed, seed+1)),
		dir: newDirectory(), changes: &Changes{prs: map[string]*bot.PullRequest{}, checks: map[string][]bot.CheckResult{},
			main: map[string]bool{}}, deployer: &Deployer{clock: h.Clock}}
	g.svc, err = bot.New(bot.Config{Store: st, Directory: g.dir, Changes: g.changes, Deployer: g.deployer,
		Policies: Policies(), Clock: h.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	g.reviews, err = g.svc.AccessReviews(bot.AccessReviewConfig{Org: "acme", Environments: policyList(),
		Admins: []bot.Team{adminsTeam}, Reviewers: []bot.Team{{Org: "acme", Slug: "access-reviewers"}},
		Teams: g.dir, Members: g.dir})
	if err != nil {
		t.Fatal(err)
	}
	g.run(n)
	if _, err := st.Audit().Checkpoint(ctx); err != nil {
		t.Fatalf("final checkpoint: %v", err)
	}
	h.From = Start.Truncate(24 * time.Hour)
	h.To = h.Clock.Now().Truncate(24 * time.Hour).Add(24 * time.Hour)
	return h
}

type generator struct {
	t        testing.TB
	ctx      context.Context
	h        *History
	rng      *rand.Rand
	svc      *bot.Service
	dir      *Directory
	changes  *Changes
	deployer *Deployer
	reviews  *bot.AccessReviews
	key      int
}

func (g *generator) tick(d time.Duration) { g.h.Clock.Advance(d) }

func (g *generator) pick(people []bot.Identity, not ...bot.Identity) bot.Identity {
	for {
		p := people[g.rng.IntN(len(people))]
		ok := true
		for _, x := range not {
			ok = ok && !p.Same(x)
		}
		if ok {
			return p
		}
	}
}

func (g *generator) submit(in bot.NewRequest) (bot.Outcome, error) {
	g.key++
	in.SourceKey = fmt.Sprintf("gen:%d", g.key)
	in.Repo = Repo
	out, err := g.svc.Submit(g.ctx, in)
	if out.Created {
		g.h.Created[in.Environment]++
	}
	if _, refused := bot.AsRefusal(err); refused {
		g.h.Refused++
		return out, nil
	}
	return out, err
}

func (g *generator) must(err error, what string) {
	g.t.Helper()
	if _, refused := bot.AsRefusal(err); err != nil && !refused {
		g.t.Fatalf("%s: %v", what, err)
	}
}

// run generates n requests.
func (g *generator) run(n int) {
	g.must(g.svc.LinkIdentity(g.ctx, proved(bot.Link{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U1"}, GitHubLogin: "alice", GitHubID: 1}, g.h.Clock.Now())), "link alice")
	g.must(g.svc.LinkIdentity(g.ctx, proved(bot.Link{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U6"}, GitHubLogin: "frank", GitHubID: 6}, g.h.Clock.Now())), "link frank")
	g.accessReview(bot.AccessNoChanges, "")
	for i := 1; len(g.h.Created) == 0 || total(g.h.Created) < n; i++ {
		g.tick(time.Duration(60+g.rng.IntN(120)) * time.Minute)
		switch {
		case i%53 == 0:
			g.rollback()
		case i%61 == 0:
			g.emergency(i)
		default:
			g.change(i)
		}
		if i == n*2/3 { // frank leaves the company: his Slack link and pending approvals go
			g.dir.remove("approvers", "frank")
			g.must(g.svc.AccessRevoked(g.ctx, Frank, "membership webhook"), "revoke frank")
			g.accessReview(bot.AccessChangesNeeded, "frank left; confirm his SSH access is gone too")
		}
		if _, err := g.svc.ExpireStale(g.ctx); err != nil {
			g.t.Fatalf("expire: %v", err)
		}
	}
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// change merges PR #i and asks to deploy it somewhere.
func (g *generator) change(i int) {
	author := g.pick(deployers)
	sha := shaOf(i)
	reviewer := g.pick(approvers, author)
	pr := &bot.PullRequest{Number: i, Author: author, Title: fmt.Sprintf("Change %d", i), HeadRef: fmt.Sprintf("feature-%d", i),
		HeadSHA: shaOf(-i), MergedSHA: sha, Merged: true, MergedBy: author,
		Reviews: []bot.Review{{User: reviewer, State: bot.ReviewApproved, CommitID: shaOf(-i), SubmittedAt: g.h.Clock.Now().Add(-30 * time.Minute), Permission: "write"}}}
	checks := []bot.CheckResult{{Name: "ci/test", State: bot.CheckSuccess}, {Name: "lint", State: bot.CheckSuccess}}
	if i%23 == 0 {
		checks[0].State = bot.CheckFailure
	}
	g.changes.merge(sha, pr, checks)

	env := "staging"
	switch r := g.rng.IntN(20); {
	case r < 7:
		env = "production"
	case r < 10:
		env = "canary"
	}
	requester := g.pick(deployers)
	if i%31 == 0 {
		requester = Mallory // not a deployer: the policy refuses
	}
	out, err := g.submit(bot.NewRequest{Environment: env, SHA: sha, Trigger: bot.TriggerSlack, Requester: requester,
		Reason: fmt.Sprintf("ship change %d", i)})
	g.must(err, "submit")
	if !out.Created || out.Request.State != bot.StateAwaitingApproval {
		g.process()
		return
	}
	r := out.Request
	if i%41 == 0 { // nobody approves in time
		g.tick(5 * time.Hour)
		return
	}
	if i%7 == 0 { // the requester tries to approve their own deploy
		_, err := g.svc.Approve(g.ctx, bot.ApproveInput{RequestID: r.ID, Approver: requester})
		g.must(err, "self approval")
		g.h.Refused++
	}
	var got []bot.Identity
	for len(got) < r.RequiredApprovals {
		g.tick(time.Duration(1+g.rng.IntN(90)) * time.Minute)
		a := g.pick(g.dir.approvers(), append(got, requester, author)...)
		_, err := g.svc.Approve(g.ctx, bot.ApproveInput{RequestID: r.ID, Approver: a, Nonce: r.ApprovalNonce, RequireNonce: true})
		if err != nil {
			g.t.Fatalf("approve %s by %s: %v", r.ID, a.Login, err)
		}
		got = append(got, a)
	}
	g.tick(time.Duration(1+g.rng.IntN(5)) * time.Minute)
	g.process()
}

// rollback rolls staging back, which locks it for the person rolling
// back; a deploy by someone else is refused until they unlock.
func (g *generator) rollback() {
	who := g.pick(deployers)
	out, err := g.submit(bot.NewRequest{Environment: "staging", Trigger: bot.TriggerRollback, Requester: who, Reason: "bad release"})
	g.must(err, "rollback")
	if !out.Created {
		return
	}
	g.h.Rollbacks++
	g.process()
	g.tick(10 * time.Minute)
	other := g.pick(deployers, who)
	_, err = g.submit(bot.NewRequest{Environment: "staging", SHA: g.changes.head(), Trigger: bot.TriggerSlack, Requester: other})
	g.must(err, "deploy while locked")
	g.tick(20 * time.Minute)
	g.must(g.svc.UnlockEnvironment(g.ctx, Repo, "staging", who), "unlock")
}

// emergency ships a hotfix to production through the emergency path.
func (g *generator) emergency(i int) {
	sha := shaOf(i)
	pr := &bot.PullRequest{Number: i, Author: Gina, Title: "Hotfix", HeadRef: fmt.Sprintf("hotfix-%d", i), HeadSHA: shaOf(-i),
		MergedSHA: sha, Merged: true, MergedBy: Gina,
		Reviews: []bot.Review{{User: Carol, State: bot.ReviewApproved, CommitID: shaOf(-i), SubmittedAt: g.h.Clock.Now().Add(-5 * time.Minute), Permission: "write"}}}
	g.changes.merge(sha, pr, []bot.CheckResult{{Name: "ci/test", State: bot.CheckSuccess}})
	out, err := g.submit(bot.NewRequest{Environment: "production", SHA: sha, Trigger: bot.TriggerEmergency,
		Requester: Gina, Reason: fmt.Sprintf("INC-%d checkout down", i)})
	g.must(err, "emergency")
	if !out.Created {
		return
	}
	g.h.Emergencies++
	g.process()
	switch g.h.Emergencies {
	case 1: // reviewed in time
		g.tick(3 * time.Hour)
		_, err = g.svc.ReviewEmergency(g.ctx, out.Request.ID, Carol, bot.ReviewAcceptable, "")
		g.must(err, "review emergency")
	case 2: // reviewed late, and found wanting
		g.tick(30 * time.Hour)
		_, err = g.svc.ReviewEmergency(g.ctx, out.Request.ID, Dave, bot.ReviewNotAcceptable, "no incident ticket linked")
		g.must(err, "review emergency")
	}
}

// accessReview snapshots who can do what and has erin sign it off.
func (g *generator) accessReview(outcome bot.AccessReviewOutcome, note string) {
	r, err := g.reviews.Snapshot(g.ctx, "tollgate")
	g.must(err, "access review snapshot")
	g.tick(2 * time.Hour)
	_, err = g.reviews.SignOff(g.ctx, r.ID, Erin, outcome, note)
	g.must(err, "access review sign-off")
}

func (g *generator) process() {
	if _, err := g.svc.ProcessQueue(g.ctx); err != nil {
		g.t.Fatalf("process queue: %v", err)
	}
	g.attest()
}

// attest records, as the server does once a release that went live is
// attested on its servers, a release.attested entry for each request the
// queue just ran to success (the envelope's digest stands in for one).
func (g *generator) attest() {
	for _, id := range g.deployer.took() {
		r, err := g.h.Store.Request(g.ctx, id)
		g.must(err, "read request "+id)
		if r.State != bot.StateSucceeded || r.Result == nil || r.Result.Release == "" {
			continue
		}
		digest := sha256.Sum256([]byte("attestation " + id))
		err = g.h.Store.AppendAudit(g.ctx, bot.AuditEvent{Actor: "tollgate", Action: store.ActionReleaseAttested, Subject: id,
			Data: map[string]any{"repo": r.Repo, "environment": r.Environment, "release": r.Result.Release,
				"servers": r.Result.Servers, "digest": fmt.Sprintf("sha256:%x", digest)}})
		g.must(err, "attest "+id)
	}
}

func shaOf(i int) string {
	sum := sha1.Sum([]byte(fmt.Sprint(i)))
	return hex.EncodeToString(sum[:])
}

// Clock is a settable clock shared by the store and the service.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the current fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// proved adds to l the two proofs a link needs (Sign in with Slack and
// GitHub OAuth in one browser session), as the linking records them.
func proved(l bot.Link, at time.Time) bot.Link {
	l.Proofs = []bot.IdentityProof{
		{Side: bot.ProofChat, Method: "slack_openid_connect", Account: l.Chat.Workspace + "/" + l.Chat.User, Subject: l.Chat.User, At: at},
		{Side: bot.ProofGitHub, Method: "github_oauth_pkce", Account: l.GitHubLogin, At: at},
	}
	return l
}
