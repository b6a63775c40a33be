package deploy

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

const keepaliveInterval = 15 * time.Second

// conn is one SSH connection to a server, reused for every step of a deploy.
type conn struct {
	addr    string
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
	cfg := &ssh.ClientConfig{
		User:              srv.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(t.Signer)},
		HostKeyCallback:   check,
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
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(t.DialTimeout))
	c, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if err != nil {
		_ = nc.Close()
		var hk *hostKeyError
		if errors.As(err, &hk) {
			return nil, hk
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, fmt.Errorf("log in as %s: authentication with key %s refused (is its public key in the server's authorized_keys?): %w",
				srv.User, ssh.FingerprintSHA256(t.Signer.PublicKey()), err)
		}
		return nil, fmt.Errorf("ssh handshake: %w", err)
	}
	_ = nc.SetDeadline(time.Time{})
	cn := &conn{addr: addr, client: ssh.NewClient(c, chans, reqs), timeout: t.CommandTimeout, stop: make(chan struct{})}
	go cn.keepalive()
	return cn, nil
}

// hostKeyError is a refused host key; its message names host, port and the
// offered key's fingerprint.
type hostKeyError struct{ msg string }

func (e *hostKeyError) Error() string { return e.msg }

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
		fp := fmt.Sprintf("%s %s", key.Type(), ssh.FingerprintSHA256(key))
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case errors.As(err, &re):
			return &hostKeyError{fmt.Sprintf("host %s: key %s is revoked in %s; refusing to connect", addr, fp, file)}
		case errors.As(err, &ke) && len(ke.Want) == 0:
			return &hostKeyError{fmt.Sprintf("unknown host %s: its key %s is not in %s; refusing to connect", addr, fp, file)}
		case errors.As(err, &ke):
			known := make([]string, 0, len(ke.Want))
			for _, w := range ke.Want {
				known = append(known, fmt.Sprintf("%s %s (%s:%d)", w.Key.Type(), ssh.FingerprintSHA256(w.Key), w.Filename, w.Line))
			}
			return &hostKeyError{fmt.Sprintf("HOST KEY CHANGED for %s: it offered %s, known_hosts has %s; refusing to connect",
				addr, fp, strings.Join(known, ", "))}
		}
		return &hostKeyError{fmt.Sprintf("host %s: key %s: %v", addr, fp, err)}
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
