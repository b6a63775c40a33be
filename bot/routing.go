package bot

import "slices"

// Routing decisions: which environments an event asks for. The
// configuration decides them (EnvironmentPolicy.OnMergeTo, Labels); the
// transports translate an event and ask here, so they never read
// configuration themselves.

// DeploysOnMergeTo reports whether a pull request merged into branch
// deploys to this environment.
func (p *EnvironmentPolicy) DeploysOnMergeTo(branch string) bool {
	return slices.Contains(p.OnMergeTo, branch)
}

// Routes answers where events go from the policies in force.
type Routes struct{ Policies Policies }

// ForMerge lists the environments of repo that a pull request merged into
// branch deploys to, sorted by name.
func (r Routes) ForMerge(repo, branch string) []string {
	var out []string
	for _, env := range r.Policies.Environments(repo) {
		if p, ok := r.Policies.Environment(repo, env); ok && p.DeploysOnMergeTo(branch) {
			out = append(out, env)
		}
	}
	return out
}

// ForLabel returns the environment of repo that a pull request label
// requests. When several list it (the configuration refuses that) the
// first by name wins.
func (r Routes) ForLabel(repo, label string) (string, bool) {
	for _, env := range r.Policies.Environments(repo) {
		if p, ok := r.Policies.Environment(repo, env); ok && slices.Contains(p.Labels, label) {
			return env, true
		}
	}
	return "", false
}

// ForDeploymentEvent reports whether a GitHub deployment (or a deployment
// protection rule run) for repo's env is Tollgate's to decide: the
// environment is configured for the repository.
func (r Routes) ForDeploymentEvent(repo, env string) bool {
	_, ok := r.Policies.Environment(repo, env)
	return ok
}

// ForMerge implements the transports' routing question; see Routes.
func (s *Service) ForMerge(repo, branch string) []string {
	return Routes{s.policies}.ForMerge(repo, branch)
}

// ForLabel implements the transports' routing question; see Routes.
func (s *Service) ForLabel(repo, label string) (string, bool) {
	return Routes{s.policies}.ForLabel(repo, label)
}

// ForDeploymentEvent implements the transports' routing question; see Routes.
func (s *Service) ForDeploymentEvent(repo, env string) bool {
	return Routes{s.policies}.ForDeploymentEvent(repo, env)
}
