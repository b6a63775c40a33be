package sshtest_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/deploy/sshtest"
	"golang.org/x/crypto/ssh"
)

func newSigner(t *testing.T) ssh.Signer {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestServerRunsCommandsInItsDirectory(t *testing.T) {
	key := newSigner(t)
	dir := t.TempDir()
	srv, err := sshtest.New(dir, key.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := ssh.Dial("tcp", srv.Addr, &ssh.ClientConfig{User: "any", Auth: []ssh.AuthMethod{ssh.PublicKeys(key)}, HostKeyCallback: ssh.FixedHostKey(srv.HostKey)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cases := []struct {
		name, cmd, stdin, want string
		exit                   int
	}{
		{"working directory", "pwd", "", dir + "\n", 0},
		{"stdin reaches the command", "tr a-z A-Z", "hello", "HELLO", 0},
		{"exit status", "echo out; exit 7", "", "out\n", 7},
	}
	for _, tc := range cases {
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		s.Stdin = strings.NewReader(tc.stdin)
		out, err := s.Output(tc.cmd)
		code := 0
		var ee *ssh.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitStatus()
		} else if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if string(out) != tc.want || code != tc.exit {
			t.Errorf("%s: output %q exit %d, want %q exit %d", tc.name, out, code, tc.want, tc.exit)
		}
	}
}

func TestServerRefusesUnknownKeys(t *testing.T) {
	srv, err := sshtest.New(t.TempDir(), newSigner(t).PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	_, err = ssh.Dial("tcp", srv.Addr, &ssh.ClientConfig{User: "any", Auth: []ssh.AuthMethod{ssh.PublicKeys(newSigner(t))}, HostKeyCallback: ssh.FixedHostKey(srv.HostKey)})
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("dial with an unknown key: %v", err)
	}
}
