package cdptest

// The DevTools WebAuthn domain: virtual authenticators that answer
// navigator.credentials.create and .get as a security key would, with a
// real key pair, so a page's ceremony runs end to end in the browser.

// Authenticator configures a virtual authenticator.
type Authenticator struct {
	// UserVerification is whether it can verify the user (a PIN or a
	// fingerprint); Verified whether it does when asked.
	UserVerification bool
	Verified         bool
}

// Credential is one credential a virtual authenticator holds, as DevTools
// exports and imports it (the private key included).
type Credential struct {
	CredentialID         string `json:"credentialId"`
	IsResidentCredential bool   `json:"isResidentCredential"`
	RPID                 string `json:"rpId,omitempty"`
	PrivateKey           string `json:"privateKey"`
	UserHandle           string `json:"userHandle,omitempty"`
	SignCount            int    `json:"signCount"`
}

// EnableWebAuthn turns the WebAuthn domain on for the page, without the
// browser's own dialogs.
func (c *Browser) EnableWebAuthn() {
	c.t.Helper()
	c.Page("WebAuthn.enable", map[string]any{"enableUI": false}, nil)
}

// AddAuthenticator attaches a USB CTAP2 authenticator that holds
// discoverable credentials and is touched automatically; it returns its id.
func (c *Browser) AddAuthenticator(a Authenticator) string {
	c.t.Helper()
	var r struct {
		AuthenticatorID string `json:"authenticatorId"`
	}
	c.Page("WebAuthn.addVirtualAuthenticator", map[string]any{"options": map[string]any{
		"protocol": "ctap2", "transport": "usb", "hasResidentKey": true, "hasUserVerification": a.UserVerification,
		"isUserVerified": a.Verified, "automaticPresenceSimulation": true}}, &r)
	return r.AuthenticatorID
}

// RemoveAuthenticator detaches an authenticator.
func (c *Browser) RemoveAuthenticator(id string) {
	c.t.Helper()
	c.Page("WebAuthn.removeVirtualAuthenticator", map[string]any{"authenticatorId": id}, nil)
}

// SetUserVerified says whether the authenticator verifies the user from now on.
func (c *Browser) SetUserVerified(id string, verified bool) {
	c.t.Helper()
	c.Page("WebAuthn.setUserVerified", map[string]any{"authenticatorId": id, "isUserVerified": verified}, nil)
}

// Credentials lists what an authenticator holds.
func (c *Browser) Credentials(id string) []Credential {
	c.t.Helper()
	var r struct {
		Credentials []Credential `json:"credentials"`
	}
	c.Page("WebAuthn.getCredentials", map[string]any{"authenticatorId": id}, &r)
	return r.Credentials
}

// AddCredential puts a credential (exported from another authenticator,
// or another browser) into an authenticator.
func (c *Browser) AddCredential(id string, cred Credential) {
	c.t.Helper()
	c.Page("WebAuthn.addCredential", map[string]any{"authenticatorId": id, "credential": cred}, nil)
}
