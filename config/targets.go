package config

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"golang.org/x/crypto/ssh"

	"github.com/tollgate-dev/tollgate/deploy"
)

// envKey names one environment of one repository.
type envKey struct{ repo, env string }

// SSHTargets is the deploy target of every environment of type ssh;
// actions_gate environments (GitHub Actions deploys) have none.
type SSHTargets map[envKey]deploy.Target

// Target returns the target of repo's env.
func (ts SSHTargets) Target(repo, env string) (deploy.Target, bool) {
	t, ok := ts[envKey{repo, env}]
	return t, ok
}

// TargetType returns the deploy target type of repo's env (TargetSSH,
// TargetActionsGate), "" when the environment is not configured.
func (c *Config) TargetType(repo, env string) string {
	e, ok := c.Environment(repo, env)
	if !ok {
		return ""
	}
	return e.Type
}

// SSHTargets builds the deploy targets of the ssh environments, loading
// each environment's own SSH key. Credential separation stays: an
// environment's Target holds only the key and known_hosts configured for
// that environment. Errors name the file and line, never key material.
func (c *Config) SSHTargets() (SSHTargets, error) {
	cfg := c
	out := SSHTargets{}
	var errs []error
	for _, env := range cfg.Environments() {
		if env.Type != TargetSSH {
			continue
		}
		t, err := env.SSHTarget()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: repositories.%s.environments.%s: %w", cfg.File, env.Line, env.Repository, env.Name, err))
			continue
		}
		out[envKey{env.Repository, env.Name}] = t
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// SSHTarget converts one environment's servers and deploy settings, with
// its own SSH key loaded.
func (env *Environment) SSHTarget() (deploy.Target, error) {
	signer, err := loadSSHKey(env.SSH.PrivateKeyFile)
	if err != nil {
		return deploy.Target{}, err
	}
	t := deploy.Target{
		Environment:    env.String(),
		Signer:         signer,
		KnownHostsFile: env.SSH.KnownHostsFile,
		Path:           env.Path,
		KeepReleases:   env.KeepReleases,
		MaxParallel:    env.MaxParallel,
		Shared:         append([]string(nil), env.Shared...),
		Hooks: deploy.Hooks{
			BeforeSwitch: append([]string(nil), env.Hooks.BeforeSwitch...),
			AfterSwitch:  append([]string(nil), env.Hooks.AfterSwitch...),
		},
		Secrets: env.SecretValues(),
	}
	t.FetchChangedLimit = fetchChangedLimit(env.TarballAbovePercent)
	for _, s := range env.Servers {
		srv := deploy.Server{Host: s.Host, Port: s.Port, User: s.User}
		if s.Path != env.Path {
			srv.Path = s.Path // this server's own directory (servers[].path)
		}
		t.Servers = append(t.Servers, srv)
	}
	if hc := env.HealthCheck; hc != nil {
		t.HealthCheck = deploy.HealthCheck{URL: hc.URL, Command: hc.Command, Timeout: hc.Timeout,
			Retries: hc.Retries, Interval: hc.Interval}
	}
	return t, nil
}

// fetchChangedLimit converts tarball_above_percent into
// Target.FetchChangedLimit: 0 means always the whole tarball.
func fetchChangedLimit(percent int) float64 {
	if percent <= 0 {
		return -1
	}
	return float64(percent) / 100
}

// loadSSHKey reads an unencrypted private key file. Errors name the file,
// never its contents.
func loadSSHKey(path string) (ssh.Signer, error) {
	if path == "" {
		return nil, errors.New("ssh.private_key_file is not set")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ssh.private_key_file: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, fmt.Errorf("ssh.private_key_file %s is protected by a passphrase; Tollgate needs an unencrypted key (mode 0600)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("ssh.private_key_file %s is not a usable SSH private key", path)
	}
	return signer, nil
}

// SSHEnvironment is one ssh environment's target, named.
type SSHEnvironment struct {
	Repo, Name string
	Target     deploy.Target
}

// List returns every ssh environment, by repository and name.
func (ts SSHTargets) List() []SSHEnvironment {
	out := make([]SSHEnvironment, 0, len(ts))
	for k, t := range ts {
		out = append(out, SSHEnvironment{Repo: k.repo, Name: k.env, Target: t})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Repo != out[j].Repo {
			return out[i].Repo < out[j].Repo
		}
		return out[i].Name < out[j].Name
	})
	return out
}
