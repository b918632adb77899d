"""Publishing guardian events from a Python trading engine (contract v1), with confluent-kafka.

The contract (schemas/guardian-event.v1.schema.json): topic `guardian.events`, message key = symbol,
value = one JSON object. The producer is idempotent with acks=all, so retries never duplicate or
reorder an event within a partition; `produce` only enqueues, the engine never waits on the network.

    pip install confluent-kafka
    python3 publish_events.py --bootstrap 127.0.0.1:9092 --count 1000

(`make test` runs this against the local dev broker, so it cannot rot.)
"""
import argparse
import json
import random
import time
import uuid

from confluent_kafka import Producer

KINDS = ["order_check"] * 8 + ["position", "pnl"]


def make_event(symbol, seq):
    kind = random.choice(KINDS)
    event = {
        "v": 1,
        "event_id": str(uuid.uuid4()),   # the idempotency key downstream
        "symbol": symbol,                # also the Kafka key: one partition per symbol keeps its order
        "seq": seq,                      # strictly increasing per symbol
        "ts": time.time_ns(),            # event time, ns since the epoch, UTC
        "kind": kind,
    }
    if kind == "order_check":
        deny = random.random() < 0.05
        event.update(decision="deny" if deny else "allow", reason="position limit" if deny else None,
                     side=random.choice(["buy", "sell"]), qty=100.0, price=round(random.uniform(90, 110), 2),
                     latency_us=random.randint(3, 60))
    elif kind == "position":
        event["position"] = float(random.randint(-5000, 5000))
    else:
        event["realized_pnl"] = round(random.uniform(-500, 500), 2)
    event["attrs"] = {"engine": "python-example"}
    return event


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", default="127.0.0.1:9092")
    ap.add_argument("--topic", default="guardian.events")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--symbols", type=int, default=8)
    args = ap.parse_args()

    failures = []

    def on_delivery(err, msg):
        if err is not None:
            failures.append(err)  # hand this to your alerting; the engine itself carries on

    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "enable.idempotence": True,      # implies acks=all and safe retries
        "acks": "all",
        "compression.type": "lz4",
        "linger.ms": 5,
    })
    seqs = {}
    for i in range(args.count):
        symbol = f"PY{i % args.symbols:02d}"
        seqs[symbol] = seqs.get(symbol, -1) + 1
        value = json.dumps(make_event(symbol, seqs[symbol]), separators=(",", ":"))
        while True:
            try:
                producer.produce(args.topic, key=symbol, value=value, on_delivery=on_delivery)
                break
            except BufferError:          # local queue full: serve delivery reports, then retry
                producer.poll(0.01)
        producer.poll(0)
    remaining = producer.flush(30)
    print(f"published {args.count} events, {len(failures)} failed, {remaining} undelivered")
    raise SystemExit(1 if failures or remaining else 0)


if __name__ == "__main__":
    main()
