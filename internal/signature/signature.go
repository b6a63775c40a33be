// Package signature checks the HMAC-SHA256 signatures GitHub and Slack put
// on the requests they send: the one verifier both transports use.
package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// Why a signature does not verify.
var (
	ErrMissing   = errors.New("missing signature")
	ErrMalformed = errors.New("malformed signature")
	ErrMismatch  = errors.New("signature mismatch")
)

// Verify checks that header is prefix followed by the hex HMAC-SHA256,
// under secret, of the parts concatenated ("sha256=" and the body for
// GitHub; "v0=" and "v0:<timestamp>:" + body for Slack). The comparison
// takes constant time.
func Verify(secret []byte, header, prefix string, parts ...[]byte) error {
	hexMAC, ok := strings.CutPrefix(header, prefix)
	if !ok || hexMAC == "" {
		return ErrMissing
	}
	got, err := hex.DecodeString(hexMAC)
	if err != nil {
		return ErrMalformed
	}
	mac := hmac.New(sha256.New, secret)
	for _, p := range parts {
		mac.Write(p)
	}
	if !hmac.Equal(got, mac.Sum(nil)) {
		return ErrMismatch
	}
	return nil
}
