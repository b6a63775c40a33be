package deploy

import "time"

// OutcomeKind is how a deploy or rollback ended.
type OutcomeKind string

// Outcomes of a deploy or rollback.
const (
	Succeeded  OutcomeKind = "succeeded"   // the release is live on every server and healthy
	Failed     OutcomeKind = "failed"      // nothing was switched (or switching back failed: see Live)
	RolledBack OutcomeKind = "rolled_back" // it went live, failed, and every server is back on its previous release
)

// Result is what happened, for the deployment record and the audit log.
type Result struct {
	Operation      string // "deploy" or "rollback"
	Environment    string
	Release        string
	SHA            string
	Outcome        OutcomeKind
	Error          string   // redacted; empty on success
	Manifest       Manifest // the whole release
	ManifestDigest string   // Manifest.Digest()
	Source         SourceUse
	Servers        []ServerResult
	Started        time.Time
	Finished       time.Time
}

// SwitchedAt is when current pointed at the release on every server that
// was switched: the latest server's switch time, zero when none was.
func (r Result) SwitchedAt() time.Time {
	var at time.Time
	for _, s := range r.Servers {
		if s.SwitchedAt.After(at) {
			at = s.SwitchedAt
		}
	}
	return at
}

// SourceMode is how a deploy read its source.
type SourceMode string

// Ways of reading a source.
const (
	SourceStream  SourceMode = "stream"  // a Source, read as a whole
	SourceTree    SourceMode = "tree"    // a ListedSource's tree: only files no server had were fetched
	SourceTarball SourceMode = "tarball" // a ListedSource read as a whole (Reason says why)
)

// SourceUse is how the source of a deploy was read.
type SourceUse struct {
	Mode SourceMode
	// Reason says why a ListedSource was read as a whole.
	Reason string `json:",omitempty"`
	// FilesFetched and BytesFetched count the files whose content was
	// fetched one by one (SourceTree).
	FilesFetched int   `json:",omitempty"`
	BytesFetched int64 `json:",omitempty"`
	// Seconds is how long reading and validating the whole source took,
	// overlapping the upload.
	Seconds float64
}

// ServerResult is what happened on one server.
type ServerResult struct {
	Server string // host:port
	Host   string
	Port   int // 22 when the configuration left it out
	// HostKeySHA256 is the fingerprint of the host key the server
	// presented and known_hosts accepted (ssh.FingerprintSHA256); "" when
	// no connection was made.
	HostKeySHA256 string
	// SwitchedAt is when current was pointed at Release on this server;
	// zero when this operation did not switch it.
	SwitchedAt time.Time
	Release    string // the release deployed (or rolled back to)
	Previous   string // current release before the operation; "" if none
	Live       string // current release afterwards, as last known
	// Base is the release the new one was hard-linked from; "" for a full upload.
	Base      string
	FilesSent int
	BytesSent int64    // file content bytes sent
	Sent      []string // paths of the files actually sent
	Steps     []StepResult
	Hooks     []HookResult
	Health    *HealthResult
	Error     string // redacted; names the step
}

// StepResult times one step on one server.
type StepResult struct {
	Step    string
	Seconds float64
	Error   string `json:",omitempty"`
}

// HookResult is one hook command's run.
type HookResult struct {
	Phase     string // before_switch, after_switch, after_switch (switch back)
	Command   string // redacted
	ExitCode  int    // -1 when it did not exit normally (timeout, lost connection)
	Output    string // combined stdout and stderr, redacted, at most 64 KiB
	Truncated bool
}

// HealthResult is the health check on one server.
type HealthResult struct {
	OK       bool
	Attempts int
	Detail   string // last status or error, redacted
}

// ServerStatus is what is live on one server.
type ServerStatus struct {
	Server   string
	Current  string
	Releases []ReleaseInfo // newest first
	Error    string
}

// ReleaseInfo describes one release directory on a server.
type ReleaseInfo struct {
	Name     string
	Created  time.Time // when its deploy started (Tollgate's clock)
	Good     bool      // went live and passed its health check
	GoodAt   time.Time
	Complete bool // has its manifest (upload finished)
}
