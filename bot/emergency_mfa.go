package bot

import (
	"context"
	"time"
)

// emergencyProof checks the requester's security key assertion over an
// emergency change where the environment requires one, once the SHA is
// resolved: it must be bound to this ask (its source key), the SHA, the
// policy, the reason and ticket, and made with the requester's own key.
// It returns the proof to record, nil when none is needed or none was
// given (the policy check then fails), or a *Refusal.
func (s *Service) emergencyProof(ctx context.Context, in NewRequest, r *Request, p *EnvironmentPolicy, now time.Time) (*MFAProof, error) {
	if in.Trigger != TriggerEmergency || !p.EmergencyRequireWebAuthn || in.MFA == nil {
		return nil, nil
	}
	want := EmergencyChallenge(in.SourceKey, r.SHA, p.Hash(), in.Reason)
	if ref := checkMFA(in.MFA, want, in.Requester, now, "an emergency change to "+r.Environment); ref != nil {
		return nil, ref
	}
	ref, err := s.mfaCredentialOwned(ctx, in.MFA, in.Requester)
	if err != nil {
		return nil, err
	}
	if ref != nil {
		return nil, ref
	}
	s.recordMFAUse(ctx, in.MFA, now)
	return in.MFA, nil
}

// EmergencyChallenge is what the requester's assertion over an emergency
// change is bound to, without its nonce and expiry: the ask (its source
// key), the SHA, the policy hash and the reason given (which names the
// ticket, when there is one).
func EmergencyChallenge(sourceKey, sha, configHash, reason string) MFAChallenge {
	return MFAChallenge{Purpose: MFAEmergencyDeploy, RequestID: sourceKey, SHA: sha, ConfigHash: configHash,
		Detail: MFADetail(reason)}
}

// withProof records the assertion in request.created, the first event.
func withProof(events []AuditEvent, proof *MFAProof) {
	if proof == nil || len(events) == 0 {
		return
	}
	if data, ok := events[0].Data.(map[string]any); ok {
		data["mfa"] = proof
	}
}

// EmergencyReviewChallenge is what a reviewer's assertion over the review
// of emergency change rev is bound to, without nonce and expiry: the
// change, its SHA, the policy in force and the verdict with its note.
func EmergencyReviewChallenge(rev EmergencyReview, configHash string, outcome ReviewOutcome, note string) MFAChallenge {
	return MFAChallenge{Purpose: MFAEmergencyReview, RequestID: rev.RequestID, SHA: rev.SHA, ConfigHash: configHash,
		Detail: MFADetail(string(outcome), note)}
}

// reviewProof checks the reviewer's assertion over the review of rev.
func (s *Service) reviewProof(ctx context.Context, proof *MFAProof, rev EmergencyReview, p *EnvironmentPolicy, by Identity,
	outcome ReviewOutcome, note string, now time.Time) (*Refusal, error) {
	want := EmergencyReviewChallenge(rev, p.Hash(), outcome, note)
	if ref := checkMFA(proof, want, by, now, "reviewing emergency changes to "+rev.Environment); ref != nil {
		return ref, nil
	}
	ref, err := s.mfaCredentialOwned(ctx, proof, by)
	if ref == nil && err == nil {
		s.recordMFAUse(ctx, proof, now)
	}
	return ref, err
}

// ResolveEmergency says what an emergency change asked for would deploy,
// for the page where its requester confirms it with a security key: the
// commit in.Ref points to now and the hash of the policy in force, which
// the assertion is bound to. A *Refusal when the environment is not
// configured or the ref does not resolve; nothing is recorded.
func (s *Service) ResolveEmergency(ctx context.Context, in NewRequest) (sha, configHash string, err error) {
	p, ok := s.policies.Environment(in.Repo, in.Environment)
	if !ok {
		return "", "", refuse(CodeUnknownEnv, "%s has no environment %q", in.Repo, in.Environment)
	}
	r := Request{Repo: in.Repo, Environment: in.Environment, Ref: in.Ref, SHA: in.SHA, Trigger: TriggerEmergency}
	if r.Ref == "" && r.SHA == "" {
		r.Ref = p.DefaultRef()
	}
	if err := s.resolveTarget(ctx, &r); err != nil {
		return "", "", err
	}
	return r.SHA, p.Hash(), nil
}
