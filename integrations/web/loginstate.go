package web

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// A started sign-in lives in the browser that started it, not on the
// server: the login cookie holds its state, PKCE verifier, next page and
// expiry, sealed (AES-256-GCM) under a key derived from the OAuth client
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

// loginSeal seals and opens pending logins.
type loginSeal struct{ aead cipher.AEAD }

// loginSealInfo separates this key from any other use of the client secret.
const loginSealInfo = "tollgate web login state v1"

// newLoginSeal derives the sealing key from the OAuth client secret.
func newLoginSeal(clientSecret string) (*loginSeal, error) {
	key, err := hkdf.Key(sha256.New, []byte(clientSecret), nil, loginSealInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("deriving the login state key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("login state key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("login state key: %w", err)
	}
	return &loginSeal{aead: aead}, nil
}

// seal returns the cookie value carrying l; name is authenticated with it,
// so a value cannot be moved to another cookie.
func (s *loginSeal) seal(name string, l pendingLogin) (string, error) {
	plain, err := json.Marshal(l)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never returns an error
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(name))), nil
}

var errLoginState = errors.New("sign-in state not recognised")

// open returns the pending login in cookie value v of cookie name, if it
// was sealed here and has not expired at now.
func (s *loginSeal) open(name, v string, now time.Time) (pendingLogin, error) {
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return pendingLogin{}, errLoginState
	}
	plain, err := s.aead.Open(nil, raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():], []byte(name))
	if err != nil {
		return pendingLogin{}, errLoginState
	}
	var l pendingLogin
	if json.Unmarshal(plain, &l) != nil || l.State == "" {
		return pendingLogin{}, errLoginState
	}
	if !now.Before(l.Expires) {
		return pendingLogin{}, errLoginExpired
	}
	return l, nil
}

var errLoginExpired = errors.New("sign-in expired")
