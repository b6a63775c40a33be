// Package deploy puts the tree of one commit live on a set of servers over
// SSH, atomically, and reports exactly what it did.
//
// # Layout on each server (Capistrano's)
//
//	<path>/releases/<name>/      one directory per release (<UTC yyyymmddHHMMSS>-<sha7>)
//	<path>/shared/               paths listed in Target.Shared, symlinked into every release
//	<path>/current               symlink -> releases/<name>, the live release
//	<path>/.tollgate/<name>/     manifest, created time and success marker ("ok") of a release
//	<path>/.tollgate-lock        the deploy lock (see below)
//
// Release metadata lives outside the release directory so nothing of ours is
// served by the application.
//
// Server.Path can give one server its own deploy path (tests run several
// sshd processes on one machine this way).
//
// # Source
//
// The source (a release tarball, or git archive) is read once and streamed
// to every server as it is read: each entry is validated as it arrives and
// spooled to one local file, which every server's upload follows at its own
// pace, so a slow server holds up neither the reader nor the other servers.
// Refused, with an error naming the entry: absolute paths, ".." components,
// paths over 4096 bytes or with a name over 255, devices, fifos, hard
// links, duplicates, entries below a symlink or a file, and symlinks that
// resolve (following the tree's own symlinks, at most 40 in all) outside
// the release, or that a shared path would be linked below. Paths with
// control characters are refused too, which keeps manifests and logs
// line-oriented. The first megabyte of a stream is read before any server
// is contacted, so a small or early-bad tarball costs no connection.
//
// What needs the whole tree (symlink resolution, shared paths) is checked
// when the source ends; only then does each upload write the release's
// manifest, and only once every server has verified every file does
// anything run in the release. A source refused at any point, even its
// last entry after most bytes went out, stops every upload; the partial
// release is removed from every server and nothing switches.
//
// # Upload
//
// Every release travels as one tar stream over one SSH session per server,
// extracted by the remote tar (tar -x -p -o -f - in <path>), metadata last;
// the log reports each server's progress every few seconds. The first
// release carries every file. When the server already has a release with a
// manifest (the current one), the stream carries hard-link entries to that
// release for every file whose content and mode are unchanged at the same
// path, so the remote tar creates the new release as a hard-linked copy and
// only changed files travel. A changed file is never linked, so it is
// created as a new inode and the previous release is never modified; a
// removed file is simply not in the stream. This needs no GNU cp -al and no
// per-file process on the server. In the same session, after extraction,
// the server hashes every file of the new release, sent or hard-linked
// (openssl dgst when present, which uses the CPU's SHA instructions, else
// sha256sum; one process per core via xargs -P) and lists its mode bits
// (perl), and the engine compares both with the manifest before anything
// runs in the release: "verified" in the log is true of every file. A
// hard-linked file that differs was changed on the server after its own
// release was verified (an edited or chmod-ed live file): it is sent anew,
// replacing the link, and checked again, so a tampered live file is never
// carried into the next release; the log names it.
//
// A deploy opens four SSH sessions on each server's one connection (lock,
// upload, switch, success marker; a tree deploy uploads in two) plus one per
// hook or health command, and one to send changed live files anew.
// Target.MaxParallel (max_parallel_servers) bounds how many servers are
// worked on at once.
//
// # Fetching only what changed
//
// A ListedSource (the GitHub tree source in integrations/github; GitTree
// for a local repository) lists the commit's tree, with each file's git blob
// id, size and mode, before any content. While the servers are locked and
// inspected, the engine compares the tree with what every server's live
// release holds: a file need not be fetched when the engine knows its
// blob's SHA-256 and every server's live release has a file with that
// SHA-256 and mode at the same path. Those files are streamed as hard
// links, by hash alone; the others are fetched blob by blob (the source
// bounds the parallelism), hashed as they stream through (the manifest
// stays SHA-256 over content) and checked against their blob id. The whole
// source is read instead, and the log says why, when there is no previous
// release on some server, when more than Target.FetchChangedLimit of the
// release's bytes (default 20%) would be fetched, or when the source cannot
// list its tree file by file (.gitattributes that make git archive differ
// from the blobs: Git LFS and other filters, export-subst, export-ignore,
// ident, CRLF, a working-tree encoding). Submodules are empty directories,
// symlinks and modes come from the tree, as in the commit's tarball, so
// either way gives the same manifest. Each server gets what it already has
// (directories, symlinks, hard links) in a first session, which extracts and
// hashes it while the changed files download, and the fetched files, shared
// links and metadata in a second one.
//
// Where the previous release's record comes from: its manifest (path,
// mode, size, SHA-256) is read from the server (<path>/.tollgate/<name>/
// manifest) under the lock, and every file taken from it is hashed again on
// the server after the upload, like every file of the release. Which blob
// has which SHA-256 is never taken from a server: the engine keeps a
// content index (Engine.ContentIndexFile on the Tollgate host, bounded)
// filled only with content it hashed itself, blob id and SHA-256 computed
// from the same bytes, whether fetched from the tree or read from the
// tarball. A server that rewrote both a live file and its release's
// manifest therefore cannot get its content recorded as the commit's: the
// engine's SHA-256 for the commit's blob does not match, the file is
// fetched and sent. An index that lost its file only costs one tarball
// read; a file changed on a server after verification is found by the
// hash after upload and sent anew (fetched from the tree if need be).
//
// A file of the live release removed on the server cannot be hard-linked:
// the lock step lists the files the live release holds, and the deploy
// sends those its manifest names but the server lacks (the log names them).
//
// # Drift
//
// Engine.Drift checks, read-only and without the lock, that every server
// runs what Tollgate put live (DriftExpect: the release and the manifest
// digest Tollgate recorded, never read from a server): which release
// current points at, that release's manifest (its digest must match), its
// attestation (present; verified when DriftOptions can), and every entry
// of the live release, each file hashed on the server as an upload is
// (hashSetup, hashFiles) and each entry lstat-ed by perl; deploy/drift
// compares. A switch during the check makes the server "not checked", not
// drifted. The hashers' output goes to a private temporary directory on the
// server (mktemp -d), removed when the command ends; nothing is written
// under the deploy path.
//
// # Atomic switch
//
// current is replaced by creating a symlink under a temporary name and
// renaming it over current with rename(2). POSIX mv cannot do that (it would
// move the link into the directory current points to) and mv -T is GNU only,
// so the rename is done with a one-line perl script: perl-base is Essential on
// Debian and Ubuntu and present on most other Unix systems.
//
// # Locking
//
// The lock is a kernel flock(2) on <path>/.tollgate-lock, taken with
// flock(1) (util-linux, Essential on Debian) by a remote process that lives as
// long as the deploy's SSH session: it writes its owner (pid, host, time,
// release) into the lock file, reports "locked" and then waits for end of
// input. When the deploying process finishes it closes the session; when it
// dies (even SIGKILL) its TCP connection closes, sshd ends the session, the
// remote process exits and the kernel drops the lock. A lock therefore can
// never outlive its owner's connection, and there is no takeover rule to get
// wrong. If the connection vanishes without a FIN, sshd's ClientAliveInterval
// or TCP keepalive ends the session. Target.LockWait makes a deploy wait for a
// busy lock instead of failing at once.
//
// # Remote requirements
//
// A POSIX sh, tar (GNU or bsdtar), sha256sum, xargs (with -0 and -P), find,
// readlink, sed, flock and perl; nproc and openssl are used when present. Debian and
// Ubuntu have all of them in their base system; the lock step checks and
// names any that is missing before anything is written.
//
// # Rollback
//
// Engine.Rollback switches every server back to a named release, or to the
// previous one marked good. Before anything runs in it, the release is
// checked on every server as an upload is: its manifest must be the same
// everywhere and, when Target.RecordedManifest has a record, the one
// Tollgate recorded when it deployed the release; every entry is hashed
// and listed on the server (as a drift check does) and must match it. A
// release edited on a server while it sat there is refused, naming the
// paths, and nothing switches.
//
// # Failure handling
//
// If any server fails before the switch (connect, lock, upload, hash check,
// before_switch), no server switches and the new release is removed where it
// was created. If a switch, an after_switch hook, the health check or the
// success marker fails, every switched server is switched back to its
// previous release (a first deploy's current link is removed), after_switch
// runs again there, the new release is removed, and the outcome is
// rolled_back. Releases that are neither current nor marked good are
// leftovers of failed or killed deploys; the next deploy removes them under
// the lock. keep_releases never removes the current release nor the newest
// good one.
//
// # Safety
//
// Host keys are always checked against Target.KnownHostsFile; there is no way
// to turn that off. Every value placed in a remote command is validated and
// single-quoted; file paths of the release never appear in a command line at
// all (they travel in the tar stream or NUL-separated on standard input).
package deploy
