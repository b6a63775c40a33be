#!/usr/bin/env bash
# Runs govulncheck offline: the database is built from the OSV files that the
# golang.org/x/vulndb module ships, fetched through the Go module proxy.
set -euo pipefail
version=${1:-latest}
out=${2:-bin/vulndb}
root=$(cd "$(dirname "$0")/.." && pwd)

dir=$(cd "$(mktemp -d)" && go mod download -json "golang.org/x/vulndb@${version}" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] && [ -d "$dir/data/osv" ] || { echo "vuln: could not fetch golang.org/x/vulndb@${version}" >&2; exit 2; }

builder=""
for cand in "${TOLLGATE_SHARED_DIR:-$root/../shared}/tools/build-vulndb.py"; do
  [ -f "$cand" ] && { builder=$cand; break; }
done
[ -n "$builder" ] || { echo "vuln: build-vulndb.py not found (expected ../shared/tools/)" >&2; exit 2; }

rm -rf "$out"
python3 "$builder" "$dir/data/osv" "$out"
cd "$root"
go tool govulncheck -db "file://$(cd "$out" && pwd)" ./...
