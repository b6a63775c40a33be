package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

const keepaliveInterval = 15 * time.Second

// conn is one SSH connection to a server, reused for every step of a deploy.
type conn struct {
	addr    string
	hostKey string // SHA256 fingerprint of the host key presented and accepted
	client  *ssh.Client
	timeout time.Duration // per command
	stop    chan struct{}
	once    sync.Once
}

// dial connects to srv, checking its host key against the target's
// known_hosts file. There is deliberately no way to skip that check.
func dial(ctx context.Context, t Target, srv Server) (*conn, error) {
	addr := srv.Addr()
	check, algos, err := hostKeyCheck(t.KnownHostsFile, addr)
	if err != nil {
		return nil, err
	}
	var accepted string
	cfg := &ssh.ClientConfig{
		User: srv.User,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(t.Signer)},
		HostKeyCallback: func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			if err := check(hostname, remote, key); err != nil {
				return err
			}
			accepted = ssh.FingerprintSHA256(key)
			return nil
		},
		HostKeyAlgorithms: algos,
		Timeout:           t.DialTimeout,
	}
	if len(t.Ciphers) > 0 {
		cfg.Ciphers = t.Ciphers
	}
	dctx, cancel := context.WithTimeout(ctx, t.DialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, &classified{ErrUnreachable, err}
	}
	_ = nc.SetDeadline(time.Now().Add(t.DialTimeout))
	c, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if err != nil {
		_ = nc.Close()
		var hk *HostKeyError
		if errors.As(err, &hk) {
			return nil, hk
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, &classified{ErrLoginRefused, fmt.Errorf("log in as %s: authentication with key %s refused (is its public key in the server's authorized_keys?): %w",
				srv.User, ssh.FingerprintSHA256(t.Signer.PublicKey()), err)}
		}
		return nil, fmt.Errorf("ssh handshake: %w", err)
	}
	_ = nc.SetDeadline(time.Time{})
	cn := &conn{addr: addr, hostKey: accepted, client: ssh.NewClient(c, chans, reqs), timeout: t.CommandTimeout, stop: make(chan struct{})}
	go cn.keepalive()
	return cn, nil
}

// keepalive pings the server and closes the connection when it stops answering.
func (c *conn) keepalive() {
	t := time.NewTicker(keepaliveInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		select {
		case err := <-reply:
			if err != nil {
				_ = c.client.Close()
				return
			}
		case <-time.After(3 * keepaliveInterval):
			_ = c.client.Close()
			return
		case <-c.stop:
			return
		}
	}
}

// Close ends the connection.
func (c *conn) Close() error {
	c.once.Do(func() { close(c.stop) })
	return c.client.Close()
}

// exitError is a remote command that ran and exited non-zero.
type exitError struct {
	code   int
	stderr string
}

func (e *exitError) Error() string {
	if e.stderr != "" {
		return fmt.Sprintf("exit status %d: %s", e.code, e.stderr)
	}
	return fmt.Sprintf("exit status %d", e.code)
}

// run executes cmd with the connection's command timeout. When stderr is nil
// its tail is captured into the returned error.
func (c *conn) run(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	s, err := c.client.NewSession()
	if err != nil {
		return fmt.Errorf("open session: %w", err)
	}
	defer s.Close()
	var errTail *tailBuffer
	if stderr == nil {
		errTail = &tailBuffer{max: 4096}
		stderr = errTail
	}
	s.Stdin, s.Stdout, s.Stderr = stdin, stdout, stderr
	if err := s.Start(cmd); err != nil {
		return fmt.Errorf("start command: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGKILL)
		_ = s.Close()
		return fmt.Errorf("remote command: %w", ctx.Err())
	}
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		x := &exitError{code: ee.ExitStatus()}
		if errTail != nil {
			x.stderr = strings.TrimSpace(errTail.String())
		}
		return x
	}
	if err != nil {
		return fmt.Errorf("remote command: %w", err)
	}
	return nil
}

// output runs cmd and returns its standard output.
func (c *conn) output(ctx context.Context, cmd string, stdin io.Reader) (string, error) {
	var out strings.Builder
	err := c.run(ctx, cmd, stdin, &out, nil)
	return out.String(), err
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = b.buf[len(b.buf)-b.max:]
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
