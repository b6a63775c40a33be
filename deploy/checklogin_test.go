package deploy_test

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/tollgate-dev/tollgate/deploy"
)

// TestCheckLoginClassifiesWhatStopsADeploy: CheckLogin connects as a deploy
// would, against real OpenSSH, and says what stopped it in a form a caller
// (tollgate doctor) can tell apart, with the deploy's own messages.
func TestCheckLoginClassifiesWhatStopsADeploy(t *testing.T) {
	other := startOpenSSH(t, 1) // a different server's host key
	cases := []struct {
		name    string
		plant   func(t *testing.T, f *fixture) deploy.Server
		check   func(err error) bool
		problem deploy.HostKeyProblem
		want    string
	}{
		{name: "reachable, pinned, authorised",
			plant: func(t *testing.T, f *fixture) deploy.Server { return f.target.Servers[0] },
			check: func(err error) bool { return err == nil }},
		{name: "unreachable",
			plant: func(t *testing.T, f *fixture) deploy.Server {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				port := l.Addr().(*net.TCPAddr).Port
				l.Close() // nothing listens there now
				return deploy.Server{Host: "127.0.0.1", Port: port, User: f.target.Servers[0].User}
			},
			check: func(err error) bool { return errors.Is(err, deploy.ErrUnreachable) }, want: "connection refused"},
		{name: "host key not in known_hosts",
			plant: func(t *testing.T, f *fixture) deploy.Server {
				writeKnownHosts(t, f, "")
				return f.target.Servers[0]
			},
			problem: deploy.HostKeyUnknown, want: "unknown host"},
		{name: "host key changed",
			plant: func(t *testing.T, f *fixture) deploy.Server {
				writeKnownHosts(t, f, knownhosts.Line([]string{knownhosts.Normalize(f.sshd[0].Addr())}, other.sshd[0].HostKey)+"\n")
				return f.target.Servers[0]
			},
			problem: deploy.HostKeyChanged, want: "HOST KEY CHANGED"},
		{name: "host key revoked",
			plant: func(t *testing.T, f *fixture) deploy.Server {
				writeKnownHosts(t, f, "@revoked "+knownhosts.Line([]string{knownhosts.Normalize(f.sshd[0].Addr())}, f.sshd[0].HostKey)+"\n")
				return f.target.Servers[0]
			},
			problem: deploy.HostKeyRevoked, want: "is revoked in"},
		{name: "login refused",
			plant: func(t *testing.T, f *fixture) deploy.Server {
				f.target.Signer = newSigner(t)
				return f.target.Servers[0]
			},
			check: func(err error) bool { return errors.Is(err, deploy.ErrLoginRefused) }, want: "authentication with key SHA256:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := startOpenSSH(t, 1)
			srv := tc.plant(t, f)
			err := deploy.CheckLogin(context.Background(), f.target, srv)
			if tc.problem != 0 {
				var hk *deploy.HostKeyError
				if !errors.As(err, &hk) || hk.Problem != tc.problem {
					t.Fatalf("CheckLogin = %v; want a host key error of problem %d", err, tc.problem)
				}
				if hk.Offered == nil || sshFingerprint(hk.Offered) != sshFingerprint(f.sshd[0].HostKey) {
					t.Errorf("offered key %v, want the server's", hk.Offered)
				}
				if tc.problem == deploy.HostKeyChanged && len(hk.Pinned) != 1 {
					t.Errorf("pinned keys %v, want the one known_hosts line", hk.Pinned)
				}
			} else if !tc.check(err) {
				t.Fatalf("CheckLogin = %v", err)
			}
			if err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
}

func writeKnownHosts(t *testing.T, f *fixture, content string) {
	t.Helper()
	if err := os.WriteFile(f.target.KnownHostsFile, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
