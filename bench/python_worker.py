"""A careful Python worker doing Guardian Fleet's job, as the same-run baseline for `make bench`.

confluent-kafka (consumer group, manual commits) + orjson + psycopg 3 COPY + redis-py, the way a
competent team would write it: batches of up to 5,000 messages or 20 ms, COPY into a staging table
and an idempotent INSERT ... ON CONFLICT DO NOTHING in one transaction, latest state per symbol in
Redis through the same Lua script, offsets committed synchronously after the database commit.

    python3 bench/python_worker.py --topic T --group G --dsn URI --redis-port P --expect N
Exits when N messages have been processed and committed; prints the seconds from the first
committed batch to the end.
"""
import argparse
import sys
import time
import uuid
from datetime import datetime, timezone

import orjson
import psycopg
import os
import redis
from confluent_kafka import Consumer, TopicPartition

COLUMNS = ("ts", "symbol", "seq", "event_id", "kind", "decision", "reason", "side", "qty", "price",
           "position", "exposure", "realized_pnl", "unrealized_pnl", "latency_us", "attrs",
           "kafka_partition", "kafka_offset", "ingested_at")
KINDS = {"order_check", "position", "pnl", "risk_breach", "lock", "circuit_breaker", "heartbeat"}
STATE_SCRIPT = """
local cur = redis.call('HGET', KEYS[1], 'seq')
local new = ARGV[1]
if cur and (#cur > #new or (#cur == #new and cur >= new)) then return 0 end
local k = tonumber(ARGV[2])
if k > 0 then redis.call('HDEL', KEYS[1], unpack(ARGV, 3, 2 + k)) end
redis.call('HSET', KEYS[1], 'seq', new, unpack(ARGV, 3 + k))
return 1
"""
STATE_FIELDS = ("event_id", "symbol", "ts", "kind", "decision", "reason", "side", "qty", "price", "position",
                "exposure", "realized_pnl", "unrealized_pnl", "latency_us")


def decode(msg):
    e = orjson.loads(msg.value())
    if e.get("v") != 1 or e.get("kind") not in KINDS or not isinstance(e.get("seq"), int) \
            or not isinstance(e.get("ts"), int) or msg.key() != e.get("symbol", "").encode():
        raise ValueError("invalid event")
    uuid.UUID(e["event_id"])
    return e


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--redis-host", default="127.0.0.1")
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--expect", type=int, required=True)
    ap.add_argument("--idle-seconds", type=float, default=0,
                    help="also stop once this long passed without a message after the first (live runs)")
    args = ap.parse_args()

    consumer = Consumer({
        "bootstrap.servers": args.bootstrap, "group.id": args.group, "enable.auto.commit": False,
        "auto.offset.reset": "earliest", "fetch.wait.max.ms": 20,
    })
    def assigned(c, partitions):
        print(f"python: assigned {len(partitions)} partitions", file=sys.stderr, flush=True)
    consumer.subscribe([args.topic], on_assign=assigned)
    db = psycopg.connect(args.dsn)
    db.execute("CREATE TEMP TABLE staging (LIKE guardian_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
    db.commit()
    r = redis.Redis(host=args.redis_host, port=args.redis_port, password=os.environ.get("REDIS_PASSWORD") or None)
    state = r.register_script(STATE_SCRIPT)
    cols = ", ".join(COLUMNS)
    done = 0
    first = None
    last = time.time()
    while done < args.expect:
        msgs = consumer.consume(num_messages=5000, timeout=0.02)
        if not msgs:
            if args.idle_seconds and first is not None and time.time() - last > args.idle_seconds:
                break
            continue
        last = time.time()
        now = datetime.now(timezone.utc)
        rows, latest, offsets = [], {}, {}
        for m in msgs:
            if m.error():
                continue
            offsets[m.partition()] = m.offset() + 1
            try:
                e = decode(m)
            except (ValueError, KeyError, orjson.JSONDecodeError):
                continue
            attrs = e.get("attrs")
            rows.append((datetime.fromtimestamp(e["ts"] / 1e9, timezone.utc), e["symbol"], e["seq"], e["event_id"], e["kind"], e.get("decision"),
                         e.get("reason"), e.get("side"), e.get("qty"), e.get("price"), e.get("position"),
                         e.get("exposure"), e.get("realized_pnl"), e.get("unrealized_pnl"), e.get("latency_us"),
                         orjson.dumps(attrs).decode() if attrs is not None else None, m.partition(), m.offset(), now))
            prev = latest.get(e["symbol"])
            if prev is None or prev["seq"] < e["seq"]:
                latest[e["symbol"]] = e
        with db.cursor() as cur:
            with cur.copy(f"COPY staging ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(f"INSERT INTO guardian_events ({cols}) SELECT {cols} FROM staging ON CONFLICT (event_id, ts) DO NOTHING")
        db.commit()
        pipe = r.pipeline(transaction=False)
        for sym, e in latest.items():
            sets, dels = [], []
            for f in STATE_FIELDS:
                v = e.get(f)
                if v is None:
                    dels.append(f)
                else:
                    sets += [f, str(v)]
            state(keys=[f"guardian:state:{sym}"], args=[str(e["seq"]), str(len(dels))] + dels + sets, client=pipe)
        pipe.sadd("guardian:symbols", *latest.keys())
        pipe.execute()
        consumer.commit(offsets=[TopicPartition(args.topic, p, o) for p, o in offsets.items()], asynchronous=False)
        if first is None:
            first = time.time()
        done += len(msgs)
    print(f"python_seconds_after_first_commit={time.time() - first:.3f}")
    consumer.close()


if __name__ == "__main__":
    main()
