#!/usr/bin/env bash
# Installs the PyPI tools the test suite uses into a virtualenv of the project's own
# ($GUARDIAN_RUN_DIR/tools, default .run/tools): schemathesis, which holds `guardian api` to
# schemas/openapi.json. Pinned; nothing is installed when the pinned version is there already.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR="${GUARDIAN_RUN_DIR:-$PWD/.run}"
VENV="$RUN_DIR/tools"
SCHEMATHESIS_VERSION=4.32.5

if [ -x "$VENV/bin/schemathesis" ] && "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "tools: schemathesis $SCHEMATHESIS_VERSION present ($VENV)"
  exit 0
fi
echo "tools: installing schemathesis $SCHEMATHESIS_VERSION into $VENV (PyPI)"
mkdir -p "$RUN_DIR"
rm -rf "$VENV"
# The python3 on PATH, else Debian's (python3-venv, from scripts/deps.sh).
made=
for PYTHON in "$(command -v python3 || true)" /usr/bin/python3; do
  [ -n "$PYTHON" ] && [ -x "$PYTHON" ] || continue
  if "$PYTHON" -m venv "$VENV" 2>/dev/null; then made=1; break; fi
  rm -rf "$VENV"
done
[ -n "$made" ] || { echo "tools: no python3 could make a virtualenv; install Debian's python3-venv (make deps)" >&2; exit 1; }
"$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
"$VENV/bin/schemathesis" --version
