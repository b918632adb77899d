#!/usr/bin/env bash
# `make chaos`: the worker fault suite, printed as figures (not pass/fail timings). Run inside
# scripts/with-stack.sh (it needs the stack's env, and restarts the stack's Redis and PostgreSQL).
#
# Each case: its own topic (12 partitions), database and group; 3 `guardian worker` processes and
# `guardian simulate` at a steady rate; one fault; then, against the stores: every delivered event
# stored exactly once (no seq gaps per symbol), Redis seq per symbol = the highest in the table,
# committed = end offsets, and no worker exited except the one killed. Bounded: every wait has a limit.
#
#   1 Redis killed 10 s, restarted empty     4 DB connections terminated x3      7 1 % poison
#   2 PostgreSQL stopped (immediate) 10 s    5 kill -9 a worker, +5 s replace,   8 workers 1 -> 3 -> 2
#   3 both                                     then SIGTERM another              9 committed offsets unusable
#                                            6 all brokers down 10 s                (same group)
#  10 a canary group started at the end     11 rows deleted, the group rewound
#     stores part; the fleet resumes            to 0 by an outside tool
#
# Case 9: the dev broker cannot delete or expire a group's offsets, so they are made unusable the
# other way Kafka knows: committed past the end of the log (as after a topic was recreated).
# Knobs: CHAOS_CASES="1 5 9", CHAOS_RATE (events/s, default 1000), CHAOS_DURATION (s, default 30).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${GUARDIAN_BIN:-$ROOT/.build/release/guardian}"
RUN_DIR="${GUARDIAN_RUN_DIR:-$ROOT/.run}"
: "${KAFKA_BOOTSTRAP_SERVERS:?run under scripts/with-stack.sh (make chaos)}"
CASES="${CHAOS_CASES:-1 2 3 4 5 6 7 8 9 10 11}"
RATE="${CHAOS_RATE:-1000}"
DURATION="${CHAOS_DURATION:-30}"
SYMBOLS=64
OUT="$RUN_DIR/chaos"
PG_BASE="${TIMESCALEDB_URI%/*}"
PGDATA="$(cat "$RUN_DIR/pghome.path")/data"  # scripts/stack.sh keeps what postgres reads in one folder
PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
mkdir -p "$OUT"
rm -f "$OUT"/*.log

as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
now() { date +%s.%N; }
since() { printf %.1f "$(echo "$(now) - $1" | bc)"; }
sql() { psql -X -qtA "$URI" -c "$1" 2>/dev/null; }
rcli() { REDISCLI_AUTH="${REDIS_PASSWORD:-}" redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" "$@"; }

redis_kill() { kill -9 "$(cat "$RUN_DIR/redis.pid")" 2>/dev/null; }
redis_start() {
  redis-server "$RUN_DIR/redis.conf" --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --pidfile "$RUN_DIR/redis.pid" \
    --logfile "$RUN_DIR/redis.log" --dir "$RUN_DIR" --save "" --appendonly no --protected-mode yes >/dev/null
  for _ in $(seq 50); do rcli ping >/dev/null 2>&1 && return; sleep 0.1; done
}
pg_stop() { as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1; }
pg_start() { as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 start >/dev/null; cp "$PGDATA/postmaster.pid" "$RUN_DIR/postgres.pid"; }
ctl() { "$BIN" dev-broker-ctl "$@" >/dev/null; }

declare -A WPID WPORT
EXITED_UNEXPECTEDLY=0
REDELIVERED=0

start_worker() {  # start_worker NAME [GROUP]
  local name=$1 group=${2:-$GROUP} port; port=$(free_port)
  GUARDIAN_TOPIC="$TOPIC" GUARDIAN_GROUP="$group" TIMESCALEDB_URI="$URI" \
    "$BIN" worker --worker-id "$name" --metrics-port "$port" --max-event-bytes 100000 ${WORKER_ARGS:-} \
    >"$OUT/$CASE-$name.log" 2>&1 &
  WPID[$name]=$!
  WPORT[$name]=$port
}
scrape() {  # adds a live worker's redelivered (duplicate) count
  local n; n=$(curl -s "http://127.0.0.1:${WPORT[$1]}/metrics" | awk '/^guardian_events_duplicate_total/ {s+=$2} END {print s+0}')
  REDELIVERED=$((REDELIVERED + ${n%.*}))
}
stop_worker() {  # SIGTERM; anything but exit 0 counts as an unexpected exit
  local name=$1 pid=${WPID[$1]}
  kill -0 "$pid" 2>/dev/null || { EXITED_UNEXPECTEDLY=$((EXITED_UNEXPECTEDLY + 1)); unset "WPID[$name]"; return; }
  scrape "$name"
  kill -TERM "$pid"
  wait "$pid"; local rc=$?
  [ $rc -eq 0 ] || EXITED_UNEXPECTEDLY=$((EXITED_UNEXPECTEDLY + 1))
  unset "WPID[$name]"
}
stop_workers() {  # SIGTERM several at once (a fleet shutdown), then wait for each
  local name pid rc
  for name in "$@"; do scrape "$name"; kill -TERM "${WPID[$name]}" 2>/dev/null; done
  for name in "$@"; do
    pid=${WPID[$name]}; wait "$pid"; rc=$?
    [ $rc -eq 0 ] || EXITED_UNEXPECTEDLY=$((EXITED_UNEXPECTEDLY + 1))
    unset "WPID[$name]"
  done
}
kill_worker() { kill -9 "${WPID[$1]}"; wait "${WPID[$1]}" 2>/dev/null; unset "WPID[$1]"; }

# Commits OFFSET for every partition of the case's topic as GROUP's only member, the way an outside
# tool (kafka-consumer-groups --reset-offsets) would: guardian_checkpoints is not touched.
commit_as_outside_tool() {  # commit_as_outside_tool GROUP OFFSET
  /usr/bin/python3 - "$KAFKA_BOOTSTRAP_SERVERS" "$TOPIC" "$1" "$2" <<'PY'
import sys, time
from confluent_kafka import Consumer, TopicPartition
bootstrap, topic, group, offset = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
              "session.timeout.ms": 6000, "auto.offset.reset": "earliest"})
c.subscribe([topic])
deadline = time.time() + 90
while len(c.assignment()) < 12 and time.time() < deadline:
    c.poll(0.2)
if len(c.assignment()) < 12:
    sys.exit("the outside commit never owned every partition")
c.commit(offsets=[TopicPartition(topic, p.partition, offset) for p in c.assignment()], asynchronous=False)
c.close()
PY
}

# Seconds from $1 (a `now` reading) until every partition's newest stored event is under 1 s old
# (the fleet keeps up with the publisher again); "-" past 90 s.
recovered_after() {
  local t0=$1 deadline=$((SECONDS + 90)) age
  while [ $SECONDS -lt $deadline ]; do
    age=$(sql "SELECT coalesce(max(a), 999) FROM (SELECT extract(epoch FROM now() - max(ts)) a FROM guardian_events
               WHERE ts > now() - interval '2 minutes' GROUP BY kafka_partition HAVING count(*) > 0) x")
    parts=$(sql "SELECT count(DISTINCT kafka_partition) FROM guardian_events WHERE ts > now() - interval '3 seconds'")
    if [ -n "$age" ] && [ "$(echo "$age < 1" | bc)" = 1 ] && [ "${parts:-0}" -ge 12 ]; then since "$t0"; return; fi
    sleep 0.25
  done
  echo "-"
}
# Seconds from $1 until every symbol's Redis state has the highest seq stored (sampled while publishing
# goes on, so compared at one instant per symbol: Redis seq >= the table's max at the time of the query).
redis_right_after() {
  local t0=$1 deadline=$((SECONDS + 60))
  while [ $SECONDS -lt $deadline ]; do
    if redis_matches; then since "$t0"; return; fi
    sleep 0.25
  done
  echo "-"
}
redis_matches() {
  local ok=1 sym seq got
  while IFS='|' read -r sym seq; do
    got=$(rcli HGET "guardian:state:$sym" seq 2>/dev/null)
    { [ -n "$got" ] && [ "$got" -ge "$seq" ]; } 2>/dev/null || { ok=0; break; }
  done < <(sql "SELECT symbol, max(seq) FROM guardian_events GROUP BY symbol")
  [ $ok = 1 ]
}

setup() {
  CASE=$1
  TOPIC="chaos.$CASE.$$"
  GROUP="chaos-$CASE-$$"
  local db="chaos_${CASE}_$$"
  URI="$PG_BASE/$db"
  ctl topic "$TOPIC" 12 3
  psql -X -q "$TIMESCALEDB_URI" -c "CREATE DATABASE $db" >/dev/null
  "$BIN" migrate --timescaledb-uri "$URI" --log-level warning >/dev/null
  rcli FLUSHALL >/dev/null
  EXITED_UNEXPECTEDLY=0 REDELIVERED=0 RECOVERY="-" NOTE="" POISON=0
  WPID=() WPORT=()
}
start_sim() {
  "$BIN" simulate --topic "$TOPIC" --rate "$RATE" --duration "$DURATION" --symbols "$SYMBOLS" --flush-timeout 90 \
    --spool-dir "$OUT/spool-$CASE-$$" >"$OUT/$CASE-sim.log" 2>&1 &
  SIM=$!
  T0=$(now)
}
at() { local wait; wait=$(echo "$1 - ($(now) - $T0)" | bc); [ "$(echo "$wait > 0" | bc)" = 1 ] && sleep "$wait"; }

finish() {  # finish GROUP-TO-CHECK
  local group=${1:-$GROUP}
  wait "$SIM"
  local delivered; delivered=$(grep -o 'delivered [0-9]*' "$OUT/$CASE-sim.log" | tail -n1 | awk '{print $2}')
  "$BIN" bench wait-drained --topic "$TOPIC" --group "$group" --timeout 120 >/dev/null 2>&1 && local drained=yes || local drained=NO
  for w in "${!WPID[@]}"; do kill -0 "${WPID[$w]}" 2>/dev/null || EXITED_UNEXPECTEDLY=$((EXITED_UNEXPECTEDLY + 1)); done
  local redis_ok=no; redis_matches && redis_ok=yes
  for w in "${!WPID[@]}"; do stop_worker "$w"; done
  local rows distinct gaps dead
  IFS='|' read -r rows distinct <<<"$(sql "SELECT count(*), count(DISTINCT event_id) FROM guardian_events")"
  gaps=$(sql "SELECT coalesce(sum(max_seq + 1 - n), 0) FROM (SELECT max(seq) max_seq, count(DISTINCT seq) n FROM guardian_events GROUP BY symbol) x")
  dead=$(sql "SELECT count(*) FROM guardian_dead_letters")
  # The longest time any partition went without a new row written: a takeover, an outage, a rebalance.
  stall=$(sql "SELECT coalesce(round(max(extract(epoch FROM gap))::numeric, 1), 0) FROM (
                 SELECT ingested_at - lag(ingested_at) OVER (PARTITION BY kafka_partition ORDER BY ingested_at) gap
                 FROM guardian_events) x")
  local lost=$(( ${delivered:-0} - ${distinct:-0} ))
  [ $lost -lt 0 ] && lost=0
  lost=$((lost + ${gaps:-0}))
  local dlq_topic=0
  [ "$POISON" -gt 0 ] && dlq_topic=$(kcat -C -b "$KAFKA_BOOTSTRAP_SERVERS" -t "$TOPIC.dlq" -e -q -f 'x\n' 2>/dev/null | wc -l)
  printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n" "$CASE_NAME" "${delivered:-?}" "${distinct:-?}" "$lost" \
    "$(( ${rows:-0} - ${distinct:-0} ))" "$REDELIVERED" "$dead$( [ "$POISON" -gt 0 ] && echo " of $POISON (topic: $dlq_topic)")" \
    "$RECOVERY" "$stall" "$drained" "$redis_ok" "$EXITED_UNEXPECTEDLY$NOTE" | tee -a "$OUT/figures.md"
}

poison_lines() {  # N poison messages (key|value lines for kcat -K'|'), a mix of the four kinds
  python3 - "$1" <<'PY'
import sys, uuid, time
n = int(sys.argv[1])
for i in range(n):
    s = f"SYM{i % 64}"
    ev = lambda extra: '{"v":1,"event_id":"%s","symbol":"%s","seq":%d,"ts":%d,"kind":"order_check"%s}' % (uuid.uuid4(), s, 10**9 + i, time.time_ns(), extra)
    kind = i % 4
    if kind == 0: v = ev(',"reason":"a\\u0000b"')
    elif kind == 1: v = '{broken json %d' % i
    elif kind == 2: v = '{"v":1,"symbol":"%s","seq":1,"ts":1}' % s
    else: v = ev(',"attrs":{"blob":"%s"}' % ("x" * 150000))
    print(f"{s}|{v}")
PY
}

echo "== chaos: $(nproc) cores, $(date -u +%FT%TZ), storage mode ${GUARDIAN_STORAGE_MODE:-?}, ${RATE} events/s for ${DURATION} s, 3 workers, 12 partitions"
echo "| case | published | stored | lost | duplicate rows | redelivered | dead-lettered | recovery s | longest partition stall s | committed = end | Redis right | unexpected exits |" | tee "$OUT/figures.md"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|" | tee -a "$OUT/figures.md"

for c in $CASES; do
  setup "$c"
  case $c in
    1) CASE_NAME="1 Redis killed 10 s, back empty"
       start_worker w1; start_worker w2; start_worker w3; start_sim
       at 8; redis_kill; at 18; redis_start; t=$(now)
       RECOVERY="$(redis_right_after "$t") (Redis right)"
       finish ;;
    2) CASE_NAME="2 PostgreSQL stopped 10 s"
       start_worker w1; start_worker w2; start_worker w3; start_sim
       at 8; pg_stop; at 18; pg_start; RECOVERY=$(recovered_after "$(now)")
       finish ;;
    3) CASE_NAME="3 Redis and PostgreSQL down 10 s"
       start_worker w1; start_worker w2; start_worker w3; start_sim
       at 8; redis_kill; pg_stop; at 18; pg_start; redis_start; t=$(now)
       RECOVERY="$(recovered_after "$t") / $(redis_right_after "$t") (Redis)"
       finish ;;
    4) CASE_NAME="4 DB connections terminated x3"
       start_worker w1; start_worker w2; start_worker w3; start_sim
       for s in 6 10 14; do
         at $s; sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'guardian'" >/dev/null
       done
       RECOVERY=$(recovered_after "$(now)")
       finish ;;
    5) CASE_NAME="5 kill -9 a worker, replace +5 s, SIGTERM another"
       start_worker w1; start_worker w2; start_worker w3; start_sim
       at 8; kill_worker w1
       at 13; start_worker w4
       at 20; stop_worker w2
       finish ;;
    6) CASE_NAME="6 all brokers down 10 s"
       start_worker w1; start_worker w2; start_worker w3; start_sim
       at 8; ctl down all; at 18; ctl up all; RECOVERY=$(recovered_after "$(now)")
       finish ;;
    7) CASE_NAME="7 1 % poison"
       POISON=$((RATE * DURATION / 100))
       start_worker w1; start_worker w2; start_worker w3; start_sim
       at 3
       poison_lines "$POISON" | kcat -P -b "$KAFKA_BOOTSTRAP_SERVERS" -t "$TOPIC" -K'|' -X message.max.bytes=1000000 2>"$OUT/$c-kcat.log"
       finish ;;
    8) CASE_NAME="8 workers 1 -> 3 -> 2"
       start_worker w1; start_sim
       at 8; start_worker w2; start_worker w3
       at 18; stop_worker w3
       finish ;;
    9) CASE_NAME="9 committed offsets unusable (same group)"
       start_worker w1; start_worker w2; start_worker w3; start_sim
       at 12; stop_workers w1 w2 w3; t=$(now)
       commit_as_outside_tool "$GROUP" 1000000000000 2>"$OUT/$c-commit.log" || NOTE=" (outside commit FAILED)"
       start_worker v1; start_worker v2; start_worker v3
       RECOVERY=$(recovered_after "$t")
       sleep 3
       restored=$(cat "$OUT/$c"-v*.log | grep -c "resuming from the database's checkpoint")
       NOTE="$NOTE ($restored partitions resumed from guardian_checkpoints)"
       finish ;;
    10) CASE_NAME="10 canary group at the end, fleet resumes"
       start_worker w1; start_worker w2; start_worker w3; start_sim
       at 8; stop_workers w1 w2 w3
       "$BIN" offsets reset --topic "$TOPIC" --group "$GROUP-canary" --to-latest --execute --timescaledb-uri "$URI" \
         >"$OUT/$c-reset.log" 2>&1 || NOTE=" (canary reset FAILED)"
       start_worker c1 "$GROUP-canary"
       at 16; stop_worker c1; t=$(now)
       start_worker w1; start_worker w2; start_worker w3
       RECOVERY=$(recovered_after "$t")
       finish ;;
    11) CASE_NAME="11 rows deleted, group rewound to 0 outside"
       start_worker w1; start_worker w2; start_worker w3; start_sim
       at 10; stop_workers w1 w2 w3
       sql "DELETE FROM guardian_events" >/dev/null
       commit_as_outside_tool "$GROUP" 0 2>"$OUT/$c-commit.log" || NOTE=" (outside commit FAILED)"
       t=$(now); start_worker w1; start_worker w2; start_worker w3
       RECOVERY=$(recovered_after "$t")
       finish ;;
  esac
done
echo "(recovery: fault cleared -> every partition's newest row under 1 s old again, or Redis state right for every symbol;"
echo " longest partition stall: the longest a partition went without a new row written; redelivered: events read again; logs in $OUT)"
