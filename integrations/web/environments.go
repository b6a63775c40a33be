package web

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

// recentPerEnvironment is how many past requests each environment lists.
const recentPerEnvironment = 5

// environmentsView is what the environments page renders.
type environmentsView struct {
	Now   time.Time
	Repos []repoView
}

type repoView struct {
	Name         string
	Environments []envView
}

// envView is one environment: what runs there, what is pending, its lock
// and freeze windows, and its latest requests.
type envView struct {
	Name       string
	Production bool
	Live       *bot.Request
	Active     []bot.Request
	Recent     []bot.Request
	Lock       *bot.Lock
	Freezes    []freezeView
	Approvals  int
	Deployers  string
	Approvers  string
	// Drift is the environment's last drift check; nil when never checked.
	Drift *bot.DriftCheck
}

// DriftChecks reads drift checks; *store.Store implements it.
type DriftChecks interface {
	// LatestDriftChecks returns the newest check of every environment checked.
	LatestDriftChecks(ctx context.Context) ([]bot.DriftCheck, error)
}

// freezeView is one freeze window and whether it is in force now.
type freezeView struct {
	Name   string
	When   string
	Active bool
	Until  time.Time
}

// environmentsPage is GET /environments.
func (h *Handler) environmentsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := h.now()
	v := &environmentsView{Now: now}
	drift := map[string]*bot.DriftCheck{}
	if h.cfg.Drift != nil {
		checks, err := h.cfg.Drift.LatestDriftChecks(ctx)
		if err != nil {
			h.internalError(w, r, "read the drift checks", err)
			return
		}
		for i := range checks {
			drift[checks[i].Repo+"\x00"+checks[i].Environment] = &checks[i]
		}
	}
	policies := h.cfg.Environments()
	sort.SliceStable(policies, func(i, j int) bool {
		if policies[i].Repo != policies[j].Repo {
			return policies[i].Repo < policies[j].Repo
		}
		return policies[i].Environment < policies[j].Environment
	})
	for _, p := range policies {
		e := envView{Name: p.Environment, Production: p.Production, Approvals: p.RequiredApprovals,
			Deployers: teamList(p.Deployers), Approvers: teamList(p.Approvers), Drift: drift[p.Repo+"\x00"+p.Environment]}
		live, ok, err := h.cfg.Requests.Live(ctx, p.Repo, p.Environment)
		if err != nil {
			h.internalError(w, r, "read what runs on "+p.Repo+" "+p.Environment, err)
			return
		}
		if ok {
			e.Live = &live
		}
		if e.Active, err = h.cfg.Requests.Active(ctx, p.Repo, p.Environment); err != nil {
			h.internalError(w, r, "read the pending requests of "+p.Repo+" "+p.Environment, err)
			return
		}
		if e.Recent, err = h.cfg.Requests.History(ctx, p.Repo, p.Environment, recentPerEnvironment); err != nil {
			h.internalError(w, r, "read the history of "+p.Repo+" "+p.Environment, err)
			return
		}
		if e.Lock, err = h.cfg.Requests.EnvironmentLock(ctx, p.Repo, p.Environment); err != nil {
			h.internalError(w, r, "read the lock of "+p.Repo+" "+p.Environment, err)
			return
		}
		for _, f := range p.FreezeWindows {
			active, until := f.ActiveAt(now)
			e.Freezes = append(e.Freezes, freezeView{Name: f.Name, When: describeFreeze(f), Active: active, Until: until})
		}
		if n := len(v.Repos); n == 0 || v.Repos[n-1].Name != p.Repo {
			v.Repos = append(v.Repos, repoView{Name: p.Repo})
		}
		last := &v.Repos[len(v.Repos)-1]
		last.Environments = append(last.Environments, e)
	}
	h.render(w, r, http.StatusOK, "environments", pageData{Title: "Environments", Nav: "environments", Environments: v})
}

func teamList(ts []bot.Team) string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	return strings.Join(out, ", ")
}

// describeFreeze says when a window applies, in its own time zone.
func describeFreeze(f bot.FreezeWindow) string {
	if w := f.Weekly; w != nil {
		loc := "UTC"
		if w.Location != nil {
			loc = w.Location.String()
		}
		return fmt.Sprintf("every %s %s to %s %s (%s)", w.StartDay, clock(w.StartTime), w.EndDay, clock(w.EndTime), loc)
	}
	const layout = "2006-01-02 15:04 MST"
	return f.Start.Format(layout) + " to " + f.End.Format(layout)
}

func clock(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}
