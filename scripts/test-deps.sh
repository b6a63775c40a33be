#!/usr/bin/env bash
# Makes sure the system packages the tests need are present. Installs them with
# apt-get when running as root on Debian/Ubuntu; otherwise says exactly what to
# install and fails, because the SSH tests must never be skipped silently.
set -euo pipefail

need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh   >/dev/null 2>&1 || need+=(openssh-client)
command -v rsync >/dev/null 2>&1 || need+=(rsync)
command -v git   >/dev/null 2>&1 || need+=(git)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v openssl >/dev/null 2>&1 || need+=(openssl)   # the deploy engine's fast server-side hashing path
# PostgreSQL's server (initdb, postgres): the store tests start a throwaway cluster.
have_postgres() {
  local d
  for d in /usr/lib/postgresql/*/bin "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")"; do
    [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && return 0
  done
  return 1
}
have_postgres || need+=(postgresql)

if [ ${#need[@]} -eq 0 ]; then
  echo "test dependencies: ok (sshd, ssh, rsync, git, sqlite3, chromium, openssl, postgresql)"
  exit 0
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test dependencies: installing ${need[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  [ -x /usr/sbin/sshd ] || { echo "openssh-server installed but /usr/sbin/sshd is missing" >&2; exit 1; }
  have_postgres || { echo "postgresql installed but initdb/postgres are missing from /usr/lib/postgresql/*/bin" >&2; exit 1; }
  echo "test dependencies: ok"
  exit 0
fi

cat >&2 <<MSG
The tests need these packages, which are missing: ${need[*]}
Install them, then run 'make test' again. On Debian or Ubuntu:

    sudo apt-get install ${need[*]}

(The SSH deploy tests run against a real OpenSSH sshd; they are not skipped in CI.
For a quick local run without them, TOLLGATE_SKIP_SSHD=1 skips only those tests.
The web pages are tested in a real headless Chromium; TOLLGATE_SKIP_BROWSER=1 skips only that test.
The store runs its tests on a real PostgreSQL too, in a throwaway cluster the tests start;
TOLLGATE_TEST_POSTGRES=postgres://… points them at a server of yours instead, and
TOLLGATE_SKIP_POSTGRES=1 skips only those tests.)
MSG
exit 1
