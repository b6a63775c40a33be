package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"github.com/tollgate-dev/tollgate/server"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store"
)

func TestServeRefusesAnUnusableConfig(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	good, err := os.ReadFile(e.configPath)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		edit   func(string) string
		prep   func(t *testing.T)
		stderr []string
	}{
		{"two problems, both reported",
			func(s string) string {
				return strings.Replace(strings.Replace(s, "deployers: [deployers]", "deployers: [deployers]\n        colour: blue", 1),
					"checkpoint_every: 4", "checkpoint_every: 0", 1)
			}, nil,
			[]string{"invalid configuration", "tollgate.yml:7: audit.checkpoint_every", "colour"}},
		{"a freeze the policy cannot represent",
			func(s string) string {
				return strings.Replace(s, "deployers: [deployers]",
					"deployers: [deployers]\n        freeze:\n          - name: month-end\n            cron: \"0 0 28 * *\"\n            duration: 72h", 1)
			}, nil,
			[]string{"freeze[0]", "cron freeze windows were replaced by weekly windows"}},
		{"an SSH key with a passphrase", func(s string) string { return s },
			func(t *testing.T) { writeTestSSHKey(t, filepath.Join(e.dir, "staging_ed25519"), "passphrase") },
			[]string{"staging", "protected by a passphrase"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			writeTestFile(t, e.configPath, c.edit(string(good)))
			if c.prep != nil {
				c.prep(t)
			}
			var stderr syncBuffer
			code := serve(context.Background(), slog.New(slog.NewJSONHandler(&stderr, nil)), &stderr, server.RunOptions{ConfigPath: e.configPath})
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			for _, want := range c.stderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
			if _, err := os.Stat(e.dbPath); err == nil {
				t.Error("a database was created from an unusable config")
			}
		})
	}
	var stderr syncBuffer
	if code := runServe(context.Background(), nil, &stderr, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "--config") {
		t.Errorf("serve without --config: exit %d\n%s", code, stderr.String())
	}
}

func fileHash(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// waitAudit polls the database until an entry with action exists and
// returns the data of the entries with it.
func (e *e2e) waitAudit(t *testing.T, action string, n int) []map[string]any {
	t.Helper()
	var data []map[string]any
	waitFor(t, "audit "+action, func() bool {
		st, err := store.OpenReadOnly(context.Background(), e.dbPath)
		if err != nil {
			return false
		}
		defer st.Close()
		data = auditData(t, st, action)
		return len(data) >= n
	})
	return data
}

func TestServeReloadsTheConfiguration(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	e.start(t)
	first := fileHash(t, e.configPath)

	// Staging now needs an approval: the policy in force changes at once.
	e.writeConfig(t, "approvers: [approvers]\nrequired_approvals: 1")
	second := fileHash(t, e.configPath)
	e.reload <- struct{}{}
	reloaded := e.waitAudit(t, "config.reloaded", 1)
	if reloaded[0]["previous_hash"] != first || reloaded[0]["config_hash"] != second {
		t.Errorf("config.reloaded %v, want %s → %s", reloaded[0], first, second)
	}
	if code := e.sendMerge(t, "reload-merge-1"); code != 202 {
		t.Fatalf("merge: %d", code)
	}
	waitFor(t, "a PR comment asking for approval", func() bool {
		cs := e.gh.IssueComments(e2eRepo, 4)
		return len(cs) == 1 && strings.Contains(cs[0].Body, "is waiting for approval")
	})

	// An invalid file is refused and the previous configuration stays.
	writeTestFile(t, e.configPath, "listen: [not, an, address]\n")
	e.reload <- struct{}{}
	refused := e.waitAudit(t, "config.reload_refused", 1)
	if refused[0]["config_hash"] != second {
		t.Errorf("reload_refused %v: want the configuration in force (%s) named", refused[0], second)
	}
	if problems, _ := refused[0]["problems"].([]any); len(problems) == 0 {
		t.Errorf("reload_refused names no problem: %v", refused[0])
	}
	if code, body := e.get(t, "/readyz"); code != 200 {
		t.Errorf("readyz after a refused reload: %d %s", code, body)
	}
	if !strings.Contains(e.stderr.String(), "configuration reload refused") {
		t.Error("the refused reload was not logged")
	}
	if code := e.stop(t); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	st := e.openDB(t)
	if r := onlyRequest(t, st); r.State != bot.StateAwaitingApproval || r.RequiredApprovals != 1 {
		t.Errorf("request %s needs %d approvals; want awaiting 1", r.State, r.RequiredApprovals)
	}
	if len(auditData(t, st, "config.reloaded")) != 1 {
		t.Error("the refused reload was recorded as a reload")
	}
}

func TestServeShutdown(t *testing.T) {
	cases := []struct {
		name      string
		hook      string
		grace     time.Duration
		state     bot.State
		lastState string
		switched  bool
	}{
		{"running deploy finishes within the grace period", "sleep 2", time.Minute, bot.StateSucceeded, "success", true},
		{"deploy past the grace period is interrupted", "sleep 60", 500 * time.Millisecond, bot.StateInterrupted, "error", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newE2E(t, e2eOptions{beforeSwitch: c.hook, grace: c.grace})
			e.start(t)
			if code := e.sendMerge(t, "shutdown-1"); code != 202 {
				t.Fatalf("merge: %d", code)
			}
			e.deployment(t, "in_progress")
			began := time.Now()
			if code := e.stop(t); code != exitOK {
				t.Fatalf("exit %d\n%s", code, e.stderr.String())
			}
			if took := time.Since(began); c.state == bot.StateInterrupted && took > 45*time.Second {
				t.Errorf("shutdown took %s with a %s grace period", took, c.grace)
			}
			st := e.openDB(t)
			r := onlyRequest(t, st)
			if r.State != c.state {
				t.Errorf("request %s (%s), want %s", r.State, r.StateReason, c.state)
			}
			d := e.gh.Deployments(e2eRepo)[0]
			if last := d.Statuses[len(d.Statuses)-1].State; last != c.lastState {
				t.Errorf("last deployment status %s, want %s", last, c.lastState)
			}
			if got := e.current(t) != ""; got != c.switched {
				t.Errorf("current switched %v, want %v", got, c.switched)
			}
			// The request's end is recorded before the server's stop, which
			// a signed checkpoint covers.
			order := auditActions(t, st, r.ID)
			end := "deploy.finished"
			if c.state == bot.StateInterrupted {
				end = "deploy.interrupted"
			}
			if !slices.Contains(order, end) {
				t.Errorf("audit of %s lacks %s: %v", r.ID, end, order)
			}
			var endSeq, stopSeq int64
			if err := st.DB().QueryRow(`SELECT max(seq) FROM audit_entries WHERE action = ?`, end).Scan(&endSeq); err != nil {
				t.Fatal(err)
			}
			if err := st.DB().QueryRow(`SELECT max(seq) FROM audit_entries WHERE action = 'server.stopped'`).Scan(&stopSeq); err != nil {
				t.Fatal(err)
			}
			cp, ok, err := st.Audit().LatestCheckpoint(context.Background())
			if err != nil || !ok || endSeq >= stopSeq || cp.Size != stopSeq+1 {
				t.Errorf("end seq %d, stop seq %d, checkpoint %d (%v %v)", endSeq, stopSeq, cp.Size, ok, err)
			}
		})
	}
}

func TestServeMarksRequestsLeftRunningInterrupted(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	st, err := store.Open(context.Background(), e.dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	left := bot.Request{ID: "r-crash2", SourceKey: "crash-test", Repo: e2eRepo, Environment: "staging", Ref: "main",
		SHA: sha('c'), Trigger: bot.TriggerMerge, Requester: bot.Identity{Login: "alice", GitHubID: e.gh.UserID("alice")},
		State: bot.StateRunning, CreatedAt: now, UpdatedAt: now, QueuedAt: now, StartedAt: now}
	if _, _, err := st.CreateRequest(context.Background(), left, []bot.AuditEvent{{Actor: "test", Action: "request.created", Subject: left.ID}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	e.start(t)
	started := e.waitAudit(t, "server.started", 1)
	if started[0]["interrupted_requests"] != float64(1) {
		t.Errorf("server.started %v: want one interrupted request", started[0])
	}
	if code := e.stop(t); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	ro := e.openDB(t)
	r := onlyRequest(t, ro)
	if r.State != bot.StateInterrupted || !slices.Contains(auditActions(t, ro, r.ID), "deploy.interrupted") {
		t.Errorf("request %s, audit %v; want interrupted and audited", r.State, auditActions(t, ro, r.ID))
	}
}
