"""The sink a user would otherwise write: a Python consumer of the same batches that stores them with
psycopg, one transaction per batch. Measured by the ingest benchmark in the same run, on the same server,
against a database with Contrail's schema (the same tables, keys and indexes).

Per batch: `executemany` of an idempotent history insert (ON CONFLICT DO NOTHING on the history's key) and
`executemany` of a newest-wins upsert of each flight's latest snapshot in the batch, the design the mission
describes. Values are parsed with the standard json module; times and JSON are cast by the server.

Usage: python ingest_peer.py DATABASE_URL FEED_FILE
FEED_FILE holds one JSON object per batch: {"phase": "warm_up" | "measured", "records": [[key, value], ...]}.
The warm-up batches are stored first, untimed. Prints {"records": N, "secs": S} for the measured ones.
"""

import hashlib
import json
import sys
import time
from datetime import datetime

import psycopg

HISTORY = """
INSERT INTO flight_events (event_id, event_time, flight_id, removed, payload, digest)
VALUES (%s, %s::timestamptz, %s, false, %s::json, %s)
ON CONFLICT DO NOTHING
"""

STATE_COLUMNS = [
    "flight_id", "carrier", "number", "date", "origin", "destination", "status", "scheduled_departure",
    "scheduled_arrival", "estimated_departure", "estimated_arrival", "actual_departure", "actual_arrival",
    "departure_delay_minutes", "arrival_delay_minutes", "tail_number", "gate", "terminal", "position",
    "event_time", "event_id",
]
STATE = (
    f"INSERT INTO flights AS f ({', '.join(STATE_COLUMNS)}) VALUES ({', '.join(['%s'] * len(STATE_COLUMNS))})\n"
    "ON CONFLICT (flight_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in STATE_COLUMNS[1:])
    + "\nWHERE (f.event_time, f.event_id) < (excluded.event_time, excluded.event_id)"
)


def parse_time(text):
    return datetime.fromisoformat(text) if text else None


def delay(actual, scheduled):
    a, s = parse_time(actual), parse_time(scheduled)
    return (a - s).total_seconds() / 60.0 if a and s else None


def store(conn, records):
    history = []
    newest = {}
    for key, value in records:
        event = json.loads(value)
        digest = hashlib.sha256(value.encode()).digest()
        history.append((event["event_id"], event["event_time"], key, value, digest))
        order = (parse_time(event["event_time"]), event["event_id"])
        held = newest.get(key)
        if held is None or held[0] < order:
            newest[key] = (order, event)
    state = []
    for key, (_, e) in newest.items():
        position = e.get("position")
        state.append((
            key, e["carrier"], e["number"], e["date"], e["origin"], e["destination"], e["status"],
            e["scheduled_departure"], e["scheduled_arrival"], e.get("estimated_departure"),
            e.get("estimated_arrival"), e.get("actual_departure"), e.get("actual_arrival"),
            delay(e.get("actual_departure"), e["scheduled_departure"]),
            delay(e.get("actual_arrival"), e["scheduled_arrival"]),
            e.get("tail_number"), e.get("gate"), e.get("terminal"),
            json.dumps(position) if position is not None else None, e["event_time"], e["event_id"],
        ))
    with conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(HISTORY, history)
            cur.executemany(STATE, state)


def main():
    url, feed = sys.argv[1], sys.argv[2]
    with open(feed) as f:
        batches = [json.loads(line) for line in f]
    conn = psycopg.connect(url)
    for b in batches:
        if b["phase"] == "warm_up":
            store(conn, b["records"])
    records = 0
    started = time.perf_counter()
    for b in batches:
        if b["phase"] == "measured":
            store(conn, b["records"])
            records += len(b["records"])
    secs = time.perf_counter() - started
    conn.close()
    print(json.dumps({"records": records, "secs": secs}))


if __name__ == "__main__":
    main()
