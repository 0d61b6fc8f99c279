#!/usr/bin/env bash
# Runs the test suite as if it were another moment, to find tests that turn on the clock (a
# fixture's maintenance window opening, the example's monthly window, a year or DST boundary):
#
#   npm run test:at -- 2027-01-05T02:30:00Z [vitest arguments]
#
# libfaketime (Debian: faketime) moves the clock of vitest and of every process it starts by the
# same offset, so a server and the CLI that talks to it agree on the time. The PostgreSQL and Redis
# already running keep the real clock. Left out: the Chromium tests (Chromium does not start under
# libfaketime) and test/db/versions.test.ts (its embedded PostgreSQL's pg_sleep ends early under it).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ] || ! at=$(date -u -d "$1" +%s 2>/dev/null); then
  echo "usage: npm run test:at -- <moment, e.g. 2027-01-05T02:30:00Z> [vitest arguments]" >&2
  exit 2
fi
shift
if ! command -v faketime >/dev/null; then
  echo "test:at needs libfaketime: apt-get install -y faketime" >&2
  exit 2
fi

exclude=(--exclude test/db/versions.test.ts)
while IFS= read -r f; do exclude+=(--exclude "$f"); done < <(grep -rl --include='*.test.ts' "from 'playwright-core'" test | sort)

offset=$((at - $(date -u +%s)))
echo "test:at: the clock moved by ${offset}s to $(date -u -d "@$at" +%Y-%m-%dT%H:%M:%SZ); $((${#exclude[@]} / 2)) test files left out" >&2
export FAKETIME_DONT_FAKE_MONOTONIC=1   # timers and timeouts keep running at the real pace
exec faketime -f "+${offset}s" npx vitest run "${exclude[@]}" "$@"
