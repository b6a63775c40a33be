package store

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// The per-install HMAC key lets Tollgate evidence a value without
// disclosing it (an error that contained a token, a secret that was
// rotated): the audit log stores HashValue(key, value), and an auditor who
// holds the value checks it with `tollgate audit hash VALUE`.

// HMACKeySize is the size in bytes of a generated HMAC key.
const HMACKeySize = 32

// HashPrefix starts every value HashValue returns, so a hashed value is
// never mistaken for the value itself.
const HashPrefix = "hmac-sha256:"

// HashValue returns "hmac-sha256:<hex>" of value under key.
func HashValue(key []byte, value string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(value))
	return HashPrefix + hex.EncodeToString(m.Sum(nil))
}

// LoadHMACKey reads a key file: hex of at least HMACKeySize bytes, as
// EnsureHMACKey writes it. The error never contains the key.
func LoadHMACKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read HMAC key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < HMACKeySize {
		return nil, fmt.Errorf("HMAC key %s is not hex of at least %d bytes", path, HMACKeySize)
	}
	return key, nil
}

// EnsureHMACKey returns the key in path, first creating the file (mode
// 0600, exclusively, so a key is never overwritten) with a new random key
// when it does not exist. created reports whether it was generated now.
// `tollgate init` and the first `tollgate serve` call it.
func EnsureHMACKey(path string) (key []byte, created bool, err error) {
	key, err = LoadHMACKey(path)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	key = make([]byte, HMACKeySize)
	_, _ = rand.Read(key) // crypto/rand.Read never returns an error
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // created by someone else meanwhile: use theirs
		key, err = LoadHMACKey(path)
		return key, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("create HMAC key: %w", err)
	}
	_, werr := f.WriteString(hex.EncodeToString(key) + "\n")
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path) // a half-written key would lock out every later start
		return nil, false, fmt.Errorf("create HMAC key %s: %w", path, werr)
	}
	return key, true, nil
}
