package bot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Refusal limits (issue 15). A person with no standing or no role can ask
// as often as they like; each ask costs GitHub API calls and, recorded,
// an audit entry kept for years. Refusals of such asks are counted per
// person and recorded at most RefusalsPerWindow times per RefusalWindow;
// beyond that the ask is dropped before any API call.
const (
	RefusalsPerWindow = 5
	RefusalWindow     = time.Hour
)

// Audit lines for commands of outsiders (people outside the organisation
// without write access), all accounts together: a burst of
// OutsiderLinesBurst, then one every OutsiderLinesEvery. This bucket is
// in memory: it only bounds how fast many throwaway accounts can add
// lines, each of which the per-person limit (in the store) already
// bounds; a restart or a second replica lets one more burst through,
// which is noise, not access.
const (
	OutsiderLinesBurst = 20
	OutsiderLinesEvery = 2 * time.Minute
)

// CodeNoStanding refuses a command from someone who is neither a member
// of the organisation nor a collaborator with write access.
const CodeNoStanding RefusalCode = "no_standing"

// RefusalLimits counts refusals per person in fixed windows, in state
// that survives restarts and is shared by every process (the store).
type RefusalLimits interface {
	// TakeRefusalSlot counts one refusal of key and reports whether it is
	// within max in the current window.
	TakeRefusalSlot(ctx context.Context, key string, now time.Time, window time.Duration, max int) (bool, error)
	// RefusalsExhausted reports, without counting, whether key used max.
	RefusalsExhausted(ctx context.Context, key string, now time.Time, window time.Duration, max int) (bool, error)
}

// refusalKey names a person for the limits: the GitHub id (a rename does
// not reset it), else the login, else the chat account.
func refusalKey(who Identity) string {
	switch {
	case who.GitHubID != 0:
		return "github:" + strconv.FormatInt(who.GitHubID, 10)
	case who.Login != "":
		return "login:" + strings.ToLower(who.Login)
	}
	return "chat:" + who.ChatUser
}

// RefusalsExhausted reports whether who used their refusals of the current
// window: the transport then drops their command without asking GitHub anything.
func (s *Service) RefusalsExhausted(ctx context.Context, who Identity) (bool, error) {
	if s.limits == nil {
		return false, nil
	}
	x, err := s.limits.RefusalsExhausted(ctx, refusalKey(who), s.now(), RefusalWindow, RefusalsPerWindow)
	if err != nil {
		return false, fmt.Errorf("refusal limit of %s: %w", actorOf(who), err)
	}
	return x, nil
}

// takeRefusal counts one refusal of who and reports whether it may be
// recorded and answered.
func (s *Service) takeRefusal(ctx context.Context, who Identity) (bool, error) {
	if s.limits == nil {
		return true, nil
	}
	ok, err := s.limits.TakeRefusalSlot(ctx, refusalKey(who), s.now(), RefusalWindow, RefusalsPerWindow)
	if err != nil {
		return false, fmt.Errorf("refusal limit of %s: %w", actorOf(who), err)
	}
	return ok, nil
}

// RefuseOutsider records that who, neither a member of the organisation
// nor a collaborator with write access, gave a command: one action.refused
// entry (code no_standing), within who's refusal limit and the outsiders'
// overall rate. Nothing else is stored. recorded says whether the entry
// was written (the transport acknowledges only then).
func (s *Service) RefuseOutsider(ctx context.Context, who Identity, action, subject string) (recorded bool, err error) {
	ok, err := s.takeRefusal(ctx, who)
	if err != nil || !ok {
		return false, err
	}
	if !s.outsiders.take(s.now()) {
		return false, nil
	}
	ref := refuse(CodeNoStanding, "%s is neither a member of the organisation nor a collaborator with write access", actorOf(who))
	if err := s.refuseAction(ctx, who, action, subject, ref); !errors.Is(err, ref) {
		return false, err
	}
	return true, nil
}

// refuseNoRole records the refusal of someone who holds no role the ask
// needs, within their refusal limit; beyond it nothing is recorded and the
// refusal is marked Throttled, so transports need not answer it either.
func (s *Service) refuseNoRole(ctx context.Context, who Identity, action, subject string, ref *Refusal) error {
	ok, err := s.takeRefusal(ctx, who)
	if err != nil {
		return err
	}
	if !ok {
		ref.Throttled = true
		return ref
	}
	return s.refuseAction(ctx, who, action, subject, ref)
}

// tokenBucket is a small rate limiter: capacity tokens, one more every
// interval.
type tokenBucket struct {
	mu       sync.Mutex
	capacity float64
	every    time.Duration
	tokens   float64
	last     time.Time
}

func newTokenBucket(capacity int, every time.Duration) *tokenBucket {
	return &tokenBucket{capacity: float64(capacity), every: every, tokens: float64(capacity)}
}

// take spends a token at now and reports whether there was one.
func (b *tokenBucket) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = min(b.capacity, b.tokens+float64(now.Sub(b.last))/float64(b.every))
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
