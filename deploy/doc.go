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
// # Upload
//
// Every release travels as one tar stream over one SSH session, extracted by
// the remote tar (tar -x -p -o -f - -C <path>). The first release carries every
// file. When the server already has a release with a manifest (the current
// one), the stream carries hard-link entries to that release for every file
// whose content and mode are unchanged, so the remote tar creates the new
// release as a hard-linked copy and only changed files travel. A changed file
// is never linked, so it is created as a new inode and the previous release is
// never modified; a removed file is simply not in the stream. This needs no
// GNU cp -al and no per-file process on the server. After extraction the
// server hashes the files that were sent (sha256sum) and the engine compares
// them with the manifest before anything runs in the release.
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
// A POSIX sh, tar (GNU or bsdtar), sha256sum, xargs, find, readlink, flock and
// perl. Debian and Ubuntu have all of them in their base system; the lock
// step checks and names any that is missing before anything is written.
//
// # Safety
//
// Host keys are always checked against Target.KnownHostsFile; there is no way
// to turn that off. Every value placed in a remote command is validated and
// single-quoted; file paths of the release never appear in a command line at
// all (they travel in the tar stream or NUL-separated on standard input).
package deploy
