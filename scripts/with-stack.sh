#!/usr/bin/env bash
# Runs a command against a fresh local stack: `scripts/stack.sh up`, the command with the stack's
# environment exported, then `scripts/stack.sh down` whatever happens (failure, Ctrl-C).
# Exits with the command's status.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${GUARDIAN_RUN_DIR:-$ROOT/.run}"

cleanup() { "$ROOT/scripts/stack.sh" down || true; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$ROOT/scripts/stack.sh" up
set -a
# shellcheck disable=SC1091
. "$RUN_DIR/stack.env"
set +a
set +e
"$@"
status=$?
set -e
exit $status
