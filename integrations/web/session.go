package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/oauth"
)

// Sessions are kept in a SessionStore: the server's keeps them in the
// database, so a browser signed in on one replica is signed in on all of
// them; without one they live in this process's memory. The cookie holds
// 32 random bytes; a session is stored under their SHA-256, so the store
// holds no usable cookie value. The user's GitHub token (to re-confirm
// membership) is stored sealed (AES-256-GCM) under a key derived from the
// OAuth client secret: a copy of the database alone does not yield it.

// maxMemorySessions bounds the in-memory store; past it the least recently
// seen session is dropped (its owner signs in again).
const maxMemorySessions = 10000

// touchEvery is how stale a session's last-seen time may get before a page
// view writes it again: idle expiry is hours, a write per view is waste.
const touchEvery = time.Minute

// Session is one signed-in browser as a SessionStore keeps it.
type Session struct {
	Key         string // SHA-256 (hex) of the cookie value
	Login       string
	GitHubID    int64
	Role        string // "member" or "auditor"
	SealedToken []byte // the user's GitHub token, sealed (see sealer)
	Created     time.Time
	LastSeen    time.Time
	CheckedAt   time.Time // membership last re-confirmed with GitHub
}

// ErrNoSession is what SessionStore.Session returns for an unknown key.
var ErrNoSession = errors.New("no session")

// SessionStore keeps signed-in sessions. Its methods take the key (the
// SHA-256 of the cookie value), never the cookie.
type SessionStore interface {
	// SaveSession stores a new session.
	SaveSession(ctx context.Context, s Session) error
	// Session returns the session with key, or an error wrapping ErrNoSession.
	Session(ctx context.Context, key string) (Session, error)
	// TouchSession records that the session was seen at at and, when role
	// is not empty, that its access was re-confirmed then as role.
	TouchSession(ctx context.Context, key string, at time.Time, role string) error
	// DeleteSession ends the session (nothing happens for an unknown key).
	DeleteSession(ctx context.Context, key string) error
}

var errSessionExpired = errors.New("session expired")

// session is a live session with its token unsealed.
type session struct {
	Session
	token string
}

// sessions applies the expiry rules and the token sealing over a store.
type sessions struct {
	idle, max time.Duration
	store     SessionStore
	seal      sealer
}

func newSessions(store SessionStore, idle, max time.Duration, seal sealer) *sessions {
	if store == nil {
		store = NewMemorySessions()
	}
	return &sessions{idle: idle, max: max, store: store, seal: seal}
}

// newSecret returns 32 random bytes, base64url without padding.
func newSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error (it crashes instead)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func keyOf(cookieValue string) string {
	sum := sha256.Sum256([]byte(cookieValue))
	return hex.EncodeToString(sum[:])
}

// create stores a session for s and token and returns the cookie value
// that names it.
func (ss *sessions) create(ctx context.Context, s Session, token string) (string, error) {
	id := newSecret()
	s.Key = keyOf(id)
	sealed, err := ss.seal.seal(s.Key, token)
	if err != nil {
		return "", err
	}
	s.SealedToken = sealed
	if err := ss.store.SaveSession(ctx, s); err != nil {
		return "", fmt.Errorf("storing the session of %s: %w", s.Login, err)
	}
	return id, nil
}

// get returns the live session named by cookie value v and marks it seen.
// errNoSession and errSessionExpired mean "sign in"; any other error is
// the store failing (the page fails closed).
func (ss *sessions) get(ctx context.Context, v string, now time.Time) (session, error) {
	if v == "" {
		return session{}, ErrNoSession
	}
	key := keyOf(v)
	s, err := ss.store.Session(ctx, key)
	if errors.Is(err, ErrNoSession) {
		return session{}, errSessionExpired
	}
	if err != nil {
		return session{}, fmt.Errorf("reading the session: %w", err)
	}
	if !now.Before(s.LastSeen.Add(ss.idle)) || !now.Before(s.Created.Add(ss.max)) {
		return session{}, errors.Join(errSessionExpired, ss.store.DeleteSession(ctx, key))
	}
	token, err := ss.seal.open(key, s.SealedToken)
	if err != nil {
		// Sealed under another client secret (it was rotated): sign in again.
		return session{}, errors.Join(errSessionExpired, ss.store.DeleteSession(ctx, key))
	}
	if now.Sub(s.LastSeen) >= touchEvery {
		if err := ss.store.TouchSession(ctx, key, now, ""); err != nil {
			return session{}, err
		}
		s.LastSeen = now
	}
	return session{Session: s, token: token}, nil
}

// markChecked records a successful membership re-check of session key.
func (ss *sessions) markChecked(ctx context.Context, key, role string, at time.Time) error {
	return ss.store.TouchSession(ctx, key, at, role)
}

// delete ends session key.
func (ss *sessions) delete(ctx context.Context, key string) error {
	return ss.store.DeleteSession(ctx, key)
}

// len is the number of stored sessions of an in-memory store, for tests.
func (ss *sessions) len() int {
	if m, ok := ss.store.(*MemorySessions); ok {
		return m.len()
	}
	return -1
}

// sealer seals with oauth.Seal (AES-256-GCM under a key derived from the
// OAuth client secret every replica has, one purpose per key): the GitHub
// tokens of sessions, bound to the session's key (additional data) so a
// sealed token cannot be moved to another session, and the started
// sign-ins the browser carries (login.go), bound to their state.
type sealer struct{ *oauth.Seal }

// Purposes of sealing keys.
const (
	sealSessionToken = "tollgate web session token v1"
	sealLoginFlow    = "tollgate web login flow v1"
)

func newSealer(clientSecret, purpose string) (sealer, error) {
	s, err := oauth.NewSeal(clientSecret, purpose)
	return sealer{s}, err
}

func (s sealer) seal(ad, plain string) ([]byte, error) { return s.SealBytes(ad, []byte(plain)), nil }

func (s sealer) open(ad string, sealed []byte) (string, error) {
	b, err := s.OpenBytes(ad, sealed)
	if err != nil {
		return "", fmt.Errorf("opening the sealed value: %w", err)
	}
	return string(b), nil
}

// MemorySessions is a SessionStore in this process's memory: a restart
// signs everyone out, and other replicas do not know its sessions.
type MemorySessions struct {
	mu    sync.Mutex
	byKey map[string]Session
}

// NewMemorySessions returns an empty in-memory SessionStore.
func NewMemorySessions() *MemorySessions { return &MemorySessions{byKey: map[string]Session{}} }

// SaveSession implements SessionStore; past maxMemorySessions the least
// recently seen session is dropped.
func (m *MemorySessions) SaveSession(_ context.Context, s Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.byKey) >= maxMemorySessions {
		var oldestKey string
		var oldest time.Time
		for k, v := range m.byKey {
			if oldestKey == "" || v.LastSeen.Before(oldest) {
				oldestKey, oldest = k, v.LastSeen
			}
		}
		delete(m.byKey, oldestKey)
	}
	m.byKey[s.Key] = s
	return nil
}

// Session implements SessionStore.
func (m *MemorySessions) Session(_ context.Context, key string) (Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.byKey[key]
	if !ok {
		return Session{}, ErrNoSession
	}
	return s, nil
}

// TouchSession implements SessionStore.
func (m *MemorySessions) TouchSession(_ context.Context, key string, at time.Time, role string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.byKey[key]
	if !ok {
		return nil
	}
	if at.After(s.LastSeen) {
		s.LastSeen = at
	}
	if role != "" {
		s.Role, s.CheckedAt = role, at
	}
	m.byKey[key] = s
	return nil
}

// DeleteSession implements SessionStore.
func (m *MemorySessions) DeleteSession(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.byKey, key)
	return nil
}

func (m *MemorySessions) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byKey)
}

// Cookie names. Over https the __Host- prefix makes the browser refuse a
// cookie that is not Secure, has a Domain, or a Path other than /.
const (
	sessionCookieName = "tollgate_session"
	loginCookieName   = "tollgate_login"
)

func sessionCookie(secure bool) string {
	if secure {
		return "__Host-" + sessionCookieName
	}
	return sessionCookieName
}

func loginCookie(secure bool) string {
	if secure {
		return "__Host-" + loginCookieName
	}
	return loginCookieName
}

// cookieValue returns the value of the request's cookie name, "" if none.
func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// setCookie writes a cookie with the attributes every Tollgate cookie has.
func (h *Handler) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(maxAge / time.Second),
		Secure: h.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// clearCookie tells the browser to drop a cookie.
func (h *Handler) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		Secure: h.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}
