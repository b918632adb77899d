#!/usr/bin/env bash
# The local Guardian Fleet stack on loopback: Redis, PostgreSQL 15 (with TimescaleDB when the
# extension is installed) and the Kafka-protocol dev broker, each on a free port, all state in
# a run folder inside the checkout (git-ignored).
#
#   scripts/stack.sh up       start everything, write $RUN_DIR/stack.env
#   scripts/stack.sh down     stop exactly what `up` started (by pid) and delete its data
#   scripts/stack.sh env      print `export KEY=VALUE` lines (eval "$(scripts/stack.sh env)")
#   scripts/stack.sh status   say what is running
#
# Environment: GUARDIAN_RUN_DIR (default ./.run), GUARDIAN_BIN (default .build/debug/guardian),
# GUARDIAN_TOPICS (default "guardian.events:12"), GUARDIAN_DEV_BROKERS (default 3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${GUARDIAN_RUN_DIR:-$ROOT/.run}"
GUARDIAN_BIN="${GUARDIAN_BIN:-$ROOT/.build/debug/guardian}"
TOPICS="${GUARDIAN_TOPICS:-guardian.events:12}"
BROKERS="${GUARDIAN_DEV_BROKERS:-3}"
ENV_FILE="$RUN_DIR/stack.env"

log() { echo "stack: $*" >&2; }
STARTING=0
die() {
  log "error: $*"
  # A failed start-up stops what it had started, so a retry begins clean.
  if [ "$STARTING" = 1 ]; then STARTING=0; log "start-up failed; stopping what was started"; down >/dev/null 2>&1 || true; fi
  exit 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
pidfile_pid() { [ -f "$1" ] && head -n1 "$1" | tr -d '[:space:]' || true; }

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  [ -n "$d" ] && [ -x "$d/initdb" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql (run: make deps)"
  echo "$d"
}

# Runs a PostgreSQL server command as the unprivileged 'postgres' user when we are root
# (PostgreSQL refuses to run as root).
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local secs=$1 what=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

# Secrets of this stack: random per `up`, kept in $RUN_DIR (git-ignored, mode 600), never in argv
# (redis-server reads its password from a config file; psql from PGPASSWORD).
# A value for stack.env, which shells source: single-quoted, so a checkout path may hold spaces.
shell_quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

new_secret() { head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

start_redis() {
  local port; port=$(free_port)
  REDIS_PASSWORD=$(new_secret)
  ( umask 077; printf 'requirepass %s\n' "$REDIS_PASSWORD" > "$RUN_DIR/redis.conf" )
  redis-server "$RUN_DIR/redis.conf" --bind 127.0.0.1 --port "$port" --daemonize yes \
    --pidfile "$RUN_DIR/redis.pid" --logfile "$RUN_DIR/redis.log" --dir "$RUN_DIR" \
    --save "" --appendonly no --protected-mode yes >/dev/null
  wait_for 15 redis env REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h 127.0.0.1 -p "$port" ping \
    || die "redis-server did not answer on port $port (see $RUN_DIR/redis.log)"
  REDIS_PORT=$port
  log "redis-server on 127.0.0.1:$port (pid $(pidfile_pid "$RUN_DIR/redis.pid"))"
}

start_postgres() {
  local bindir port pgdata mode ver
  bindir=$(pg_bindir)
  ver=$(basename "$(dirname "$bindir")")
  port=$(free_port)
  # Everything the 'postgres' user reads or writes (data directory, password file, TLS files) lives in
  # one folder it can reach: inside the run folder when it can, else a private folder under /tmp (a
  # checkout under a 0700 home, as root's is, is out of its reach).
  local pghome="$RUN_DIR/pg"
  if [ "$(id -u)" -eq 0 ]; then
    getent passwd postgres >/dev/null || die "user 'postgres' is missing (install the postgresql package: make deps)"
    rm -rf "$pghome"; mkdir -p "$pghome"; chown postgres: "$pghome"; chmod 700 "$pghome"
    if ! runuser -u postgres -- test -w "$pghome"; then
      rm -rf "$pghome"
      pghome=$(mktemp -d /tmp/guardian-pg.XXXXXX)
      chown postgres: "$pghome"
    fi
  else
    rm -rf "$pghome"; mkdir -p "$pghome"; chmod 700 "$pghome"
  fi
  pgdata="$pghome/data"
  echo "$pghome" > "$RUN_DIR/pghome.path"
  # Password authentication (scram-sha-256) over TCP, as production runs it; the socket (local admin
  # only, in pgdata) stays trust.
  PG_PASSWORD=$(new_secret)
  local pwfile="$pghome/pwfile"
  ( umask 077; printf '%s\n' "$PG_PASSWORD" > "$pwfile" )
  [ "$(id -u)" -ne 0 ] || chown postgres: "$pwfile"
  as_pg "$bindir/initdb" -D "$pgdata" -U guardian --auth-local=trust --auth-host=scram-sha-256 --pwfile="$pwfile" \
    -E UTF8 --no-locale >"$RUN_DIR/initdb.log" 2>&1 || die "initdb failed (see $RUN_DIR/initdb.log)"
  rm -f "$pwfile"
  make_tls "$pgdata"

  mode=postgresql
  local ext="/usr/share/postgresql/$ver/extension/timescaledb.control"
  {
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $port"
    echo "unix_socket_directories = '$pgdata'"
    # The suite runs many workers at once (each holds a connection per write lane, one for its cache
    # status, and short-lived ones at assignments); 200 ran out once the workers wrote in two lanes.
    echo "max_connections = 400"
    # Without TimescaleDB every migrate creates a week of hourly partitions in one transaction; the tests
    # migrate many throwaway databases at once and ran out of lock slots ("out of shared memory").
    echo "max_locks_per_transaction = 512"
    echo "shared_buffers = 256MB"
    # TLS with a CA made for this stack ($RUN_DIR/tls/ca.crt): clients may ask for sslmode=verify-full.
    echo "ssl = on"
    echo "ssl_cert_file = 'server.crt'"
    echo "ssl_key_file = 'server.key'"
    if [ -f "$ext" ]; then
      echo "shared_preload_libraries = 'timescaledb'"
      echo "timescaledb.telemetry_level = off"
    fi
  } | as_pg tee -a "$pgdata/postgresql.conf" >/dev/null
  if ! as_pg "$bindir/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 60 start >/dev/null; then
    # An extension built for a newer PostgreSQL minor release fails to load ("undefined symbol"):
    # say how to fix it and run plain PostgreSQL rather than no stack at all.
    if [ -f "$ext" ] && grep -q 'could not load library.*timescaledb' "$pgdata/server.log"; then
      log "warning: TimescaleDB cannot load into this PostgreSQL ($(grep -o 'undefined symbol.*' "$pgdata/server.log" | head -n1)); upgrade the server (apt-get install --only-upgrade postgresql-15, or make deps as root). Continuing in plain PostgreSQL mode."
      as_pg sed -i '/^shared_preload_libraries = .timescaledb./d; /^timescaledb\./d' "$pgdata/postgresql.conf"
      ext=/nonexistent
      as_pg "$bindir/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 60 start >/dev/null \
        || die "PostgreSQL did not start (see $pgdata/server.log)"
    else
      die "PostgreSQL did not start (see $pgdata/server.log)"
    fi
  fi
  cp "$pgdata/postmaster.pid" "$RUN_DIR/postgres.pid" 2>/dev/null || true
  PGPASSWORD="$PG_PASSWORD" psql -X -q -h 127.0.0.1 -p "$port" -U guardian -d postgres -c "CREATE DATABASE guardian" >/dev/null
  if [ -f "$ext" ]; then
    PGPASSWORD="$PG_PASSWORD" psql -X -q -h 127.0.0.1 -p "$port" -U guardian -d guardian -c "CREATE EXTENSION IF NOT EXISTS timescaledb" >/dev/null \
      && mode=timescaledb || log "warning: the timescaledb extension is installed but could not be created; plain PostgreSQL mode"
  fi
  PG_PORT=$port
  STORAGE_MODE=$mode
  log "PostgreSQL $ver on 127.0.0.1:$port, mode: $mode$( [ "$mode" = postgresql ] && echo ' (TimescaleDB not installed: plain range partitioning)')"
}

# A CA and a server certificate for 127.0.0.1 / localhost, signed by it: the server's files go into
# pgdata (owned by postgres, key mode 600), the CA into $RUN_DIR/tls for clients.
make_tls() {
  local pgdata=$1 dir="$RUN_DIR/tls"
  command -v openssl >/dev/null || die "openssl is missing (run: make deps)"
  rm -rf "$dir"; mkdir -p "$dir"
  ( cd "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=guardian-stack-ca" -keyout ca.key -out ca.crt
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.crt
  ) >"$RUN_DIR/tls.log" 2>&1 || die "could not make the stack's TLS certificates (see $RUN_DIR/tls.log)"
  cp "$dir/server.crt" "$dir/server.key" "$pgdata/"
  chmod 600 "$pgdata/server.key"
  [ "$(id -u)" -ne 0 ] || chown postgres: "$pgdata/server.crt" "$pgdata/server.key"
  rm -f "$dir/ca.key" "$dir/server.key" "$dir/server.csr"
}

start_dev_broker() {
  [ -x "$GUARDIAN_BIN" ] || die "$GUARDIAN_BIN not found: build first (swift build, or make build)"
  rm -f "$RUN_DIR/kafka.bootstrap" "$RUN_DIR/kafka.control"
  local args=(dev-broker --brokers "$BROKERS" --bootstrap-file "$RUN_DIR/kafka.bootstrap" --control-file "$RUN_DIR/kafka.control")
  local t
  for t in $TOPICS; do args+=(--topic "$t"); done
  # Its own session: a Ctrl-C meant for the demo or the tests must not take the broker away while
  # clients are still draining; `down` stops it by pid.
  setsid nohup "$GUARDIAN_BIN" "${args[@]}" </dev/null >"$RUN_DIR/dev-broker.log" 2>&1 &
  echo $! > "$RUN_DIR/dev-broker.pid"
  wait_for 30 dev-broker test -s "$RUN_DIR/kafka.bootstrap" -a -s "$RUN_DIR/kafka.control" \
    || die "the dev broker did not come up (see $RUN_DIR/dev-broker.log)"
  KAFKA_BOOTSTRAP=$(cat "$RUN_DIR/kafka.bootstrap")
  KAFKA_CONTROL=$(cat "$RUN_DIR/kafka.control")
  log "dev broker ($BROKERS brokers, topics $TOPICS) at $KAFKA_BOOTSTRAP, control $KAFKA_CONTROL (pid $(cat "$RUN_DIR/dev-broker.pid"))"
}

up() {
  if [ -f "$ENV_FILE" ] && alive "$(pidfile_pid "$RUN_DIR/dev-broker.pid")"; then
    log "already up ($ENV_FILE)"
    return 0
  fi
  mkdir -p "$RUN_DIR"
  chmod 755 "$RUN_DIR"
  STARTING=1
  trap 'die "a start-up step failed"' ERR
  start_redis
  start_postgres
  start_dev_broker
  trap - ERR
  STARTING=0
  cat > "$ENV_FILE" <<ENV
KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP
GUARDIAN_DEV_BROKER_CONTROL=$KAFKA_CONTROL
REDIS_HOST=127.0.0.1
REDIS_PORT=$REDIS_PORT
REDIS_PASSWORD=$REDIS_PASSWORD
TIMESCALEDB_URI=postgresql://guardian:$PG_PASSWORD@127.0.0.1:$PG_PORT/guardian
GUARDIAN_STORAGE_MODE=$STORAGE_MODE
GUARDIAN_STACK_CA=$(shell_quote "$RUN_DIR/tls/ca.crt")
ENV
  chmod 600 "$ENV_FILE"
  log "up; environment in $ENV_FILE"
}

stop_pid() {  # stop_pid NAME PID: TERM, wait up to 15 s, then KILL
  local name=$1 pid=$2 i
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 75); do alive "$pid" || { log "stopped $name (pid $pid)"; return 0; }; sleep 0.2; done
  log "$name (pid $pid) ignored SIGTERM; killing"
  kill -KILL "$pid" 2>/dev/null || true
}

down() {
  local pid pgdata
  pid=$(pidfile_pid "$RUN_DIR/dev-broker.pid"); [ -n "$pid" ] && stop_pid dev-broker "$pid"
  local pghome
  pghome=$(cat "$RUN_DIR/pghome.path" 2>/dev/null || true)
  pgdata=${pghome:+$pghome/data}
  if [ -n "$pgdata" ] && [ -f "$pgdata/postmaster.pid" ]; then
    as_pg "$(pg_bindir)/pg_ctl" -D "$pgdata" -m fast -w -t 30 stop >/dev/null 2>&1 && log "stopped PostgreSQL" \
      || { pid=$(pidfile_pid "$pgdata/postmaster.pid"); [ -n "$pid" ] && stop_pid postgres "$pid"; }
  fi
  pid=$(pidfile_pid "$RUN_DIR/redis.pid"); [ -n "$pid" ] && stop_pid redis-server "$pid"
  # Data is throwaway: the next `up` starts clean. Logs stay for a look after a failed run.
  [ -n "$pghome" ] && rm -rf "$pghome"
  rm -f "$RUN_DIR"/{dev-broker.pid,redis.pid,postgres.pid,pghome.path,kafka.bootstrap,kafka.control,stack.env,dump.rdb}
  return 0
}

status() {
  local pid
  pid=$(pidfile_pid "$RUN_DIR/dev-broker.pid"); alive "$pid" && echo "dev broker: running (pid $pid)" || echo "dev broker: stopped"
  pid=$(pidfile_pid "$RUN_DIR/redis.pid"); alive "$pid" && echo "redis-server: running (pid $pid)" || echo "redis-server: stopped"
  pid=$(pidfile_pid "$RUN_DIR/postgres.pid"); alive "$pid" && echo "postgres: running (pid $pid)" || echo "postgres: stopped"
  [ -f "$ENV_FILE" ] && cat "$ENV_FILE"
  return 0
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) [ -f "$ENV_FILE" ] || die "the stack is not up (scripts/stack.sh up)"; sed 's/^/export /' "$ENV_FILE" ;;
  status) status ;;
  *) echo "usage: $0 up|down|env|status" >&2; exit 2 ;;
esac
