package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/deploy"
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
		target, err := env.SSHTarget()
		if err != nil {
			d.fail(areaIsolation, "SSH key of "+env.String(), err.Error(), "generate an unencrypted ed25519 key for this environment (ssh-keygen -t ed25519 -N '') and chmod 600 it")
			continue
		}
		// Read once per environment so an unreadable file is one finding,
		// not one per server.
		if _, err := knownhosts.New(env.SSH.KnownHostsFile); err != nil {
			d.fail(areaIsolation, "known_hosts of "+env.String(), err.Error(),
				"create "+env.SSH.KnownHostsFile+" with the servers' host keys, verified out of band")
			continue
		}
		target = deploy.Target{Signer: target.Signer, KnownHostsFile: env.SSH.KnownHostsFile, DialTimeout: d.timeout}
		for _, srv := range env.Servers {
			d.probeServer(ctx, env, srv, target)
		}
	}
}

// probeServer logs in to srv through the deploy engine's own connection code
// and turns its error into a finding with the fix for it.
func (d *doctor) probeServer(ctx context.Context, env *config.Environment, srv config.Server, target deploy.Target) {
	port := srv.Port
	if port == 0 {
		port = config.DefaultSSHPort
	}
	server := deploy.Server{Host: srv.Host, Port: port, User: srv.User}
	what := fmt.Sprintf("server %s of %s", server.Addr(), env.String())
	err := deploy.CheckLogin(ctx, target, server)
	if err == nil {
		d.pass(areaIsolation, what, fmt.Sprintf("reachable, host key pinned and matching, %s logs in with the environment's key", srv.User))
		return
	}
	khFile := env.SSH.KnownHostsFile
	keyFP := ssh.FingerprintSHA256(target.Signer.PublicKey())
	var hk *deploy.HostKeyError
	if errors.As(err, &hk) && hk.Problem != deploy.HostKeyUnchecked {
		d.hostKeyFinding(what, hk, srv.Host, port, khFile)
		return
	}
	switch {
	case errors.Is(err, deploy.ErrUnreachable):
		d.fail(areaIsolation, what, "unreachable: "+err.Error(), "check the host name, port and firewall, and that sshd runs there")
	case errors.Is(err, deploy.ErrLoginRefused):
		d.fail(areaIsolation, what, fmt.Sprintf("login as %s with key %s refused", srv.User, keyFP),
			fmt.Sprintf("add the environment's public key (%s) to ~%s/.ssh/authorized_keys on %s", keyFP, srv.User, srv.Host))
	default:
		cause := err
		if u := errors.Unwrap(err); u != nil {
			cause = u
		}
		d.fail(areaIsolation, what, "SSH handshake failed: "+cause.Error(), "check that the port speaks SSH and sshd accepts the client's algorithms")
	}
}

// hostKeyFinding reports a host key that known_hosts refused, with how to
// verify and pin the right one.
func (d *doctor) hostKeyFinding(what string, hk *deploy.HostKeyError, host string, port int, khFile string) {
	fp := hk.Offered.Type() + " " + ssh.FingerprintSHA256(hk.Offered)
	switch hk.Problem {
	case deploy.HostKeyRevoked:
		d.fail(areaIsolation, what, "host key "+fp+" is revoked in "+khFile, "find out why the server presents a revoked key before deploying to it")
	case deploy.HostKeyUnknown:
		d.fail(areaIsolation, what, "host key not pinned: "+khFile+" has no key for it (it offers "+fp+")",
			fmt.Sprintf("verify %s out of band (on the server: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then append `ssh-keyscan -p %d %s` to %s", fp, port, host, khFile))
	default:
		var known []string
		for _, w := range hk.Pinned {
			known = append(known, fmt.Sprintf("%s (%s:%d)", ssh.FingerprintSHA256(w.Key), w.Filename, w.Line))
		}
		d.fail(areaIsolation, what, fmt.Sprintf("HOST KEY CHANGED: it offers %s, %s pins %s", fp, khFile, strings.Join(known, ", ")),
			"do not deploy: find out why the key changed; if the server was rebuilt, verify the new key out of band and replace its line in "+khFile)
	}
}
