#!/usr/bin/env bash
# `make bench`, part 6 — also alone: GUARDIAN_BIN=.build/release/guardian scripts/with-stack.sh scripts/bench-api.sh
# `guardian api` under Debian's wrk, on a database of its own: 64 symbols x 3,000 events over the last
# hour (SQL, no Kafka), Redis filled by `guardian cache rebuild`. Figures, each next to /healthz in
# the same run (the server's floor: no Redis, no database): requests/s, p50 and p99 of
#   /v1/symbols/{s}/state from Redis; the same from the database (a worker reports the cache stale);
#   /v1/symbols/{s}/events over a 1-hour range, 1000 per page;
# and the time from an alert's commit to its message on /v1/alerts/stream.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${GUARDIAN_BIN:-$ROOT/.build/release/guardian}"
RUN_DIR="${GUARDIAN_RUN_DIR:-$ROOT/.run}"
SECONDS_EACH="${BENCH_API_SECONDS:-8}"
CONNECTIONS="${BENCH_API_CONNECTIONS:-8}"
: "${TIMESCALEDB_URI:?run under scripts/with-stack.sh (make bench)}"
command -v wrk >/dev/null || { echo "bench-api: wrk is missing (make deps installs Debian's wrk)" >&2; exit 1; }
PG_BASE="${TIMESCALEDB_URI%/*}"
ADB="bench_api_$$"
APIPID=
cleanup() {
  [ -n "$APIPID" ] && kill -TERM "$APIPID" 2>/dev/null && wait "$APIPID" 2>/dev/null || true
  psql -X -q "$TIMESCALEDB_URI" -c "DROP DATABASE IF EXISTS $ADB WITH (FORCE)" >/dev/null || true
}
trap cleanup EXIT
psql -X -q "$TIMESCALEDB_URI" -c "CREATE DATABASE $ADB" >/dev/null
DB="$PG_BASE/$ADB"
"$BIN" migrate --timescaledb-uri "$DB" --log-level warning >/dev/null
psql -X -q "$DB" -c "
  INSERT INTO guardian_events (ts, symbol, seq, event_id, kind, decision, reason, side, qty, price, position, exposure,
                               realized_pnl, latency_us, kafka_partition, kafka_offset)
  SELECT now() - (3000 - i) * interval '1.2 second', 'API' || lpad(s::text, 2, '0'), i, gen_random_uuid(),
         CASE WHEN i % 97 = 0 THEN 'risk_breach' ELSE 'order_check' END, CASE WHEN i % 3 = 0 THEN 'deny' ELSE 'allow' END,
         CASE WHEN i % 3 = 0 THEN 'limit' END, 'buy', 100, 50 + i * 0.01, i, i * 10.0, i * 0.5, 20, s % 12, i
  FROM generate_series(0, 63) s, generate_series(1, 3000) i" >/dev/null
"$BIN" cache rebuild --timescaledb-uri "$DB" >/dev/null
TOKEN=$("$BIN" api token create --name bench --scope read --timescaledb-uri "$DB")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$BIN" api --listen "127.0.0.1:$PORT" --timescaledb-uri "$DB" --rate-limit 1000000000 --log-level warning \
  >"$RUN_DIR/bench-api.log" 2>&1 &
APIPID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

measure() {  # measure PATH: "R req/s, p50 A, p99 B" (wrk --latency), non-2xx counted
  local out
  out=$(wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$1")
  local rps p50 p99 bad
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  echo "$rps req/s, p50 $p50, p99 $p99${bad:+, NON-2XX $bad}"
}
rps() { sed 's/ req.*//' <<<"$1"; }

base=$(measure /healthz)
state=$(measure /v1/symbols/API07/state)
curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/v1/symbols/API07/state" | grep -q '"source":"redis"' \
  || echo "bench-api: /state did not answer from Redis"
psql -X -q "$DB" -c "INSERT INTO guardian_cache_status (worker_id, stale) VALUES ('bench', true)" >/dev/null
sleep 1.2
# Reported stale every second while measuring, as a worker would.
( for _ in $(seq 1 $((SECONDS_EACH + 2))); do psql -X -q "$DB" -c "UPDATE guardian_cache_status SET reported_at = now()" >/dev/null; sleep 1; done ) &
REPORTER=$!
fromdb=$(measure /v1/symbols/API07/state)
curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/v1/symbols/API07/state" | grep -q '"source":"timescaledb"' \
  || echo "bench-api: /state did not answer from the database while the cache was reported stale"
wait "$REPORTER" || true
from=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ); to=$(date -u +%Y-%m-%dT%H:%M:%SZ)
events=$(measure "/v1/symbols/API07/events?from=$from&to=$to&limit=1000")

# Alert latency: from the commit of a transaction that stores an alert (and notifies, as the workers'
# writes do) to its message on /v1/alerts/stream, for 20 alerts one at a time.
curl -sN -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/v1/alerts/stream" >"$RUN_DIR/bench-api-sse.log" 2>/dev/null &
CURLPID=$!
sleep 1
sse_ms=()
for n in $(seq 1 20); do
  id=$(python3 -c 'import uuid; print(uuid.uuid4())')
  before=$(wc -l <"$RUN_DIR/bench-api-sse.log")
  t0=$(date +%s%N)
  psql -X -q "$DB" -c "BEGIN" -c "INSERT INTO guardian_events (ts, symbol, seq, event_id, kind, kafka_partition, kafka_offset)
    VALUES ('2026-01-01T00:00:00Z'::timestamptz + $n * interval '1 second', 'API00', 100000 + $n, '$id', 'circuit_breaker', 0, 0)" \
    -c "SELECT pg_notify('guardian_alerts', ((extract(epoch FROM timestamptz '2026-01-01T00:00:00Z' + $n * interval '1 second') * 1000000)::bigint)::text || '_$id')" \
    -c "COMMIT" >/dev/null
  t1=$(date +%s%N)
  for _ in $(seq 1 2000); do grep -q "$id" "$RUN_DIR/bench-api-sse.log" && break; sleep 0.001; done
  t2=$(date +%s%N)
  grep -q "$id" "$RUN_DIR/bench-api-sse.log" && sse_ms+=("$(( (t2 - t1) / 1000 ))") || sse_ms+=("9999999")
done
kill "$CURLPID" 2>/dev/null || true
sse=$(printf '%s\n' "${sse_ms[@]}" | sort -n | awk '{a[NR]=$1} END {printf "p50 %.1f ms, max %.1f ms (%d alerts)", a[int((NR+1)/2)]/1000, a[NR]/1000, NR}')

echo "api (wrk, $CONNECTIONS connections, ${SECONDS_EACH}s each; ratios to /healthz in the same run):"
echo "  /healthz (floor)                  $base"
printf "  /state from Redis                 %s  (%.2f of the floor)\n" "$state" "$(echo "$(rps "$state") / $(rps "$base")" | bc -l)"
printf "  /state from the database          %s  (%.2f)\n" "$fromdb" "$(echo "$(rps "$fromdb") / $(rps "$base")" | bc -l)"
printf "  /events, 1 h range, 1000 per page %s  (%.3f)\n" "$events" "$(echo "$(rps "$events") / $(rps "$base")" | bc -l)"
echo "  alert on /v1/alerts/stream after its commit: $sse"
