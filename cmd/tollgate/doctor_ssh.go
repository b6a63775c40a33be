package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/tollgate-dev/tollgate/bot/config"
)

// checkServers logs in to every server of every environment with the
// environment's own key and known_hosts, as a deploy would, and reports
// what stops it: unreachable, host key not pinned, host key changed,
// login refused.
func (d *doctor) checkServers(ctx context.Context) {
	for _, env := range d.cfg.Environments() {
		if len(env.Servers) == 0 {
			continue
		}
		signer, err := loadSSHKey(env.SSH.PrivateKeyFile)
		if err != nil {
			d.fail(areaIsolation, "SSH key of "+env.String(), err.Error(), "generate an unencrypted ed25519 key for this environment (ssh-keygen -t ed25519 -N '') and chmod 600 it")
			continue
		}
		hosts, err := knownhosts.New(env.SSH.KnownHostsFile)
		if err != nil {
			d.fail(areaIsolation, "known_hosts of "+env.String(), err.Error(),
				"create "+env.SSH.KnownHostsFile+" with the servers' host keys, verified out of band")
			continue
		}
		for _, srv := range env.Servers {
			d.probeServer(ctx, env, srv, signer, hosts)
		}
	}
}

func (d *doctor) probeServer(ctx context.Context, env *config.Environment, srv config.Server, signer ssh.Signer, hosts ssh.HostKeyCallback) {
	port := srv.Port
	if port == 0 {
		port = config.DefaultSSHPort
	}
	addr := net.JoinHostPort(srv.Host, strconv.Itoa(port))
	what := fmt.Sprintf("server %s of %s", addr, env.String())
	dctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	var dialer net.Dialer
	nc, err := dialer.DialContext(dctx, "tcp", addr)
	if err != nil {
		d.fail(areaIsolation, what, "unreachable: "+err.Error(), "check the host name, port and firewall, and that sshd runs there")
		return
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(d.timeout))
	var offered ssh.PublicKey
	var hostErr error
	cfg := &ssh.ClientConfig{
		User: srv.User,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			offered = key
			hostErr = hosts(hostname, remote, key)
			return hostErr
		},
		HostKeyAlgorithms: pinnedAlgorithms(hosts, addr),
		Timeout:           d.timeout,
	}
	c, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if err == nil {
		ssh.NewClient(c, chans, reqs).Close()
		d.pass(areaIsolation, what, fmt.Sprintf("reachable, host key pinned and matching, %s logs in with the environment's key", srv.User))
		return
	}
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	fp := ""
	if offered != nil {
		fp = offered.Type() + " " + ssh.FingerprintSHA256(offered)
	}
	khFile := env.SSH.KnownHostsFile
	switch {
	case errors.As(hostErr, &re):
		d.fail(areaIsolation, what, "host key "+fp+" is revoked in "+khFile, "find out why the server presents a revoked key before deploying to it")
	case errors.As(hostErr, &ke) && len(ke.Want) == 0:
		d.fail(areaIsolation, what, "host key not pinned: "+khFile+" has no key for it (it offers "+fp+")",
			fmt.Sprintf("verify %s out of band (on the server: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then append `ssh-keyscan -p %d %s` to %s", fp, port, srv.Host, khFile))
	case errors.As(hostErr, &ke):
		var known []string
		for _, w := range ke.Want {
			known = append(known, fmt.Sprintf("%s (%s:%d)", ssh.FingerprintSHA256(w.Key), w.Filename, w.Line))
		}
		d.fail(areaIsolation, what, fmt.Sprintf("HOST KEY CHANGED: it offers %s, %s pins %s", fp, khFile, strings.Join(known, ", ")),
			"do not deploy: find out why the key changed; if the server was rebuilt, verify the new key out of band and replace its line in "+khFile)
	case strings.Contains(err.Error(), "unable to authenticate"):
		d.fail(areaIsolation, what, fmt.Sprintf("login as %s with key %s refused", srv.User, ssh.FingerprintSHA256(signer.PublicKey())),
			fmt.Sprintf("add the environment's public key (%s) to ~%s/.ssh/authorized_keys on %s", ssh.FingerprintSHA256(signer.PublicKey()), srv.User, srv.Host))
	default:
		d.fail(areaIsolation, what, "SSH handshake failed: "+err.Error(), "check that the port speaks SSH and sshd accepts the client's algorithms")
	}
}

// pinnedAlgorithms asks known_hosts which key types it pins for addr, by
// offering a throwaway key, so the server is asked for a key we can check.
func pinnedAlgorithms(hosts ssh.HostKeyCallback, addr string) []string {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
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
	if !errors.As(hosts(addr, tcp, probe.PublicKey()), &ke) {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, w := range ke.Want {
		names := []string{w.Key.Type()}
		if w.Key.Type() == ssh.KeyAlgoRSA {
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
