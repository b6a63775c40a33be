package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Drift detection (issue 13): a scheduled check compares what runs on
// every server of an environment with what Tollgate put live there. The
// check itself (SSH, hashing) is the deploy engine's; deciding what a
// check means and recording it is the domain's.

// Audit actions and the notification of drift.
const (
	// ActionDriftDetected: a drift check found a server that differs from
	// the release Tollgate put live; recorded once per distinct finding.
	ActionDriftDetected = "release.drift_detected"
	// ActionDriftCleared: a complete check found every server clean again
	// after a drift.
	ActionDriftCleared = "release.drift_cleared"
	// NotifyDriftDetected: Notification.Drift drifted; tell the
	// environment's channel.
	NotifyDriftDetected NotificationKind = "drift_detected"
)

// LiveRelease is what Tollgate put live last on an environment: the
// trusted side of a drift check.
type LiveRelease struct {
	RequestID      string // the request that put it live (a deploy or a rollback)
	Release        string
	ManifestDigest string // recorded when the release was deployed
}

// RequestLister lists requests; Store implements it.
type RequestLister interface {
	ListRequests(ctx context.Context, f RequestFilter) ([]Request, error)
}

// liveSearch bounds how many succeeded requests FindDeployOf reads to
// find the deploy of a release a rollback went back to.
const liveSearch = 500

// FindLiveRelease returns what Tollgate put live last on repo/env: the
// release of the last succeeded request (LiveRequest), with the manifest
// digest recorded by the deploy that created that release (a rollback's
// own digest was read from a server, so the deploy's is used). ok is false
// when nothing was put live yet.
func FindLiveRelease(ctx context.Context, rs RequestLister, repo, env string) (LiveRelease, bool, error) {
	live, ok, err := LiveRequest(ctx, rs, repo, env)
	if err != nil || !ok || live.Result == nil || live.Result.Release == "" {
		return LiveRelease{}, false, err
	}
	out := LiveRelease{RequestID: live.ID, Release: live.Result.Release}
	if live.Trigger != TriggerRollback {
		out.ManifestDigest = live.Result.ManifestDigest
		return out, true, nil
	}
	if d, found, err := FindDeployOf(ctx, rs, repo, env, out.Release); err != nil {
		return LiveRelease{}, false, err
	} else if found {
		out.ManifestDigest = d.Result.ManifestDigest
	}
	return out, true, nil
}

// FindDeployOf returns the succeeded deploy (not a rollback) that created
// release on repo/env: what Tollgate recorded of it when it verified every
// file (commit, manifest digest). A rollback reads both back from a server,
// so this is what a rollback's record is checked against. ok is false when
// none is among the last liveSearch succeeded requests.
func FindDeployOf(ctx context.Context, rs RequestLister, repo, env, release string) (Request, bool, error) {
	list, err := rs.ListRequests(ctx, RequestFilter{Repo: repo, Environment: env, States: []State{StateSucceeded}, Limit: liveSearch, ByFinish: true})
	if err != nil {
		return Request{}, false, fmt.Errorf("finding the deploy of release %s on %s %s: %w", release, repo, env, err)
	}
	for _, r := range list { // newest first
		if r.Trigger != TriggerRollback && r.Result != nil && r.Result.Release == release && r.Result.ManifestDigest != "" {
			return r, true, nil
		}
	}
	return Request{}, false, nil
}

// DriftCheck is one drift check of an environment, as recorded.
type DriftCheck struct {
	ID          int64
	Repo        string
	Environment string
	CheckedAt   time.Time
	Expected    LiveRelease
	Servers     []DriftServer
	// Alerted is when the environment's channel was told of this check's
	// drift (zero: not, or not yet).
	Alerted time.Time
}

// DriftServer is one server's part of a check.
type DriftServer struct {
	Server      string              `json:"server"`
	Live        string              `json:"live,omitempty"`        // release current points at
	Attestation string              `json:"attestation,omitempty"` // missing, present, verified, invalid
	Paths       map[string][]string `json:"paths,omitempty"`       // drifted paths by kind: changed, added, removed, mode_changed
	Findings    []string            `json:"findings,omitempty"`    // other problems, each "kind: detail"
	Error       string              `json:"error,omitempty"`       // could not be checked
}

// Drifted reports whether the server differs from what Tollgate put live.
func (s DriftServer) Drifted() bool { return len(s.Paths) > 0 || len(s.Findings) > 0 }

// Drifted reports whether any server drifted.
func (c DriftCheck) Drifted() bool {
	for _, s := range c.Servers {
		if s.Drifted() {
			return true
		}
	}
	return false
}

// Complete reports whether every server was checked.
func (c DriftCheck) Complete() bool {
	for _, s := range c.Servers {
		if s.Error != "" {
			return false
		}
	}
	return true
}

// Fingerprint identifies the check's drift: the same servers with the
// same paths and findings give the same fingerprint, so one finding is
// announced once however many checks see it. "" when nothing drifted.
func (c DriftCheck) Fingerprint() string {
	if !c.Drifted() {
		return ""
	}
	type part struct {
		Server   string
		Live     string
		Paths    map[string][]string
		Findings []string
	}
	var parts []part
	for _, s := range c.Servers {
		if s.Drifted() {
			parts = append(parts, part{s.Server, s.Live, s.Paths, s.Findings})
		}
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Server < parts[j].Server })
	b, _ := json.Marshal(struct {
		Release string
		Parts   []part
	}{c.Expected.Release, parts})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// DriftStore keeps drift checks.
type DriftStore interface {
	// LastDriftCheck returns the newest check of repo/env that was
	// complete or found drift (one that could reach only some servers and
	// found nothing proves nothing), ok false when there is none.
	LastDriftCheck(ctx context.Context, repo, env string) (DriftCheck, bool, error)
	// RecordDriftCheck stores c with events in one transaction and
	// returns its id.
	RecordDriftCheck(ctx context.Context, c DriftCheck, events []AuditEvent) (int64, error)
	// MarkDriftAlerted records that check id's drift was announced.
	MarkDriftAlerted(ctx context.Context, id int64, at time.Time) error
}

// DriftOutcome is what RecordDrift did.
type DriftOutcome struct {
	Recorded DriftCheck
	Detected bool // a new finding: release.drift_detected appended
	Cleared  bool // clean after a drift: release.drift_cleared appended
	Alerted  bool // the environment's channel was told
}

// RecordDrift records check c and what it means against the previous
// check: a drift not seen before appends release.drift_detected (subject
// "<repo> <environment>"; data: the live request, the release, and per
// server the paths by kind), a complete clean check after a drift appends
// release.drift_cleared. The channel is told of a drift until a check
// records it was (deduplicated in the database, so a restart or a new
// leader neither repeats nor loses an alert): a failed alert is retried
// by the next check, a delivered one is not repeated for the same finding
// (unless the process dies between posting it and recording it).
func RecordDrift(ctx context.Context, st DriftStore, n Notifier, c DriftCheck) (DriftOutcome, error) {
	var out DriftOutcome
	prev, had, err := st.LastDriftCheck(ctx, c.Repo, c.Environment)
	if err != nil {
		return out, fmt.Errorf("drift check of %s %s: reading the previous check: %w", c.Repo, c.Environment, err)
	}
	subject := c.Repo + " " + c.Environment
	fp := c.Fingerprint()
	sameAsBefore := had && fp != "" && prev.Fingerprint() == fp
	var events []AuditEvent
	switch {
	case fp != "" && !sameAsBefore:
		out.Detected = true
		events = append(events, AuditEvent{Actor: "tollgate", Action: ActionDriftDetected, Subject: subject, Data: driftData(c)})
	case fp == "" && c.Complete() && had && prev.Drifted():
		out.Cleared = true
		events = append(events, AuditEvent{Actor: "tollgate", Action: ActionDriftCleared, Subject: subject, Data: map[string]any{
			"repo": c.Repo, "environment": c.Environment, "request_id": c.Expected.RequestID, "release": c.Expected.Release,
			"drift_since": prev.CheckedAt}})
	}
	if sameAsBefore && !prev.Alerted.IsZero() {
		c.Alerted = prev.Alerted // announced already
	}
	id, err := st.RecordDriftCheck(ctx, c, events)
	if err != nil {
		return out, fmt.Errorf("drift check of %s %s: %w", c.Repo, c.Environment, err)
	}
	c.ID = id
	out.Recorded = c
	if fp == "" || !c.Alerted.IsZero() || n == nil {
		return out, nil
	}
	check := c
	if err := n.Notify(ctx, Notification{Kind: NotifyDriftDetected, Drift: &check, Request: Request{Repo: c.Repo, Environment: c.Environment}}); err != nil {
		return out, fmt.Errorf("drift alert for %s %s (the next check retries): %w", c.Repo, c.Environment, err)
	}
	at := c.CheckedAt
	if err := st.MarkDriftAlerted(ctx, id, at); err != nil {
		return out, fmt.Errorf("drift alert for %s %s sent, recording it: %w", c.Repo, c.Environment, err)
	}
	out.Alerted = true
	out.Recorded.Alerted = at
	return out, nil
}

// driftData is release.drift_detected's data.
func driftData(c DriftCheck) map[string]any {
	var servers []map[string]any
	for _, s := range c.Servers {
		if !s.Drifted() {
			continue
		}
		m := map[string]any{"server": s.Server, "live": s.Live}
		if len(s.Paths) > 0 {
			m["paths"] = s.Paths
		}
		if len(s.Findings) > 0 {
			m["findings"] = s.Findings
		}
		servers = append(servers, m)
	}
	return map[string]any{"repo": c.Repo, "environment": c.Environment, "request_id": c.Expected.RequestID,
		"release": c.Expected.Release, "manifest_digest": c.Expected.ManifestDigest, "checked_at": c.CheckedAt, "servers": servers}
}
