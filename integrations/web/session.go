package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"sync"
	"time"
)

// Sessions live in this process's memory: a restart signs everyone out,
// which costs one GitHub round trip, and nothing about a session is ever
// written to disk. The cookie holds 32 random bytes; the map is keyed by
// their SHA-256, so the table holds no usable cookie value.

// maxSessions bounds the table; past it the least recently seen session
// is dropped (its owner signs in again).
const maxSessions = 10000

// session is one signed-in browser. token is the user's GitHub token,
// kept only here to re-confirm membership; it never leaves the process.
type session struct {
	key       string // SHA-256 of the cookie value
	login     string
	githubID  int64
	role      string
	token     string
	created   time.Time
	lastSeen  time.Time
	checkedAt time.Time
}

var (
	errNoSession      = errors.New("no session")
	errSessionExpired = errors.New("session expired")
)

// sessions is the in-memory session table.
type sessions struct {
	idle, max time.Duration
	mu        sync.Mutex
	byKey     map[string]*session
}

func newSessions(idle, max time.Duration) *sessions {
	return &sessions{idle: idle, max: max, byKey: map[string]*session{}}
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

// create stores s and returns the cookie value that names it.
func (ss *sessions) create(s session) string {
	id := newSecret()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.byKey) >= maxSessions {
		ss.pruneLocked(s.created)
	}
	if len(ss.byKey) >= maxSessions {
		var oldestKey string
		var oldest time.Time
		for k, v := range ss.byKey {
			if oldestKey == "" || v.lastSeen.Before(oldest) {
				oldestKey, oldest = k, v.lastSeen
			}
		}
		delete(ss.byKey, oldestKey)
	}
	cp := s
	cp.key = keyOf(id)
	ss.byKey[cp.key] = &cp
	return id
}

// get returns a copy of the live session named by cookie value v and
// marks it seen.
func (ss *sessions) get(v string, now time.Time) (session, error) {
	if v == "" {
		return session{}, errNoSession
	}
	key := keyOf(v)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.byKey[key]
	if !ok {
		return session{}, errSessionExpired
	}
	if !now.Before(s.lastSeen.Add(ss.idle)) || !now.Before(s.created.Add(ss.max)) {
		delete(ss.byKey, key)
		return session{}, errSessionExpired
	}
	s.lastSeen = now
	return *s, nil
}

// markChecked records a successful membership re-check of session key.
func (ss *sessions) markChecked(key, role string, at time.Time) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if s, ok := ss.byKey[key]; ok {
		s.checkedAt, s.role = at, role
	}
}

// delete ends session key.
func (ss *sessions) delete(key string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.byKey, key)
}

// pruneLocked drops expired sessions.
func (ss *sessions) pruneLocked(now time.Time) {
	for k, s := range ss.byKey {
		if !now.Before(s.lastSeen.Add(ss.idle)) || !now.Before(s.created.Add(ss.max)) {
			delete(ss.byKey, k)
		}
	}
}

// len is the number of stored sessions, for tests.
func (ss *sessions) len() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.byKey)
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
