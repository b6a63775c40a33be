//go:build benchscale

package benchscale

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	"github.com/tollgate-dev/tollgate/integrations/web"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/evidence/evidencetest"
)

// readOnly is the domain's outbound side: the pages only read.
type readOnly struct{}

var errReadOnly = errors.New("the pages do not call out")

func (readOnly) IsTeamMember(context.Context, string, string, string) (bool, error) {
	return false, errReadOnly
}
func (readOnly) ResolveRef(context.Context, string, string) (string, error) { return "", errReadOnly }
func (readOnly) BranchContains(context.Context, string, string, string) (bool, error) {
	return false, errReadOnly
}
func (readOnly) PullRequestForCommit(context.Context, string, string) (*bot.PullRequest, error) {
	return nil, errReadOnly
}
func (readOnly) Checks(context.Context, string, string) ([]bot.CheckResult, error) {
	return nil, errReadOnly
}
func (readOnly) Deploy(context.Context, bot.DeployJob) (bot.DeployOutcome, error) {
	return bot.DeployOutcome{}, errReadOnly
}
func (readOnly) Rollback(context.Context, bot.DeployJob) (bot.DeployOutcome, error) {
	return bot.DeployOutcome{}, errReadOnly
}

// pages serves the web pages over the history as serve wires them, signs
// in through the fake GitHub, and times each page: the first view of
// /audit, then the median of warm views.
func pages(t *testing.T, h scaleHistory) []result {
	ctx := context.Background()
	st, err := store.Open(ctx, h.db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys, err := audit.LoadKeyring(h.pub)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := bot.New(bot.Config{Store: st, Directory: readOnly{}, Changes: readOnly{}, Deployer: readOnly{},
		Policies: evidencetest.Policies()})
	if err != nil {
		t.Fatal(err)
	}
	gh := githubtest.New()
	defer gh.Close()
	gh.AddOrgMember("acme", "alice", "member")
	id, secret := gh.AppOAuthClient()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	policies := evidencetest.Policies()
	var envs []*bot.EnvironmentPolicy
	for _, p := range policies[evidencetest.Repo] {
		envs = append(envs, p)
	}
	// The background verification starts with the server, as serve runs it.
	mon := audit.NewMonitor(st.DB(), func() (audit.Keyring, error) { return keys, nil }, audit.MonitorOptions{})
	monCtx, stopMon := context.WithCancel(ctx)
	monDone := make(chan struct{})
	defer func() { stopMon(); <-monDone }()
	pagesCfg := web.Config{
		Requests:     svc,
		Audit:        st.Audit(),
		AuditEntries: st.Audit().About,
		Verification: mon,
		Environments: func() []*bot.EnvironmentPolicy { return envs },
		OAuth: web.OAuth{WebURL: gh.URL() + "/", APIURL: gh.APIURL() + "/", ClientID: id, ClientSecret: secret,
			Org: "acme", HTTPClient: gh.Client()},
		PublicURL: srv.URL,
	}
	handler, err := web.New(pagesCfg)
	if err != nil {
		t.Fatal(err)
	}
	handler.Register(mux)

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 5 * time.Minute}
	gh.AuthorizeAs("alice")
	if resp, err := browser.Get(srv.URL + web.PathLogin); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	get := func(path string) time.Duration {
		start := time.Now()
		resp, err := browser.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s at %s", path, resp.Status, resp.Request.URL)
		}
		return took
	}
	median := func(f func() time.Duration) float64 {
		f() // warm
		var ds []time.Duration
		for range *reps {
			ds = append(ds, f())
		}
		slices.Sort(ds)
		return ds[len(ds)/2].Seconds()
	}
	var mid string
	if err := st.DB().QueryRow(`SELECT id FROM requests ORDER BY created_at LIMIT 1 OFFSET ?`, h.requests/2).Scan(&mid); err != nil {
		t.Fatal(err)
	}
	go func() { mon.Run(monCtx); close(monDone) }()
	first := get(web.PathAudit).Seconds()
	out := []result{{op: "/audit, first view after start", seconds: first}}
	for !mon.Status().Done {
		time.Sleep(10 * time.Millisecond)
	}
	vs := mon.Status()
	if !vs.Report.OK {
		t.Fatalf("background verification: %+v", vs)
	}
	out = append(out, result{op: "background verification of the log", seconds: vs.Finished.Sub(vs.Started).Seconds()})
	out = append(out,
		result{op: "/audit, latest page (warm)", seconds: median(func() time.Duration { return get(web.PathAudit) })},
		result{op: "/audit, a page deep in the log (warm)", seconds: median(func() time.Duration {
			return get(web.PathAudit + "?before=" + strconv.FormatInt(h.entries/2, 10))
		})},
		result{op: "/environments (warm)", seconds: median(func() time.Duration { return get(web.PathEnvironments) })},
		result{op: "/deployments/<id> (warm)", seconds: median(func() time.Duration { return get(web.PathDeployments + mid) })},
		result{op: "/deploy status reads (warm)", seconds: median(func() time.Duration {
			start := time.Now()
			for _, env := range []string{"production", "staging"} {
				if _, _, err := svc.Live(ctx, evidencetest.Repo, env); err != nil {
					t.Fatal(err)
				}
				if _, err := svc.Active(ctx, evidencetest.Repo, env); err != nil {
					t.Fatal(err)
				}
				if _, err := svc.History(ctx, evidencetest.Repo, env, 10); err != nil {
					t.Fatal(err)
				}
			}
			return time.Since(start)
		})},
	)
	return out
}
