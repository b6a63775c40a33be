package server

import (
	"context"
	"errors"
	"time"

	"github.com/tollgate-dev/tollgate/integrations/web"
	"github.com/tollgate-dev/tollgate/store"
)

// webSessions keeps the web pages' sessions in the database, so a browser
// signed in on one replica is signed in on every one (web.SessionStore).
type webSessions struct{ st *store.Store }

var _ web.SessionStore = webSessions{}

// SaveSession implements web.SessionStore.
func (w webSessions) SaveSession(ctx context.Context, s web.Session) error {
	return w.st.SaveWebSession(ctx, store.WebSession{Key: s.Key, Login: s.Login, GitHubID: s.GitHubID, Role: s.Role,
		SealedToken: s.SealedToken, CreatedAt: s.Created, LastSeenAt: s.LastSeen, CheckedAt: s.CheckedAt})
}

// Session implements web.SessionStore.
func (w webSessions) Session(ctx context.Context, key string) (web.Session, error) {
	ws, err := w.st.WebSession(ctx, key)
	if errors.Is(err, store.ErrNoWebSession) {
		return web.Session{}, web.ErrNoSession
	}
	if err != nil {
		return web.Session{}, err
	}
	return web.Session{Key: ws.Key, Login: ws.Login, GitHubID: ws.GitHubID, Role: ws.Role, SealedToken: ws.SealedToken,
		Created: ws.CreatedAt, LastSeen: ws.LastSeenAt, CheckedAt: ws.CheckedAt}, nil
}

// TouchSession implements web.SessionStore.
func (w webSessions) TouchSession(ctx context.Context, key string, at time.Time, role string) error {
	return w.st.TouchWebSession(ctx, key, at, role)
}

// DeleteSession implements web.SessionStore.
func (w webSessions) DeleteSession(ctx context.Context, key string) error {
	return w.st.DeleteWebSession(ctx, key)
}
