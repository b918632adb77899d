#!/usr/bin/env bash
# `make bench`: figures, not pass/fail. Run inside scripts/with-stack.sh (needs the stack's env).
#
# 1. Decoder: events/s on one thread, ours vs Foundation's JSONDecoder (same run).
# 2. Worker drain: preload N events (64 symbols, 32 partitions) into the dev broker; time one release
#    `guardian worker` draining them to durable (all committed); its CPU-seconds per 100,000 events and peak RSS.
# 3. Database floor: psql \copy of the same rows (binary) into the same schema in an empty database,
#    and, for reference, \copy into a staging table + the ON CONFLICT merge; the worker's rate as a ratio of both.
# 4. Latency: one worker on 12 partitions while `guardian simulate` publishes live at 1,000, 5,000 and
#    20,000 events/s (BENCH_RATES, BENCH_LATENCY_SECONDS each): p50/p99/max of event ts -> ingested_at
#    (the time the row's write began), the first 3 s left out (group join); the Python worker the same
#    way, in the same run.
# 5. Scale: 1, 2 and 4 workers draining the preloaded topic of step 2 (32 partitions) into fresh
#    databases, each in a fresh group: events/s after the group formed, per worker count.
# 6. The query API under wrk: /state from Redis and from the database, /events over an hour, next to
#    /healthz in the same run (scripts/bench-api.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${GUARDIAN_BIN:-$ROOT/.build/release/guardian}"
RUN_DIR="${GUARDIAN_RUN_DIR:-$ROOT/.run}"
COUNT="${BENCH_EVENTS:-300000}"
PARTITIONS="${BENCH_PARTITIONS:-32}"
SYMBOLS="${BENCH_SYMBOLS:-64}"
TOPIC="bench.events.$$"
GROUP="bench-worker-$$"
: "${KAFKA_BOOTSTRAP_SERVERS:?run under scripts/with-stack.sh (make bench)}"
PG_BASE="${TIMESCALEDB_URI%/*}"
TICKS=$(getconf CLK_TCK)

echo "== bench: $(nproc) cores, $(date -u +%FT%TZ), storage mode ${GUARDIAN_STORAGE_MODE:-?}"
"$BIN" bench decode
"$BIN" dev-broker-ctl topic "pub.$TOPIC" 12 3 >/dev/null
"$BIN" bench publish --topic "pub.$TOPIC" --rate 5000 --seconds 10 --count 300000

# Fresh databases: one for the worker, one for the floor; the same migrations in both.
WDB="bench_worker_$$" FDB="bench_floor_$$" PDB="bench_python_$$"
cleanup() {
  [ -n "${WPID:-}" ] && kill -TERM "$WPID" 2>/dev/null || true
  psql -X -q "$TIMESCALEDB_URI" -c "DROP DATABASE IF EXISTS $WDB WITH (FORCE)" -c "DROP DATABASE IF EXISTS $FDB WITH (FORCE)" \
    -c "DROP DATABASE IF EXISTS $PDB WITH (FORCE)" || true
  rm -f "${DUMP:-}"
}
trap cleanup EXIT
psql -X -q "$TIMESCALEDB_URI" -c "CREATE DATABASE $WDB" -c "CREATE DATABASE $FDB"
WORKER_DB="$PG_BASE/$WDB"
FLOOR_DB="$PG_BASE/$FDB"
"$BIN" migrate --timescaledb-uri "$WORKER_DB" --log-level warning >/dev/null
"$BIN" migrate --timescaledb-uri "$FLOOR_DB" --log-level warning >/dev/null

"$BIN" dev-broker-ctl topic "$TOPIC" "$PARTITIONS" 3 >/dev/null
t0=$(date +%s.%N)
"$BIN" bench preload --topic "$TOPIC" --count "$COUNT" --symbols "$SYMBOLS" --partitions "$PARTITIONS" >/dev/null
# The dev broker drops a partition's oldest data past a few MB: check nothing was dropped.
low=$("$BIN" bench low-watermarks --topic "$TOPIC")
[ "$low" = 0 ] || { echo "bench: FAILED: the dev broker dropped $low preloaded events (per-partition size limit); lower BENCH_EVENTS"; exit 1; }
t1=$(date +%s.%N)
echo "preload: $COUNT events to $PARTITIONS partitions in $(printf %.1f "$(echo "$t1 - $t0" | bc)") s"

# shellcheck disable=SC2086
"$BIN" worker ${BENCH_WORKER_ARGS:-} --topic "$TOPIC" --group "$GROUP" --timescaledb-uri "$WORKER_DB" --metrics-port 0 --log-level info \
  >"$RUN_DIR/bench-worker.log" 2>&1 &
WPID=$!
start=$(date +%s.%N)
drain=$("$BIN" bench wait-drained --topic "$TOPIC" --group "$GROUP")
stat=($(cat /proc/$WPID/stat | sed 's/.*) //'))
cpu_ticks=$(( ${stat[11]} + ${stat[12]} ))   # utime + stime
rss_kb=$(awk '/VmHWM/ {print $2}' /proc/$WPID/status)
kill -TERM $WPID; wait $WPID || true
WPID=
first=$(sed -n 's/.*first_commit_s=\([0-9.]*\).*/\1/p' <<<"$drain")
done_s=$(sed -n 's/.*done_s=\([0-9.]*\).*/\1/p' <<<"$drain")
rows=$(psql -X -qtA "$WORKER_DB" -c "SELECT count(*) FROM guardian_events")
[ "$rows" = "$COUNT" ] || { echo "bench: FAILED: the worker stored $rows rows, expected $COUNT"; exit 1; }
worker_rate=$(echo "$COUNT / $done_s" | bc -l)
cpu_s=$(echo "$cpu_ticks / $TICKS" | bc -l)
printf "worker: %d events durable and committed in %.2f s (first commit after %.2f s, incl. group join): %.0f events/s\n" \
  "$COUNT" "$done_s" "$first" "$worker_rate"
printf "worker: %.2f CPU-seconds per 100,000 events, peak RSS %.1f MB\n" "$(echo "$cpu_s * 100000 / $COUNT" | bc -l)" "$(echo "$rss_kb / 1024" | bc -l)"
steady_rate=$(echo "$COUNT / ($done_s - $first)" | bc -l)
printf "worker: %.0f events/s after the group join (from the first commit; the dev broker takes ~3 s to form a group)\n" "$steady_rate"

# The same-run baseline: a careful Python worker (bench/python_worker.py) on the same preloaded topic,
# in a fresh group and a fresh database.
if python3 -c "import confluent_kafka, psycopg, redis, orjson" 2>/dev/null \
   || python3 -m pip install --quiet --disable-pip-version-check confluent-kafka "psycopg[binary]" redis orjson >/dev/null 2>&1; then
  psql -X -q "$TIMESCALEDB_URI" -c "CREATE DATABASE $PDB"
  "$BIN" migrate --timescaledb-uri "$PG_BASE/$PDB" --log-level warning >/dev/null
  py=$(python3 "$ROOT/bench/python_worker.py" --bootstrap "$KAFKA_BOOTSTRAP_SERVERS" --topic "$TOPIC" --group "py-$GROUP" \
        --dsn "$PG_BASE/$PDB" --redis-port "$REDIS_PORT" --expect "$COUNT")
  py_s=$(sed -n 's/.*python_seconds_after_first_commit=\([0-9.]*\).*/\1/p' <<<"$py")
  py_rows=$(psql -X -qtA "$PG_BASE/$PDB" -c "SELECT count(*) FROM guardian_events")
  python_rate=$(echo "$COUNT / $py_s" | bc -l)
  printf "python: careful Python worker (confluent-kafka, orjson, psycopg COPY + merge, redis-py): %d rows, %.0f events/s after its first commit\n" \
    "$py_rows" "$python_rate"
else
  python_rate=""
  echo "python: baseline skipped (could not pip-install confluent-kafka psycopg redis orjson)"
fi

# The floor: the database's own binary COPY into the same schema, no Kafka, no decoding. The worker's
# write is a COPY straight into guardian_events (falling back to a staging merge only when a batch holds
# already-stored events), so the floor does the same; the merge path's floor is printed for reference.
COLS="ts, symbol, seq, event_id, kind, decision, reason, side, qty, price, position, exposure, realized_pnl, unrealized_pnl, latency_us, attrs, kafka_partition, kafka_offset, ingested_at"
DUMP="$RUN_DIR/bench-rows.bin"
psql -X -q "$WORKER_DB" -c "\\copy (SELECT $COLS FROM guardian_events) TO '$DUMP' (FORMAT binary)"
floor() {  # floor SQL-BODY: prints seconds
  psql -X -q "$FLOOR_DB" -c "TRUNCATE guardian_events" >/dev/null
  local a b
  a=$(date +%s.%N)
  psql -X -q -v ON_ERROR_STOP=1 "$FLOOR_DB" >/dev/null <<<"$1"
  b=$(date +%s.%N)
  echo "$b - $a" | bc -l
}
floor_s=$(floor "BEGIN;
\\copy guardian_events ($COLS) FROM '$DUMP' (FORMAT binary)
COMMIT;")
floor_rows=$(psql -X -qtA "$FLOOR_DB" -c "SELECT count(*) FROM guardian_events")
floor_rate=$(echo "$floor_rows / $floor_s" | bc -l)
merge_s=$(floor "BEGIN;
CREATE TEMP TABLE guardian_events_staging (LIKE guardian_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
\\copy guardian_events_staging ($COLS) FROM '$DUMP' (FORMAT binary)
INSERT INTO guardian_events ($COLS) SELECT $COLS FROM guardian_events_staging ON CONFLICT (event_id, ts) DO NOTHING;
COMMIT;")
printf "floor: psql \\copy of %d rows into guardian_events in %.2f s: %.0f rows/s (staging + ON CONFLICT merge: %.0f rows/s)\n" \
  "$floor_rows" "$floor_s" "$floor_rate" "$(echo "$floor_rows / $merge_s" | bc -l)"
merge_rate=$(echo "$floor_rows / $merge_s" | bc -l)
printf "ratio: worker (after join) / \\copy floor = %.2f (target >= 0.9); including the join: %.2f\n" \
  "$(echo "$steady_rate / $floor_rate" | bc -l)" "$(echo "$worker_rate / $floor_rate" | bc -l)"
printf "ratio: worker (after join) / \\copy + merge floor = %.2f\n" "$(echo "$steady_rate / $merge_rate" | bc -l)"
if [ -n "$python_rate" ]; then
  printf "ratio: worker (after join) / Python worker (after its first commit), same run = %.2f (target >= 2)\n" \
    "$(echo "$steady_rate / $python_rate" | bc -l)"
fi

# 5 (run before 4, while the preloaded topic is there). Scale on 32 partitions.
for n in ${BENCH_SCALE:-1 2 4}; do
  SDB="bench_scale_$$"
  psql -X -q "$TIMESCALEDB_URI" -c "DROP DATABASE IF EXISTS $SDB WITH (FORCE)" -c "CREATE DATABASE $SDB" >/dev/null
  "$BIN" migrate --timescaledb-uri "$PG_BASE/$SDB" --log-level warning >/dev/null
  pids=()
  for i in $(seq "$n"); do
    "$BIN" worker --topic "$TOPIC" --group "scale-$n-$GROUP" --timescaledb-uri "$PG_BASE/$SDB" --metrics-port 0 --log-level warning \
      --worker-id "scale-$i" >"$RUN_DIR/bench-scale-$i.log" 2>&1 &
    pids+=($!)
  done
  drain=$("$BIN" bench wait-drained --topic "$TOPIC" --group "scale-$n-$GROUP" --timeout 300 || true)
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" || true; done
  first=$(sed -n 's/.*first_commit_s=\([0-9.]*\).*/\1/p' <<<"$drain")
  done_s=$(sed -n 's/.*done_s=\([0-9.]*\).*/\1/p' <<<"$drain")
  rows=$(psql -X -qtA "$PG_BASE/$SDB" -c "SELECT count(*) FROM guardian_events")
  psql -X -q "$TIMESCALEDB_URI" -c "DROP DATABASE IF EXISTS $SDB WITH (FORCE)" >/dev/null
  if [ -n "$done_s" ] && [ -n "$first" ]; then
    printf "scale: %d worker(s), 32 partitions: %d rows, %.0f events/s after the group formed (%.2f s incl. the join)\n" \
      "$n" "$rows" "$(echo "$COUNT / ($done_s - $first)" | bc -l)" "$done_s"
  else
    echo "scale: $n worker(s): did not drain within 300 s ($rows rows)"
  fi
done

# 4. Latency under live load, ours and the Python worker's, in the same run.
LAT_SECONDS="${BENCH_LATENCY_SECONDS:-20}"
wait_for_line() {  # wait_for_line FILE PATTERN SECONDS
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.2; done
  return 1
}
latency_of() {  # latency_of DB: "p50 X ms, p99 Y ms, max Z ms (N rows)" over rows after the first 3 s
  psql -X -qtA "$1" -c "
    WITH r AS (SELECT extract(epoch FROM ingested_at - ts) * 1000 AS ms FROM guardian_events
               WHERE ts > (SELECT min(ts) FROM guardian_events) + interval '3 seconds')
    SELECT format('p50 %s ms, p99 %s ms, max %s ms (%s rows)',
                  round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
                  round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1),
                  round(max(ms)::numeric, 1), count(*)) FROM r"
}
lat_db() { psql -X -q "$TIMESCALEDB_URI" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null;
           "$BIN" migrate --timescaledb-uri "$PG_BASE/$1" --log-level warning >/dev/null; }
for rate in ${BENCH_RATES:-1000 5000 20000}; do
  # Ours: the worker joins first, then the simulator publishes live.
  LDB="bench_lat_$$"; lat_db "$LDB"
  "$BIN" dev-broker-ctl topic "lat.$rate.$TOPIC" 12 3 >/dev/null
  "$BIN" worker --topic "lat.$rate.$TOPIC" --group "lat-$GROUP" --timescaledb-uri "$PG_BASE/$LDB" --metrics-port 0 --log-level info \
    >"$RUN_DIR/bench-latency-worker.log" 2>&1 &
  WPID=$!
  wait_for_line "$RUN_DIR/bench-latency-worker.log" '"owned": 12\|owned=12' 60 || echo "bench: the worker did not own 12 partitions in 60 s"
  "$BIN" simulate --topic "lat.$rate.$TOPIC" --rate "$rate" --duration "$LAT_SECONDS" --symbols "$SYMBOLS" \
    --spool-dir "$RUN_DIR/bench-spool-$$" >"$RUN_DIR/bench-latency-sim.log" 2>&1
  "$BIN" bench wait-drained --topic "lat.$rate.$TOPIC" --group "lat-$GROUP" --timeout 120 >/dev/null || true
  rss_kb=$(awk '/VmHWM/ {print $2}' /proc/$WPID/status)
  kill -TERM $WPID; wait $WPID || true
  WPID=
  ours=$(latency_of "$PG_BASE/$LDB")
  # Python: the same, on a topic of its own.
  theirs="skipped (no Python baseline)"
  if [ -n "$python_rate" ]; then
    lat_db "$LDB"
    "$BIN" dev-broker-ctl topic "latpy.$rate.$TOPIC" 12 3 >/dev/null
    expect=$((rate * LAT_SECONDS))
    timeout $((LAT_SECONDS + 180)) python3 "$ROOT/bench/python_worker.py" --bootstrap "$KAFKA_BOOTSTRAP_SERVERS" --topic "latpy.$rate.$TOPIC" \
      --group "latpy-$GROUP" --dsn "$PG_BASE/$LDB" --redis-port "$REDIS_PORT" --expect "$expect" --idle-seconds 5 \
      >/dev/null 2>"$RUN_DIR/bench-latency-python.log" &
    PYPID=$!
    wait_for_line "$RUN_DIR/bench-latency-python.log" "assigned 12" 60 || echo "bench: the Python worker did not own 12 partitions in 60 s"
    "$BIN" simulate --topic "latpy.$rate.$TOPIC" --rate "$rate" --duration "$LAT_SECONDS" --symbols "$SYMBOLS" \
      --spool-dir "$RUN_DIR/bench-spool-$$" >"$RUN_DIR/bench-latency-sim.log" 2>&1
    wait $PYPID || echo "bench: the Python worker did not finish (status $?)"
    theirs=$(latency_of "$PG_BASE/$LDB")
  fi
  psql -X -q "$TIMESCALEDB_URI" -c "DROP DATABASE IF EXISTS $LDB WITH (FORCE)" >/dev/null
  printf "latency at %5d events/s, one worker, 12 partitions: guardian %s, peak RSS %.0f MB | python %s\n" \
    "$rate" "$ours" "$(echo "$rss_kb / 1024" | bc -l)" "$theirs"
done

# 6. The query API under wrk (its own database; see scripts/bench-api.sh).
GUARDIAN_BIN="$BIN" "$ROOT/scripts/bench-api.sh"
