#!/usr/bin/env bash
# Runs govulncheck offline: the database is built (by internal/tools/buildvulndb)
# from the OSV files that the golang.org/x/vulndb module ships, fetched through
# the Go module proxy. Nothing outside the repository is read.
set -euo pipefail
version=${1:-latest}
out=${2:-bin/vulndb}
root=$(cd "$(dirname "$0")/.." && pwd)

dir=$(cd "$(mktemp -d)" && go mod download -json "golang.org/x/vulndb@${version}" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] && [ -d "$dir/data/osv" ] || { echo "vuln: could not fetch golang.org/x/vulndb@${version}" >&2; exit 2; }

cd "$root"
rm -rf "$out"
go run ./internal/tools/buildvulndb "$dir/data/osv" "$out"
go tool govulncheck -db "file://$(cd "$out" && pwd)" ./...
