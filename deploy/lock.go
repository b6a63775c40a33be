package deploy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// remoteLock is a held deploy lock: a remote flock(1) process that lives as
// long as this session (see the package documentation).
type remoteLock struct {
	sess  *ssh.Session
	stdin io.WriteCloser
	done  chan error
}

// lockOwner describes this process for the lock file, so that a refused
// deploy can say who holds the lock.
func lockOwner(now time.Time, op, env, release string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("pid=%d host=%s since=%s op=%s environment=%s release=%s",
		os.Getpid(), host, now.UTC().Format(time.RFC3339), op, env, release)
}

// acquireLock takes the deploy lock of root on c, waiting up to wait for a
// lock held by someone else.
// It returns the lock and the server's layout as seen under the lock.
func acquireLock(ctx context.Context, c *conn, root, owner string, wait time.Duration) (*remoteLock, serverState, error) {
	sess, err := c.client.NewSession()
	if err != nil {
		return nil, serverState{}, fmt.Errorf("open session: %w", err)
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		_ = sess.Close()
		return nil, serverState{}, err
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		_ = sess.Close()
		return nil, serverState{}, err
	}
	stderr := &tailBuffer{max: 4096}
	sess.Stderr = stderr
	waitSeconds := int((wait + time.Second - 1) / time.Second)
	if err := sess.Start(lockScript(root, owner, waitSeconds)); err != nil {
		_ = sess.Close()
		return nil, serverState{}, fmt.Errorf("start lock command: %w", err)
	}
	l := &remoteLock{sess: sess, stdin: stdin, done: make(chan error, 1)}
	got := make(chan string, 1)
	go func() {
		// Everything before "locked" is the layout report.
		var report strings.Builder
		br := bufio.NewReader(stdout)
		for {
			line, err := br.ReadString('\n')
			if strings.TrimSpace(line) == "locked" {
				got <- report.String()
				break
			}
			report.WriteString(line)
			if err != nil {
				got <- ""
				return
			}
		}
		_, _ = io.Copy(io.Discard, br)
	}()
	go func() { l.done <- sess.Wait() }()

	timeout := time.NewTimer(wait + c.timeout)
	defer timeout.Stop()
	select {
	case report, ok := <-got:
		if ok && report != "" {
			return l, parseInspect(report), nil
		}
		err = <-l.done
	case err = <-l.done:
	case <-ctx.Done():
		_ = sess.Close()
		return nil, serverState{}, ctx.Err()
	case <-timeout.C:
		_ = sess.Close()
		return nil, serverState{}, errors.New("timed out taking the deploy lock")
	}
	_ = sess.Close()
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		switch ee.ExitStatus() {
		case exitLockBusy:
			owner, _ := c.output(ctx, lockOwnerScript(root), nil)
			return nil, serverState{}, fmt.Errorf("another deploy holds the lock %s/.tollgate-lock (%s)", root, strings.TrimSpace(owner))
		case exitMissingTools:
			return nil, serverState{}, fmt.Errorf("server lacks required tools: %s", strings.TrimSpace(stderr.String()))
		}
		return nil, serverState{}, fmt.Errorf("take lock: exit status %d: %s", ee.ExitStatus(), strings.TrimSpace(stderr.String()))
	}
	if err == nil {
		err = errors.New("lock command ended without taking the lock")
	}
	return nil, serverState{}, fmt.Errorf("take lock: %w", err)
}

// release ends the lock process; the kernel drops the flock.
func (l *remoteLock) release() error {
	_ = l.stdin.Close()
	var err error
	select {
	case err = <-l.done:
	case <-time.After(30 * time.Second):
		err = errors.New("lock process did not exit; closing its session")
	}
	_ = l.sess.Close()
	var ee *ssh.ExitError
	if errors.As(err, &ee) && ee.ExitStatus() == 0 {
		err = nil
	}
	return err
}
