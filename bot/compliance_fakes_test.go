package bot_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store"
)

// recorder keeps every notification whole, for tests that look at the
// audience and subject of compliance notifications.
type recorder struct {
	mu  sync.Mutex
	got []bot.Notification
}

func (r *recorder) Notify(_ context.Context, n bot.Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, n)
	return nil
}

// take returns the notifications of kind k since the last take, as
// "kind audience subject" lines, and forgets them.
func (r *recorder) take(kinds ...bot.NotificationKind) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	var keep []bot.Notification
	for _, n := range r.got {
		match := len(kinds) == 0
		for _, k := range kinds {
			match = match || n.Kind == k
		}
		if !match {
			keep = append(keep, n)
			continue
		}
		subject := n.Request.ID
		switch {
		case n.Lock != nil:
			subject = n.Lock.Repo + " " + n.Lock.Environment + " " + n.Lock.Owner.Login
		case n.AccessReview != nil:
			subject = n.AccessReview.ID
		}
		out = append(out, fmt.Sprintf("%s %s %s", n.Kind, n.Audience, subject))
	}
	r.got = keep
	return out
}

// complianceWorld is a world whose Service notifies a recorder.
type complianceWorld struct {
	*world
	rec *recorder
}

func newComplianceWorld(t *testing.T) *complianceWorld {
	t.Helper()
	w := newWorld(t)
	cw := &complianceWorld{world: w, rec: &recorder{}}
	cw.svc = cw.service(t, nil)
	return cw
}

// service builds a Service on the world's store; compliance overrides
// the compliance store when not nil.
func (w *complianceWorld) service(t *testing.T, compliance bot.ComplianceStore) *bot.Service {
	t.Helper()
	svc, err := bot.New(bot.Config{Store: w.store, Directory: w.dir, Changes: w.changes, Deployer: w.deployer,
		Notifier: w.rec, Policies: w.policies, Clock: w.clock.Now, Compliance: compliance})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// auditOf returns "action actor" lines of every audit entry with one of
// the given actions, in log order.
func (w *complianceWorld) auditOf(t *testing.T, actions ...string) []string {
	t.Helper()
	rows, err := w.store.DB().Query(`SELECT action, actor, subject FROM audit_entries ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a, actor, subject string
		if err := rows.Scan(&a, &actor, &subject); err != nil {
			t.Fatal(err)
		}
		for _, want := range actions {
			if a == want {
				out = append(out, a+" "+actor+" "+subject)
			}
		}
	}
	return out
}

// failingOpen is the real store except that opening emergency reviews fails.
type failingOpen struct{ *store.Store }

func (f failingOpen) OpenEmergencyReview(context.Context, bot.EmergencyReview, bot.AuditEvent) (bool, error) {
	return false, errors.New("disk full")
}

// storeOnly hides the store's compliance methods: a Service built on it
// has no ComplianceStore.
type storeOnly struct{ bot.Store }

// teamsDir answers TeamMembers and OrgMembers from the world's directory,
// so access reviews, reconciliation and live checks agree.
type teamsDir struct {
	dir     *directory
	org     map[string]int64 // login → id of organisation members
	failOrg bool
}

func (d *teamsDir) TeamMembers(_ context.Context, org, team string) ([]string, error) {
	d.dir.mu.Lock()
	defer d.dir.mu.Unlock()
	var out []string
	for login, ok := range d.dir.members[org+"/"+team] {
		if ok {
			out = append(out, login)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (d *teamsDir) OrgMembers(_ context.Context, org string) ([]bot.Member, error) {
	if d.failOrg {
		return nil, nil
	}
	var out []bot.Member
	for login, id := range d.org {
		out = append(out, bot.Member{Login: login, GitHubID: id})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Login < out[j].Login })
	return out, nil
}

// leave removes login from the organisation and every team.
func (d *teamsDir) leave(login string) {
	delete(d.org, login)
	d.dir.mu.Lock()
	defer d.dir.mu.Unlock()
	for _, m := range d.dir.members {
		delete(m, login)
	}
}

// at sets the clock to t0+d.
func (w *complianceWorld) at(d time.Duration) { w.clock.Advance(t0.Add(d).Sub(w.clock.Now())) }

func lines(ss []string) string { return strings.Join(ss, "\n") }
