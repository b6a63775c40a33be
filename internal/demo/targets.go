package demo

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/tollgate-dev/tollgate/deploy/sshtest"
)

// demoServer is one in-process SSH target.
type demoServer struct {
	Name string // web-1
	Root string // the deploy path on this server
	Host string
	Port int
	srv  *sshtest.Server
}

// demoEnvTarget is one environment's servers and its own credentials.
type demoEnvTarget struct {
	Name           string
	KeyFile        string
	KnownHostsFile string
	Servers        []*demoServer
}

// demoTargets are the staging and production environments' servers.
type demoTargets struct {
	Staging, Production demoEnvTarget
}

// startDemoTargets generates each environment's SSH key and starts its
// in-process SSH servers, each accepting only that environment's key, and
// writes each environment's known_hosts with its servers' host keys. dir
// is the demo's data directory.
func startDemoTargets(dir string) (*demoTargets, error) {
	t := &demoTargets{}
	var err error
	if t.Staging, err = startDemoEnv(dir, "staging", "staging-1"); err != nil {
		return nil, err
	}
	if t.Production, err = startDemoEnv(dir, "production", "web-1", "web-2"); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

func startDemoEnv(dir, env string, names ...string) (demoEnvTarget, error) {
	e := demoEnvTarget{Name: env, KeyFile: filepath.Join(dir, "keys", env+"_ed25519"),
		KnownHostsFile: filepath.Join(dir, "keys", "known_hosts_"+env)}
	pub, err := writeSSHKey(e.KeyFile, "tollgate-demo-"+env)
	if err != nil {
		return e, err
	}
	var known strings.Builder
	for _, name := range names {
		home := filepath.Join(dir, "servers", name)
		if err := os.MkdirAll(home, 0o755); err != nil {
			return e, fmt.Errorf("demo server %s: %w", name, err)
		}
		srv, err := sshtest.New(home, pub)
		if err != nil {
			e.close()
			return e, fmt.Errorf("starting demo SSH server %s: %w", name, err)
		}
		host, port, _ := net.SplitHostPort(srv.Addr)
		p, _ := strconv.Atoi(port)
		e.Servers = append(e.Servers, &demoServer{Name: name, Root: filepath.Join(home, "srv", "shop"), Host: host, Port: p, srv: srv})
		known.WriteString(srv.KnownHostsLine() + "\n")
	}
	if err := os.WriteFile(e.KnownHostsFile, []byte(known.String()), 0o644); err != nil {
		e.close()
		return e, fmt.Errorf("writing %s: %w", e.KnownHostsFile, err)
	}
	return e, nil
}

// writeSSHKey writes a new ed25519 private key in OpenSSH format (mode
// 0600) and returns its public key.
func writeSSHKey(path, comment string) (ssh.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating SSH key %s: %w", path, err)
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, fmt.Errorf("encoding SSH key %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("writing SSH key %s: %w", path, err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("writing SSH key %s: %w", path, err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("SSH key %s: %w", path, err)
	}
	return sshPub, nil
}

func (e demoEnvTarget) close() {
	for _, s := range e.Servers {
		_ = s.srv.Close()
	}
}

func (t *demoTargets) close() {
	t.Staging.close()
	t.Production.close()
}

// currentRelease returns the release a server's `current` link points to,
// or "" when nothing is deployed.
func (s *demoServer) currentRelease() string {
	target, err := os.Readlink(filepath.Join(s.Root, "current"))
	if err != nil {
		return ""
	}
	return filepath.Base(target)
}
