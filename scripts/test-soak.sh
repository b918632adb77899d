#!/usr/bin/env bash
# Runs the full `make test` N times, each in a fresh clone of this checkout's HEAD under a private
# (mode 0700) directory whose path holds a space, as CI and a user with a private home start.
#
#   scripts/test-soak.sh [N]        (default 3; or make test-soak N=3)
#
# Prints pass/fail and wall time per run, then the slowest tests over all runs. Logs stay in
# $SOAK_LOG_DIR (default /tmp/guardian-soak-<time>); each clone is removed after its run.
# Environment: SOAK_TIMEOUT (seconds per run, default 5400, CI's limit).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${1:-3}"
TIMEOUT="${SOAK_TIMEOUT:-5400}"
LOGS="${SOAK_LOG_DIR:-/tmp/guardian-soak-$(date +%Y%m%d-%H%M%S)}"
case "$N" in ''|*[!0-9]*) echo "usage: $0 [N]  (N runs, a number)" >&2; exit 2 ;; esac
mkdir -p "$LOGS"
[ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ] \
  || echo "soak: warning: uncommitted changes are not in the clones (they test HEAD, $(git -C "$ROOT" rev-parse --short HEAD))" >&2

passed=0
summary=()
for i in $(seq 1 "$N"); do
  parent=$(mktemp -d /tmp/guardian-soak.XXXXXX)
  chmod 700 "$parent"
  dir="$parent/clone $i"
  log="$LOGS/run-$i.log"
  git clone -q "$ROOT" "$dir" || { echo "soak: git clone failed" >&2; exit 1; }
  echo "soak: run $i/$N in '$dir' (log: $log)" >&2
  start=$SECONDS
  ( cd "$dir" && CI=true timeout --kill-after=60 "$TIMEOUT" make test ) >"$log" 2>&1
  status=$?
  took=$((SECONDS - start))
  counts=$(grep -Eo 'Test run with [0-9]+ tests? in [0-9]+ suites? (passed|failed) after [0-9.]+ seconds( with [0-9]+ issues?)?' "$log" | tail -n1)
  if [ $status -eq 0 ]; then verdict=pass; passed=$((passed + 1)); else verdict="FAIL (exit $status)"; fi
  summary+=("run $i: $verdict in ${took}s — ${counts:-no test summary}")
  echo "soak: run $i: $verdict in ${took}s — ${counts:-no test summary}" >&2
  if [ $status -ne 0 ]; then
    grep -E '✘ Test .* (recorded an issue|failed)' "$log" | head -n 10 | sed 's/^/soak:   /' >&2
  fi
  # Nothing the run started may outlive it.
  left=$(pgrep -af "$dir" | grep -v pgrep || true)
  [ -z "$left" ] || { echo "soak: run $i left processes behind:" >&2; echo "$left" | sed 's/^/soak:   /' >&2; }
  rm -rf "$parent"
done

echo
echo "soak: $passed of $N runs passed (HEAD $(git -C "$ROOT" rev-parse --short HEAD), storage mode: $( [ -f /usr/share/postgresql/15/extension/timescaledb.control ] && echo timescaledb || echo postgresql))"
printf '  %s\n' "${summary[@]}"
echo "soak: slowest tests (longest over all runs, seconds):"
cat "$LOGS"/run-*.log 2>/dev/null \
  | sed -nE 's/^.*Test ([A-Za-z0-9_]+\(\)) (passed|failed) after ([0-9.]+) seconds.*$/\3 \1 \2/p' \
  | sort -k2,2 -k1,1nr | awk '!seen[$2]++' | sort -k1,1nr | head -n 10 | sed 's/^/  /'
[ "$passed" -eq "$N" ]
