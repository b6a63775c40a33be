package sshdtest_test

import (
	"net"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/deploy/sshdtest"
	"golang.org/x/crypto/ssh"
)

func TestStartedServerAcceptsTheKeyAndStops(t *testing.T) {
	key := sshdtest.NewKey(t)
	srv := sshdtest.Start(t, key.PublicKey())
	c, err := ssh.Dial("tcp", srv.Addr(), &ssh.ClientConfig{User: srv.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(key)}, HostKeyCallback: ssh.FixedHostKey(srv.HostKey), Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("dial: %v\nsshd log: %s", err, srv.Log())
	}
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := s.Output("echo hello"); err != nil || string(out) != "hello\n" {
		t.Errorf("echo: %q, %v", out, err)
	}
	_ = c.Close()

	other := sshdtest.NewKey(t)
	if _, err := ssh.Dial("tcp", srv.Addr(), &ssh.ClientConfig{User: srv.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(other)}, HostKeyCallback: ssh.FixedHostKey(srv.HostKey), Timeout: 30 * time.Second}); err == nil {
		t.Errorf("a key not in authorized_keys was accepted")
	}

	srv.Stop()
	if c, err := net.DialTimeout("tcp", srv.Addr(), 5*time.Second); err == nil {
		_ = c.Close()
		t.Errorf("stopped sshd still accepts connections")
	}
}
