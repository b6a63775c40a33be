// Package sshtest is an in-process SSH server for fast tests and the demo:
// it accepts the given client keys and runs each exec request with /bin/sh
// in a working directory, like a tiny sshd.
package sshtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"sync"
	"syscall"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Server is a running in-process SSH server.
type Server struct {
	Addr    string        // 127.0.0.1:port
	HostKey ssh.PublicKey // for known_hosts
	Dir     string        // working directory of commands

	ln     net.Listener
	config *ssh.ServerConfig
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
}

// New starts a server on a random loopback port that accepts the given
// public keys and runs commands in dir.
func New(dir string, authorized ...ssh.PublicKey) (*Server, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	hostKey, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	allowed := map[string]bool{}
	for _, k := range authorized {
		allowed[string(k.Marshal())] = true
	}
	config := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if allowed[string(key.Marshal())] {
				return &ssh.Permissions{}, nil
			}
			return nil, fmt.Errorf("key %s not authorized", ssh.FingerprintSHA256(key))
		},
	}
	config.AddHostKey(hostKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: ln.Addr().String(), HostKey: hostKey.PublicKey(), Dir: dir, ln: ln, config: config, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// KnownHostsLine returns the server's known_hosts line.
func (s *Server) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, s.HostKey)
}

// Close stops accepting, drops every connection (killing its commands) and waits.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	err := s.ln.Close()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return
		}
		s.conns[nc] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handleConn(nc)
			s.mu.Lock()
			delete(s.conns, nc)
			s.mu.Unlock()
		}()
	}
}

func (s *Server) handleConn(nc net.Conn) {
	defer nc.Close()
	_, chans, reqs, err := ssh.NewServerConn(nc, s.config)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	for nch := range chans {
		if nch.ChannelType() != "session" {
			_ = nch.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, chReqs, err := nch.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.handleSession(ch, chReqs)
		}()
	}
	wg.Wait()
}

// handleSession serves one session: the first exec request runs; closing
// the channel or the connection kills the command's process group.
func (s *Server) handleSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var cmd *exec.Cmd
	done := make(chan struct{})
	exited := false
	for {
		select {
		case req, ok := <-reqs:
			if !ok {
				killGroup(cmd)
				if cmd != nil && !exited {
					<-done
				}
				return
			}
			switch req.Type {
			case "exec":
				if cmd != nil {
					_ = req.Reply(false, nil)
					continue
				}
				var payload struct{ Command string }
				if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
					_ = req.Reply(false, nil)
					continue
				}
				c, err := s.start(ch, payload.Command)
				if err != nil {
					_ = req.Reply(false, nil)
					continue
				}
				cmd = c
				_ = req.Reply(true, nil)
				go func() {
					status := exitStatus(cmd.Wait())
					var b [4]byte
					binary.BigEndian.PutUint32(b[:], status)
					_, _ = ch.SendRequest("exit-status", false, b[:])
					_ = ch.Close()
					close(done)
				}()
			case "signal":
				killGroup(cmd)
				_ = req.Reply(true, nil)
			default:
				_ = req.Reply(req.Type == "env", nil)
			}
		case <-doneOnce(done, exited):
			exited = true // exit status sent; wait for the client to close
		}
	}
}

func (s *Server) start(ch ssh.Channel, command string) (*exec.Cmd, error) {
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_, _ = io.Copy(stdin, ch)
		_ = stdin.Close()
	}()
	return cmd, nil
}

func killGroup(cmd *exec.Cmd) {
	if cmd != nil && cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

func exitStatus(err error) uint32 {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + uint32(ws.Signal())
		}
		return uint32(ee.ExitCode())
	}
	if err != nil {
		return 255
	}
	return 0
}

// doneOnce yields done until the command's exit was seen, then nothing.
func doneOnce(done chan struct{}, exited bool) <-chan struct{} {
	if exited {
		return nil
	}
	return done
}
