package oauth

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
)

// Seal keeps a sign-in's state in the browser that started it instead of
// on the server: the value is JSON sealed with AES-256-GCM under a key
// derived (HKDF-SHA256) from a server secret and a purpose, with the
// cookie's name as associated data. The browser can neither read nor
// forge it, the server holds nothing per sign-in (so anonymous sign-ins
// cost no shared capacity), and every replica that knows the secret can
// open what another sealed. Expiry is the caller's: put it in the value.
type Seal struct{ aead cipher.AEAD }

// ErrNotSealed is returned for a value this Seal did not seal (forged,
// changed, sealed under another secret or purpose, or for another name).
var ErrNotSealed = errors.New("not a value sealed here")

// NewSeal derives the sealing key from secret for purpose (a fixed string
// naming the use, so one secret can key several uses apart).
func NewSeal(secret, purpose string) (*Seal, error) {
	if secret == "" {
		return nil, errors.New("sealing key: the secret is empty")
	}
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, purpose, 32)
	if err != nil {
		return nil, fmt.Errorf("deriving the sealing key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	return &Seal{aead: aead}, nil
}

// Seal returns v, as JSON, sealed for the cookie called name.
func (s *Seal) Seal(name string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("sealing %s: %w", name, err)
	}
	return base64.RawURLEncoding.EncodeToString(s.SealBytes(name, plain)), nil
}

// Open decodes into v the value sealed for the cookie called name, or
// returns ErrNotSealed.
func (s *Seal) Open(name, sealed string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return ErrNotSealed
	}
	plain, err := s.OpenBytes(name, raw)
	if err != nil || json.Unmarshal(plain, v) != nil {
		return ErrNotSealed
	}
	return nil
}

// SealBytes seals plain bound to ad (associated data: what it belongs
// to, such as a cookie name or a session key), with a fresh nonce.
func (s *Seal) SealBytes(ad string, plain []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never returns an error
	return s.aead.Seal(nonce, nonce, plain, []byte(ad))
}

// OpenBytes opens what SealBytes sealed for ad, or returns ErrNotSealed.
func (s *Seal) OpenBytes(ad string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, ErrNotSealed
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(ad))
	if err != nil {
		return nil, ErrNotSealed
	}
	return plain, nil
}
