#!/usr/bin/env bash
# Installs the Debian packages Guardian Fleet builds and tests with, when missing.
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -euo pipefail

PACKAGES=(
  pkg-config
  librdkafka-dev   # Kafka client (and rdkafka_mock.h for the dev broker)
  libpq-dev        # PostgreSQL / TimescaleDB client
  libhiredis-dev   # Redis client
  libsimdjson-dev  # JSON decoding of events (C++)
  redis-server     # local stack: Redis (redis-cli comes with it)
  postgresql       # local stack: PostgreSQL 15 (initdb, pg_ctl)
  kcat             # Kafka command-line client, for poking at the dev broker
  python3          # free-port lookup in scripts/stack.sh
  python3-yaml     # the deploy/ manifest test parses YAML (with /usr/bin/python3)
  python3-venv     # scripts/tools.sh: the PyPI test tools go into a virtualenv of their own
  python3-confluent-kafka  # the Python publisher example and its test (Debian's, on the system librdkafka)
  openssl          # local stack: the CA and certificate of PostgreSQL's TLS
  bc               # arithmetic in scripts/bench.sh
  wrk              # HTTP load for scripts/bench-api.sh
  curl             # scripts/bench-api.sh waits for the API
  chromium         # the console test drives a real browser …
  chromium-driver  # … through chromedriver …
  python3-selenium # … from Python (Tests/console/console_test.py)
  prometheus       # promtool: unit tests of deploy/prometheus/alerts.yml
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ! command -v swift >/dev/null 2>&1; then
  echo "deps: 'swift' is not on PATH. Install Swift 6.1 or later (swift.org) and retry." >&2
  exit 1
fi

# TimescaleDB (installed separately, see README) is built against a PostgreSQL 15 minor release;
# an older server cannot load it. Keep the server current when the extension is present.
if [ -f /usr/share/postgresql/15/extension/timescaledb.control ] && [ "$(id -u)" -eq 0 ] \
   && dpkg --compare-versions "$(dpkg-query -W -f='${Version}' postgresql-15 2>/dev/null || echo 0)" lt 15.20; then
  echo "deps: TimescaleDB is installed; upgrading postgresql-15 so it can load it"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --only-upgrade postgresql-15 postgresql-client-15 libpq5 libpq-dev
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all present (${PACKAGES[*]})"
  exit 0
fi

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "deps: run as root:  sudo sh -c '$cmd'" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
sh -c "$cmd"
# Debian's packages start system services where policy allows; the local stack runs its own
# instances on free ports, so the system ones are not needed (and are left as the system set them).
