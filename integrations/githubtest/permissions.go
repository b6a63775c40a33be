package githubtest

import "maps"

// SetInstallationPermissions replaces what the installation grants the app
// (e.g. {"deployments": "read"} after an owner declined an upgrade), as
// shown in the installation and its access tokens; nil restores the app's
// full set. The fake reports grants; it does not refuse calls they lack.
func (s *Server) SetInstallationPermissions(id int64, perms map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in, ok := s.state.installations[id]; ok {
		in.permissions = maps.Clone(perms)
	}
}

// InstallationPermissions returns a copy of what the installation grants,
// or nil when there is no such installation.
func (s *Server) InstallationPermissions(id int64) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.state.installations[id]
	if !ok {
		return nil
	}
	return in.grantedPermissions()
}

// grantedPermissions is a copy of the installation's grants.
func (in *installation) grantedPermissions() map[string]string {
	if in.permissions == nil {
		return appPermissions()
	}
	return maps.Clone(in.permissions)
}
