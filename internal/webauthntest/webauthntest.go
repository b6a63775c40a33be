// Package webauthntest is a software WebAuthn authenticator for tests: an
// ECDSA P-256 credential that makes registrations (attestation "none")
// and assertions the way a security key does, byte for byte, so the
// ceremony's verifier and the offline re-verifier check real signatures.
// The browser tests use Chromium's virtual authenticator instead.
package webauthntest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"

	"github.com/tollgate-dev/tollgate/bot"
)

// Authenticator holds one credential.
type Authenticator struct {
	ID     []byte
	AAGUID [16]byte
	key    *ecdsa.PrivateKey
	count  uint32
}

// Flags of authenticator data.
const (
	UserPresent  byte = 0x01
	UserVerified byte = 0x04
	attested     byte = 0x40
)

// New returns an authenticator with a fresh key and credential id.
func New() *Authenticator {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	a := &Authenticator{ID: make([]byte, 16), key: k}
	_, _ = rand.Read(a.ID)
	return a
}

// PublicKey is the credential's public key as a COSE_Key (EC2, ES256).
func (a *Authenticator) PublicKey() []byte {
	raw, err := a.key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		panic(err) // a generated P-256 key always encodes
	}
	x, y := raw[1:33], raw[33:65]
	out := []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20}
	out = append(out, x...)
	out = append(out, 0x22, 0x58, 0x20)
	return append(out, y...)
}

// authData is rpIdHash, flags and the next signature counter.
func (a *Authenticator) authData(rpID string, flags byte) []byte {
	a.count++
	rp := sha256.Sum256([]byte(rpID))
	out := append(rp[:], flags)
	return binary.BigEndian.AppendUint32(out, a.count)
}

func clientData(typ string, challenge []byte, origin string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": base64.RawURLEncoding.EncodeToString(challenge),
		"origin": origin, "crossOrigin": false})
	return b
}

// Assert signs an assertion over ch's digest with flags (UserPresent |
// UserVerified for a normal one) and returns it as bot records it.
func (a *Authenticator) Assert(ch bot.MFAChallenge, githubID int64, rpID, origin string, flags byte) *bot.MFAProof {
	auth := a.authData(rpID, flags)
	cd := clientData("webauthn.get", ch.Digest(), origin)
	sum := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, auth...), sum[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		panic(err)
	}
	return &bot.MFAProof{Challenge: ch, GitHubID: githubID, CredentialID: a.ID, CredentialName: "test-key",
		PublicKey: a.PublicKey(), AuthenticatorData: auth, ClientDataJSON: cd, Signature: sig, RPID: rpID,
		Origin: origin, SignCount: a.count}
}

// Credential is the registered credential of this authenticator.
func (a *Authenticator) Credential(name string) bot.MFACredential {
	return bot.MFACredential{Name: name, ID: a.ID, PublicKey: a.PublicKey(), AAGUID: a.AAGUID[:], AttestationFormat: "none"}
}

// Registration is the JSON a browser posts after navigator.credentials.create
// over challenge: attestation "none", the user present and verified.
func (a *Authenticator) Registration(challenge []byte, rpID, origin string) []byte {
	auth := a.authData(rpID, UserPresent|UserVerified|attested)
	auth = append(auth, a.AAGUID[:]...)
	auth = binary.BigEndian.AppendUint16(auth, uint16(len(a.ID)))
	auth = append(auth, a.ID...)
	auth = append(auth, a.PublicKey()...)
	// CBOR {"fmt": "none", "attStmt": {}, "authData": auth}
	obj := []byte{0xa3, 0x63, 'f', 'm', 't', 0x64, 'n', 'o', 'n', 'e', 0x67, 'a', 't', 't', 'S', 't', 'm', 't', 0xa0,
		0x68, 'a', 'u', 't', 'h', 'D', 'a', 't', 'a', 0x59}
	obj = binary.BigEndian.AppendUint16(obj, uint16(len(auth)))
	obj = append(obj, auth...)
	b64 := base64.RawURLEncoding.EncodeToString
	out, _ := json.Marshal(map[string]any{"id": b64(a.ID), "rawId": b64(a.ID), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64(clientData("webauthn.create", challenge, origin)),
			"attestationObject": b64(obj), "transports": []string{"usb"}},
		"clientExtensionResults": map[string]any{}})
	return out
}

// AssertionJSON is the JSON a browser posts after navigator.credentials.get
// over challenge.
func (a *Authenticator) AssertionJSON(challenge []byte, rpID, origin string, flags byte) []byte {
	auth := a.authData(rpID, flags)
	cd := clientData("webauthn.get", challenge, origin)
	sum := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, auth...), sum[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		panic(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	out, _ := json.Marshal(map[string]any{"id": b64(a.ID), "rawId": b64(a.ID), "type": "public-key",
		"response":               map[string]any{"clientDataJSON": b64(cd), "authenticatorData": b64(auth), "signature": b64(sig)},
		"clientExtensionResults": map[string]any{}})
	return out
}
