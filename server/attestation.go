package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/integrations/web"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// attestationDestination is the outbox destination that attests every
// release that goes live (docs/attestation.md). The outbox hands it each
// request notification exactly once to completion, retried with backoff
// and surviving restarts; it acts on a finished request that succeeded on
// SSH servers:
//
//  1. sign an audit checkpoint covering the request's entries (at once: the
//     outbox delivers right after the deploy finished),
//  2. build the predicate from the request, prove each of its entries
//     against that checkpoint, sign the Statement with the attestation key,
//  3. store the envelope (the first one signed is kept, so a retry writes
//     the same bytes),
//  4. write it to releases/<name>/.tollgate/attestation.dsse.json on every
//     server (a failure is returned: the outbox retries),
//  5. append release.attested (with the envelope's digest) and mark it
//     written, in one transaction, once.
//
// Each step is idempotent, so a crash anywhere repeats only what was not
// finished.
type attestationDestination struct {
	store  *store.Store
	key    *attest.SigningKey // nil: no attestation.signing_key_file; releases go live unattested (logged)
	writer attestationWriter
	// hasServers reports whether repo's env deploys over SSH (the only
	// releases with servers to write to).
	hasServers func(repo, env string) bool
	// reviewWithin is the emergency review period of repo's env.
	reviewWithin func(repo, env string) time.Duration
	now          func() time.Time
	log          *slog.Logger
}

// loadAttestationKey reads attestation.signing_key_file. Without one the
// server starts (attestations are added to an install, not required to
// upgrade it) but says loudly, at start and for every release that goes
// live, that releases are not attested; doctor shows it as a failure and
// the evidence pack lists every such change as an exception.
func loadAttestationKey(cfg *config.Config, log *slog.Logger) (*attest.SigningKey, error) {
	if cfg.Attestation.SigningKeyFile == "" {
		log.Error("attestation.signing_key_file is not set: releases that go live are NOT attested (docs/attestation.md); create a key with tollgate keygen --attestation")
		return nil, nil
	}
	k, err := attest.LoadSigningKey(cfg.Attestation.SigningKeyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: attestation.signing_key_file: %w", ErrConfig, err)
	}
	return &k, nil
}

// attestationDestination builds the outbox destination that attests the
// releases w deploys.
func (s *Server) attestationDestination(w attestationWriter) *attestationDestination {
	return &attestationDestination{store: s.store, key: s.attestKey, writer: w, now: s.now,
		log: s.log.With("component", "attestation"),
		hasServers: func(repo, env string) bool {
			_, ok := s.live.Target(repo, env)
			return ok && s.live.TargetType(repo, env) == config.TargetSSH
		},
		reviewWithin: func(repo, env string) time.Duration {
			if p, ok := s.live.Environment(repo, env); ok && p.EmergencyReviewWithin > 0 {
				return p.EmergencyReviewWithin
			}
			return bot.DefaultEmergencyReviewWithin
		},
	}
}

// attestationWriter puts an envelope next to a release on every server of
// an environment (deploy.BotDeployer).
type attestationWriter interface {
	WriteAttestation(ctx context.Context, repo, env, release string, envelope []byte) error
}

// Notify implements bot.Notifier for the outbox.
func (d *attestationDestination) Notify(ctx context.Context, n bot.Notification) error {
	r := n.Request
	if !wentLive(n) || !d.hasServers(r.Repo, r.Environment) {
		return nil
	}
	if d.key == nil {
		d.log.ErrorContext(ctx, "release went live UNATTESTED: attestation.signing_key_file is not set",
			"request", r.ID, "environment", r.Repo+"/"+r.Environment, "release", r.Result.Release)
		return nil
	}
	a, err := d.store.Attestation(ctx, r.ID)
	if errors.Is(err, store.ErrNoAttestation) {
		a, err = d.sign(ctx, r)
	}
	var refused *unattestable
	if errors.As(err, &refused) {
		// Retrying cannot help, and would hold up the request's later
		// notifications: say it loudly; the audit log has no
		// release.attested, so the evidence pack lists the change.
		d.log.ErrorContext(ctx, "release went live UNATTESTED: its attestation cannot be signed", "request", r.ID,
			"environment", r.Repo+"/"+r.Environment, "release", r.Result.Release, "err", refused.err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("attest request %s: %w", r.ID, err)
	}
	if !a.WrittenAt.IsZero() {
		return nil
	}
	if err := d.writer.WriteAttestation(ctx, r.Repo, r.Environment, a.Release, a.Envelope); err != nil {
		return fmt.Errorf("attest request %s: %w", r.ID, err)
	}
	servers := make([]string, 0, len(r.Result.Servers))
	servers = append(servers, r.Result.Servers...)
	ev := audit.Event{Actor: "tollgate", Action: store.ActionReleaseAttested, Subject: r.ID, Data: map[string]any{
		"repo": r.Repo, "environment": r.Environment, "release": a.Release, "servers": servers, "digest": a.Digest}}
	if _, err := d.store.MarkAttestationWritten(ctx, r.ID, d.now().UTC(), ev); err != nil {
		return fmt.Errorf("attest request %s: %w", r.ID, err)
	}
	d.log.InfoContext(ctx, "release attested", "request", r.ID, "release", a.Release, "digest", a.Digest)
	return nil
}

// wentLive reports whether n is the end of a deploy or rollback that put
// a release live.
func wentLive(n bot.Notification) bool {
	r := n.Request
	return n.Kind == bot.NotifyFinished && r.State == bot.StateSucceeded && r.Result != nil &&
		r.Result.Result == bot.ResultSucceeded && r.Result.Release != ""
}

// unattestable is a request whose attestation cannot be signed whatever
// the retries: what it records does not make a valid predicate.
type unattestable struct{ err error }

func (u *unattestable) Error() string { return u.err.Error() }
func (u *unattestable) Unwrap() error { return u.err }

// sign checkpoints the audit log, builds and signs the request's
// attestation and stores it (or returns the one another attempt stored).
func (d *attestationDestination) sign(ctx context.Context, r bot.Request) (store.Attestation, error) {
	p, err := d.predicate(ctx, r)
	if err != nil {
		return store.Attestation{}, err
	}
	p.Audit, err = d.prove(ctx, r.ID)
	if err != nil {
		return store.Attestation{}, err
	}
	env, err := attest.Sign(ctx, *d.key, attest.Statement{ManifestDigest: r.Result.ManifestDigest, Predicate: p})
	if err != nil { // Sign refuses what its input is, every time
		return store.Attestation{}, &unattestable{err}
	}
	return d.store.SaveAttestation(ctx, store.Attestation{RequestID: r.ID, Repo: r.Repo, Environment: r.Environment,
		Release: r.Result.Release, Envelope: env, SignedAt: d.now().UTC()})
}

// prove signs a checkpoint covering every entry about the request so far
// and proves each entry against it.
func (d *attestationDestination) prove(ctx context.Context, requestID string) (attest.Audit, error) {
	log := d.store.Audit()
	cp, err := log.Checkpoint(ctx)
	if err != nil {
		return attest.Audit{}, err
	}
	entries, err := log.About(ctx, requestID)
	if err != nil {
		return attest.Audit{}, fmt.Errorf("audit entries of request %s: %w", requestID, err)
	}
	out := attest.Audit{Checkpoint: string(cp.Note)}
	for _, e := range entries {
		if e.Seq >= cp.Size {
			continue // appended after the checkpoint: not part of what went live
		}
		proof, err := log.ProveInclusionAt(ctx, e.Seq, cp)
		if err != nil {
			return attest.Audit{}, fmt.Errorf("prove audit entry %d of request %s: %w", e.Seq, requestID, err)
		}
		out.Entries = append(out.Entries, attest.AuditEntry{Seq: proof.Seq, At: proof.At, Actor: proof.Actor,
			Action: proof.Action, Subject: proof.Subject, Data: string(proof.Data), Proof: proof.Proof})
	}
	return out, nil
}

// predicate is what the attestation states about request r, which went
// live: everything but the audit proofs.
func (d *attestationDestination) predicate(ctx context.Context, r bot.Request) (attest.Predicate, error) {
	out := r.Result
	if r.Decision == nil {
		return attest.Predicate{}, &unattestable{fmt.Errorf("request %s has no policy decision", r.ID)}
	}
	commit := r.SHA
	if commit == "" {
		commit = out.SHA
	}
	if r.Trigger == bot.TriggerRollback {
		// A rollback read the release's manifest and commit back from a
		// server, where anyone with a shell could have rewritten both:
		// attest only what Tollgate recorded when it deployed and verified
		// the release, and nothing when the two differ.
		dep, ok, err := bot.FindDeployOf(ctx, d.store, r.Repo, r.Environment, out.Release)
		if err != nil {
			return attest.Predicate{}, err
		}
		switch {
		case !ok:
			return attest.Predicate{}, &unattestable{fmt.Errorf("rollback %s: Tollgate has no record of deploying release %s", r.ID, out.Release)}
		case dep.Result.ManifestDigest != out.ManifestDigest:
			return attest.Predicate{}, &unattestable{fmt.Errorf("rollback %s: release %s on the server has manifest %s, Tollgate deployed it with %s (request %s)",
				r.ID, out.Release, out.ManifestDigest, dep.Result.ManifestDigest, dep.ID)}
		}
		commit = dep.SHA // the release's own commit, as deployed
	}
	p := attest.Predicate{
		Repository: r.Repo, Environment: r.Environment, Commit: commit, Ref: r.Ref, Release: out.Release,
		RequestID: r.ID, Trigger: string(r.Trigger),
		Requester:         attest.Person{GitHubID: r.Requester.GitHubID, Login: r.Requester.Login},
		RequiredApprovals: r.RequiredApprovals,
		Policy:            attest.Policy{Hash: r.ConfigHash, DecidedAt: r.Decision.At},
		Reason:            r.Reason, Ticket: r.Ticket,
		StartedAt: firstSet(out.StartedAt, r.StartedAt), SwitchedAt: out.SwitchedAt,
		FinishedAt: firstSet(out.FinishedAt, r.FinishedAt), Result: string(out.Result),
	}
	for _, t := range out.Targets {
		p.Servers = append(p.Servers, attest.Server{Host: t.Host, Port: t.Port, HostKeySHA256: t.HostKeySHA256})
	}
	started := firstSet(r.StartedAt, out.StartedAt)
	for _, a := range r.ValidApprovals(started) {
		p.Approvals = append(p.Approvals, attest.Approval{Approver: attest.Person{GitHubID: a.Approver.GitHubID, Login: a.Approver.Login},
			At: a.At, Commit: a.SHA, PolicyHash: a.ConfigHash})
	}
	for _, c := range r.Decision.Checks {
		p.Policy.Checks = append(p.Policy.Checks, attest.Check{Name: c.Name, Outcome: string(c.Outcome), LookedUp: c.LookedUp, Detail: c.Detail})
	}
	if r.Trigger == bot.TriggerEmergency {
		p.Emergency = attest.Emergency{Declared: true, ReviewState: attest.ReviewPending,
			ReviewDueAt: firstSet(r.FinishedAt, out.FinishedAt).Add(d.reviewWithin(r.Repo, r.Environment))}
		if rev, err := d.store.EmergencyReview(ctx, r.ID); err == nil {
			p.Emergency.ReviewDueAt = rev.DueAt
			switch rev.Outcome {
			case bot.ReviewAcceptable:
				p.Emergency.ReviewState = attest.ReviewAcceptable
			case bot.ReviewNotAcceptable:
				p.Emergency.ReviewState = attest.ReviewNotAcceptable
			}
		} else if !errors.Is(err, bot.ErrNotFound) {
			return attest.Predicate{}, err
		}
	}
	return p, nil
}

func firstSet(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// webAttestations finds and verifies a request's attestation for the
// deployment page, with the keys in force (read at each view, so a reload
// applies): the attestation key's public half and those rotated out, and
// the audit keyring.
type webAttestations struct{ s *Server }

// Attestation implements web.Attestations.
func (w webAttestations) Attestation(ctx context.Context, requestID string) (web.Attestation, bool, error) {
	a, err := w.s.store.Attestation(ctx, requestID)
	if errors.Is(err, store.ErrNoAttestation) {
		return web.Attestation{}, false, nil
	}
	if err != nil {
		return web.Attestation{}, false, err
	}
	out := web.Attestation{Envelope: a.Envelope, Digest: a.Digest, WrittenAt: a.WrittenAt}
	keys, err := w.s.live.Current().AttestationKeys()
	if err != nil {
		out.Problem = err.Error()
		return out, true, nil
	}
	v, err := attest.Verify(ctx, a.Envelope, keys,
		attest.Expectations{Repository: a.Repo, Environment: a.Environment})
	if err != nil {
		out.Problem = err.Error()
		return out, true, nil
	}
	out.Verified = &v
	return out, true, nil
}
