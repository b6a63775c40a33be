package signature_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/signature"
)

func TestVerify(t *testing.T) {
	secret, body := []byte("s3cret"), []byte(`{"action":"opened"}`)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("v0:1700000000:"))
	mac.Write(body)
	good := "v0=" + hex.EncodeToString(mac.Sum(nil))
	cases := []struct {
		name, header string
		secret       []byte
		want         error
	}{
		{"valid", good, secret, nil},
		{"other secret", good, []byte("other"), signature.ErrMismatch},
		{"no header", "", secret, signature.ErrMissing},
		{"other scheme", "sha256=" + good[3:], secret, signature.ErrMissing},
		{"prefix only", "v0=", secret, signature.ErrMissing},
		{"not hex", "v0=zz", secret, signature.ErrMalformed},
		{"truncated", good[:len(good)-2], secret, signature.ErrMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := signature.Verify(c.secret, c.header, "v0=", []byte("v0:1700000000:"), body); !errors.Is(err, c.want) {
				t.Errorf("Verify = %v, want %v", err, c.want)
			}
		})
	}
	if err := signature.Verify(secret, good, "v0=", []byte("v0:1700000001:"), body); !errors.Is(err, signature.ErrMismatch) {
		t.Errorf("another timestamp verified: %v", err)
	}
}
