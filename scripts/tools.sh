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
PYTHON="$(command -v python3)"
echo "tools: installing schemathesis $SCHEMATHESIS_VERSION into $VENV (PyPI)"
mkdir -p "$RUN_DIR"
"$PYTHON" -m venv "$VENV" || {
  echo "tools: '$PYTHON -m venv' failed; on Debian's python3 install python3-venv" >&2
  exit 1
}
"$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
"$VENV/bin/schemathesis" --version
