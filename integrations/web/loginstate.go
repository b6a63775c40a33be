package web

import (
	"errors"
	"time"

	"github.com/tollgate-dev/tollgate/internal/oauth"
)

// A started sign-in lives in the browser that started it, not on the
// server: the login cookie holds its state, PKCE verifier, next page and
// expiry, sealed (oauth.Seal) under a key derived from the OAuth client
// secret. Anonymous /login requests therefore cost the server no shared
// capacity, so a flood of them cannot crowd out a member's sign-in, and
// any replica that knows the client secret can finish a sign-in another
// started. The seal keeps the verifier secret and the cookie unforgeable;
// its expiry bounds how long one may be used.

// pendingLogin is one started OAuth web flow.
type pendingLogin struct {
	State    string    `json:"s"` // the OAuth state: the callback must bring it back
	Verifier string    `json:"v"` // PKCE code verifier
	Next     string    `json:"n"` // local page to return to
	Expires  time.Time `json:"e"`
}

// loginSealPurpose separates this key from any other use of the client secret.
const loginSealPurpose = "tollgate web login state v1"

// loginSeal seals and opens pending logins.
type loginSeal struct{ s *oauth.Seal }

// newLoginSeal derives the sealing key from the OAuth client secret.
func newLoginSeal(clientSecret string) (*loginSeal, error) {
	s, err := oauth.NewSeal(clientSecret, loginSealPurpose)
	if err != nil {
		return nil, err
	}
	return &loginSeal{s: s}, nil
}

// seal returns the value of cookie name carrying l.
func (s *loginSeal) seal(name string, l pendingLogin) (string, error) { return s.s.Seal(name, l) }

var (
	errLoginState   = errors.New("sign-in state not recognised")
	errLoginExpired = errors.New("sign-in expired")
)

// open returns the pending login in cookie value v of cookie name, if it
// was sealed here and has not expired at now.
func (s *loginSeal) open(name, v string, now time.Time) (pendingLogin, error) {
	var l pendingLogin
	if err := s.s.Open(name, v, &l); err != nil || l.State == "" {
		return pendingLogin{}, errLoginState
	}
	if !now.Before(l.Expires) {
		return pendingLogin{}, errLoginExpired
	}
	return l, nil
}
