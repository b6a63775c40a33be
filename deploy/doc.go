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
// sha256sum; one process per core via xargs -P), and the engine compares
// the hashes with the manifest before anything runs in the release:
// "verified" in the log is true of every file. A hard-linked file that
// differs was changed on the server after its own release was verified (an
// edited live file): it is sent anew, replacing the link, and checked
// again, so a tampered live file is never carried into the next release;
// the log names it.
//
// A deploy opens four SSH sessions on each server's one connection (lock,
// upload, switch, success marker) plus one per hook or health command.
// Target.MaxParallel (max_parallel_servers) bounds how many servers are
// worked on at once.
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
