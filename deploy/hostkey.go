package deploy

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ErrUnreachable is matched (errors.Is) by a connection error where the
// server did not accept a TCP connection at all.
var ErrUnreachable = errors.New("server unreachable")

// ErrLoginRefused is matched (errors.Is) by a connection error where the
// server refused to let the user log in with the environment's key.
var ErrLoginRefused = errors.New("login refused")

// classified keeps err's message while letting errors.Is also match kind.
type classified struct{ kind, err error }

func (c *classified) Error() string   { return c.err.Error() }
func (c *classified) Unwrap() []error { return []error{c.kind, c.err} }

// HostKeyProblem says why known_hosts refused a server's host key.
type HostKeyProblem int

// The ways known_hosts refuses a host key.
const (
	HostKeyUnknown   HostKeyProblem = iota + 1 // known_hosts has no key for the server
	HostKeyChanged                             // known_hosts pins other keys for the server
	HostKeyRevoked                             // the offered key is marked @revoked
	HostKeyUnchecked                           // known_hosts could not check the key
)

// HostKeyError is a host key refused by known_hosts; its message names the
// server's address and the offered key's fingerprint.
type HostKeyError struct {
	Problem HostKeyProblem
	Addr    string                // host:port dialled
	File    string                // the known_hosts file consulted
	Offered ssh.PublicKey         // the key the server presented
	Pinned  []knownhosts.KnownKey // for HostKeyChanged: the keys known_hosts has for Addr
	Err     error                 // what known_hosts said
}

func (e *HostKeyError) Error() string {
	fp := fmt.Sprintf("%s %s", e.Offered.Type(), ssh.FingerprintSHA256(e.Offered))
	switch e.Problem {
	case HostKeyRevoked:
		return fmt.Sprintf("host %s: key %s is revoked in %s; refusing to connect", e.Addr, fp, e.File)
	case HostKeyUnknown:
		return fmt.Sprintf("unknown host %s: its key %s is not in %s; refusing to connect", e.Addr, fp, e.File)
	case HostKeyChanged:
		known := make([]string, 0, len(e.Pinned))
		for _, w := range e.Pinned {
			known = append(known, fmt.Sprintf("%s %s (%s:%d)", w.Key.Type(), ssh.FingerprintSHA256(w.Key), w.Filename, w.Line))
		}
		return fmt.Sprintf("HOST KEY CHANGED for %s: it offered %s, known_hosts has %s; refusing to connect",
			e.Addr, fp, strings.Join(known, ", "))
	}
	return fmt.Sprintf("host %s: key %s: %v", e.Addr, fp, e.Err)
}

// Unwrap returns what known_hosts said.
func (e *HostKeyError) Unwrap() error { return e.Err }

// CheckLogin connects to srv exactly as a deploy to t would — host key
// checked against t.KnownHostsFile, logging in as srv.User with t.Signer —
// and disconnects. A refused host key is a *HostKeyError; an unreachable
// server matches ErrUnreachable and a refused login ErrLoginRefused.
func CheckLogin(ctx context.Context, t Target, srv Server) error {
	if t.DialTimeout <= 0 {
		t.DialTimeout = defaultDialTimeout
	}
	c, err := dial(ctx, t, srv)
	if err != nil {
		return err
	}
	return c.Close()
}

// hostKeyCheck returns the known_hosts callback for addr, wrapped to explain
// refusals, and the host key algorithms known for addr so that the server is
// asked for a key type we can actually verify.
func hostKeyCheck(file, addr string) (ssh.HostKeyCallback, []string, error) {
	cb, err := knownhosts.New(file)
	if err != nil {
		return nil, nil, fmt.Errorf("read known_hosts: %w", err)
	}
	wrapped := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := cb(hostname, remote, key)
		if err == nil {
			return nil
		}
		hk := &HostKeyError{Problem: HostKeyUnchecked, Addr: addr, File: file, Offered: key, Err: err}
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case errors.As(err, &re):
			hk.Problem = HostKeyRevoked
		case errors.As(err, &ke) && len(ke.Want) == 0:
			hk.Problem = HostKeyUnknown
		case errors.As(err, &ke):
			hk.Problem, hk.Pinned = HostKeyChanged, ke.Want
		}
		return hk
	}
	return wrapped, knownAlgorithms(cb, addr), nil
}

// knownAlgorithms asks the known_hosts database which keys it holds for addr
// by offering a throwaway key: the mismatch error lists them.
func knownAlgorithms(cb ssh.HostKeyCallback, addr string) []string {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil
	}
	probe, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil
	}
	tcp, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		tcp = &net.TCPAddr{IP: net.IPv4zero}
	}
	var ke *knownhosts.KeyError
	if !errors.As(cb(addr, tcp, probe.PublicKey()), &ke) {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, w := range ke.Want {
		typ := w.Key.Type()
		names := []string{typ}
		if typ == ssh.KeyAlgoRSA {
			names = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				algos = append(algos, n)
			}
		}
	}
	return algos
}
