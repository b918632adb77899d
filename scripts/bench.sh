#!/usr/bin/env bash
# `make bench`: figures, not pass/fail. Run inside scripts/with-stack.sh (needs the stack's env).
#
# 1. Decoder: events/s on one thread, ours vs Foundation's JSONDecoder (same run).
# 2. Worker drain: preload N events (64 symbols, 32 partitions) into the dev broker; time one release
#    `guardian worker` draining them to durable (all committed); its CPU-seconds per 100,000 events and peak RSS.
# 3. Database floor: psql \copy of the same rows (binary) into the same schema in an empty database,
#    followed by the same idempotent merge the worker does; the worker's rate as a ratio of it.
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

# Fresh databases: one for the worker, one for the floor; the same migrations in both.
psql -X -q "$TIMESCALEDB_URI" -c "CREATE DATABASE bench_worker" -c "CREATE DATABASE bench_floor"
WORKER_DB="$PG_BASE/bench_worker"
FLOOR_DB="$PG_BASE/bench_floor"
"$BIN" migrate --timescaledb-uri "$WORKER_DB" --log-level warning >/dev/null
"$BIN" migrate --timescaledb-uri "$FLOOR_DB" --log-level warning >/dev/null

"$BIN" dev-broker-ctl topic "$TOPIC" "$PARTITIONS" 3 >/dev/null
t0=$(date +%s.%N)
"$BIN" bench preload --topic "$TOPIC" --count "$COUNT" --symbols "$SYMBOLS" >/dev/null
t1=$(date +%s.%N)
echo "preload: $COUNT events to $PARTITIONS partitions in $(printf %.1f "$(echo "$t1 - $t0" | bc)") s"

"$BIN" worker --topic "$TOPIC" --group "$GROUP" --timescaledb-uri "$WORKER_DB" --metrics-port 0 --log-level warning \
  >"$RUN_DIR/bench-worker.log" 2>&1 &
WPID=$!
trap 'kill -TERM $WPID 2>/dev/null || true' EXIT
start=$(date +%s.%N)
drain=$("$BIN" bench wait-drained --topic "$TOPIC" --group "$GROUP")
stat=($(cat /proc/$WPID/stat | sed 's/.*) //'))
cpu_ticks=$(( ${stat[11]} + ${stat[12]} ))   # utime + stime
rss_kb=$(awk '/VmHWM/ {print $2}' /proc/$WPID/status)
kill -TERM $WPID; wait $WPID || true
trap - EXIT
first=$(sed -n 's/.*first_commit_s=\([0-9.]*\).*/\1/p' <<<"$drain")
done_s=$(sed -n 's/.*done_s=\([0-9.]*\).*/\1/p' <<<"$drain")
rows=$(psql -X -qtA "$WORKER_DB" -c "SELECT count(*) FROM guardian_events")
[ "$rows" = "$COUNT" ] || { echo "bench: FAILED: the worker stored $rows rows, expected $COUNT"; exit 1; }
worker_rate=$(echo "$COUNT / $done_s" | bc -l)
cpu_s=$(echo "$cpu_ticks / $TICKS" | bc -l)
printf "worker: %d events durable and committed in %.2f s (first commit after %.2f s, incl. group join): %.0f events/s\n" \
  "$COUNT" "$done_s" "$first" "$worker_rate"
printf "worker: %.2f CPU-seconds per 100,000 events, peak RSS %.1f MB\n" "$(echo "$cpu_s * 100000 / $COUNT" | bc -l)" "$(echo "$rss_kb / 1024" | bc -l)"
printf "worker: %.0f events/s after the group join (from the first commit)\n" "$(echo "$COUNT / ($done_s - $first)" | bc -l)"

# The floor: the database's own binary COPY + the same merge, no Kafka, no decoding.
COLS="ts, symbol, seq, event_id, kind, decision, reason, side, qty, price, position, exposure, realized_pnl, unrealized_pnl, latency_us, attrs, kafka_partition, kafka_offset, ingested_at"
DUMP="$RUN_DIR/bench-rows.bin"
psql -X -q "$WORKER_DB" -c "\\copy (SELECT $COLS FROM guardian_events) TO '$DUMP' (FORMAT binary)"
f0=$(date +%s.%N)
psql -X -q -v ON_ERROR_STOP=1 "$FLOOR_DB" >/dev/null <<SQL
BEGIN;
CREATE TEMP TABLE guardian_events_staging (LIKE guardian_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
\\copy guardian_events_staging ($COLS) FROM '$DUMP' (FORMAT binary)
INSERT INTO guardian_events ($COLS) SELECT $COLS FROM guardian_events_staging ON CONFLICT (event_id, ts) DO NOTHING;
COMMIT;
SQL
f1=$(date +%s.%N)
floor_rows=$(psql -X -qtA "$FLOOR_DB" -c "SELECT count(*) FROM guardian_events")
floor_s=$(echo "$f1 - $f0" | bc -l)
floor_rate=$(echo "$floor_rows / $floor_s" | bc -l)
printf "floor: psql \\\\copy + merge of %d rows in %.2f s: %.0f rows/s\n" "$floor_rows" "$floor_s" "$floor_rate"
printf "ratio: worker / floor = %.2f (target >= 0.9); worker / Python anchor (75,000/s measured earlier) = %.2f (target >= 1.5)\n" \
  "$(echo "$worker_rate / $floor_rate" | bc -l)" "$(echo "$worker_rate / 75000" | bc -l)"
rm -f "$DUMP"
psql -X -q "$TIMESCALEDB_URI" -c "DROP DATABASE bench_worker WITH (FORCE)" -c "DROP DATABASE bench_floor WITH (FORCE)"
