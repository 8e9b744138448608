#!/usr/bin/env bash
# Build the web dashboard (dashboard/, Vite + TypeScript) into rest_api/dashboard/, the package
# data rest_api serves at "/", when its sources changed since the committed build.
#
# The build records the hash of its sources in rest_api/dashboard/source-hash; an unchanged hash
# skips the build, so a fresh clone (which carries the committed build) needs no Node.
#   scripts/build_dashboard.sh          build if the sources changed (needs node >= 20.19 and npm)
#   scripts/build_dashboard.sh --check  exit 1 if the committed build is not of the current sources
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/dashboard"
OUT="$ROOT/rest_api/dashboard"

source_hash() {
  (cd "$SRC" && find . -path ./node_modules -prune -o -type f -print | LC_ALL=C sort \
    | while read -r f; do printf '%s\n' "$f"; cat "$f"; done) | sha256sum | cut -c1-16
}

want="$(source_hash)"
have="$(cat "$OUT/source-hash" 2>/dev/null || true)"
if [ "$want" = "$have" ]; then
  exit 0
fi
if [ "${1:-}" = "--check" ]; then
  echo "rest_api/dashboard was built from other sources ($have, sources are $want):" \
    "run scripts/build_dashboard.sh and commit rest_api/dashboard" >&2
  exit 1
fi
if ! command -v npm >/dev/null; then
  echo "WARNING: dashboard/ changed but npm is missing; serving the dashboard as last built" >&2
  exit 0
fi
echo "building the dashboard (sources $want)"
(cd "$SRC" && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
echo "$want" > "$OUT/source-hash"
