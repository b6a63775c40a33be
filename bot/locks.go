package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// LockEnvironment locks repo/env for owner. Only a deployer or admin of the
// environment may lock it; an environment locked by someone else is
// refused, naming the holder. ttl 0 means until unlocked.
func (s *Service) LockEnvironment(ctx context.Context, repo, env string, owner Identity, reason string, ttl time.Duration) (Lock, error) {
	subject := repo + " " + env
	p, ok := s.policies.Environment(repo, env)
	if !ok {
		return Lock{}, s.refuseAction(ctx, owner, "lock", subject, refuse(CodeUnknownEnv,
			"%s has no environment %q; it has: %s", repo, env, strings.Join(s.policies.Environments(repo), ", ")))
	}
	if strings.TrimSpace(reason) == "" {
		return Lock{}, s.refuseAction(ctx, owner, "lock", subject, refuse(CodeReasonMissing, "say why you lock %s", env))
	}
	ms, err := s.memberships(ctx, append(append([]Team{}, p.Deployers...), p.Admins...), owner)
	if err != nil {
		return Lock{}, fmt.Errorf("lock %s: %w", subject, err)
	}
	if !anyMember(ms) {
		return Lock{}, s.refuseAction(ctx, owner, "lock", subject, refuse(CodeNotDeployer,
			"only deployers or admins of %s may lock it", env))
	}
	now := s.now().UTC()
	l := Lock{Repo: repo, Environment: env, Owner: owner, Reason: reason, CreatedAt: now}
	if ttl > 0 {
		l.ExpiresAt = now.Add(ttl)
	}
	holder, acquired, err := s.store.AcquireLock(ctx, l, now, lockEvent(ActionLockAcquired, l, ""))
	if err != nil {
		return Lock{}, fmt.Errorf("lock %s: %w", subject, err)
	}
	if !acquired {
		return holder, s.refuseAction(ctx, owner, "lock", subject, refuse(CodeLocked,
			"%s is already locked by %s since %s: %s", env, holder.Owner.Login,
			holder.CreatedAt.UTC().Format(time.RFC3339), holder.Reason))
	}
	return holder, nil
}

// UnlockEnvironment releases the lock on repo/env. The owner may; so may a
// member of an admins team, which is audited as an admin unlock.
func (s *Service) UnlockEnvironment(ctx context.Context, repo, env string, by Identity) error {
	subject := repo + " " + env
	p, ok := s.policies.Environment(repo, env)
	if !ok {
		return s.refuseAction(ctx, by, "unlock", subject, refuse(CodeUnknownEnv, "%s has no environment %q", repo, env))
	}
	l, err := s.store.Lock(ctx, repo, env)
	if err != nil {
		return fmt.Errorf("unlock %s: reading lock: %w", subject, err)
	}
	if l == nil {
		return s.refuseAction(ctx, by, "unlock", subject, refuse(CodeWrongState, "%s is not locked", env))
	}
	how := "owner"
	if !l.Owner.Same(by) {
		ms, err := s.memberships(ctx, p.Admins, by)
		if err != nil {
			return fmt.Errorf("unlock %s: %w", subject, err)
		}
		if !anyMember(ms) {
			return s.refuseAction(ctx, by, "unlock", subject, refuse(CodeNotLockOwner,
				"%s is locked by %s; only they or an admin may unlock it", env, l.Owner.Login))
		}
		how = "admin"
	}
	ev := lockEvent(ActionLockReleased, *l, how)
	ev.Actor = by.Login
	ev.Data.(map[string]any)["by"] = by.Login
	if err := s.store.ReleaseLock(ctx, repo, env, ev); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("unlock %s: %w", subject, err)
	}
	s.kick() // queued requests may run now
	return nil
}

// EnvironmentLock returns the lock in force on repo/env, or nil.
func (s *Service) EnvironmentLock(ctx context.Context, repo, env string) (*Lock, error) {
	l, err := s.store.Lock(ctx, repo, env)
	if err != nil {
		return nil, fmt.Errorf("reading lock of %s %s: %w", repo, env, err)
	}
	if !l.Active(s.now()) {
		return nil, nil
	}
	return l, nil
}

func lockEvent(action string, l Lock, how string) AuditEvent {
	data := map[string]any{"repo": l.Repo, "environment": l.Environment, "owner": l.Owner.Login,
		"owner_id": l.Owner.GitHubID, "reason": l.Reason, "created_at": l.CreatedAt}
	if !l.ExpiresAt.IsZero() {
		data["expires_at"] = l.ExpiresAt
	}
	if how != "" {
		data["how"] = how
	}
	return AuditEvent{Actor: actorOf(l.Owner), Action: action, Subject: l.Repo + " " + l.Environment, Data: data}
}
