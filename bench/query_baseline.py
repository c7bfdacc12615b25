"""The conventional alternative to the Rust query function: a Python Lambda handler using psycopg that runs
the same query per request. Measured by the query benchmark in the same run, on the same database, pinned
to the same core.

Usage: python query_baseline.py DATABASE_URL EVENTS_FILE WARMUP
EVENTS_FILE holds {scenario name: [event...]} (API Gateway REST proxy events: flight lookups, flight pages,
position pages). Prints one JSON object: per scenario, the handler latencies in nanoseconds.
"""

import base64
import json
import sys
import time

import psycopg

COLUMNS = (
    "flight_id, carrier, number, date, origin, destination, status, scheduled_departure, scheduled_arrival, "
    "estimated_departure, estimated_arrival, actual_departure, actual_arrival, departure_delay_minutes, "
    "arrival_delay_minutes, tail_number, gate, terminal, position, event_time"
)
NAMES = [c.strip() for c in COLUMNS.split(",")]
NAMES[-1] = "updated_at"
TIMES = {
    "scheduled_departure", "scheduled_arrival", "estimated_departure", "estimated_arrival",
    "actual_departure", "actual_arrival", "updated_at",
}

conn = None  # opened once per cold start, as a warm Lambda keeps it


def connect(url):
    global conn
    conn = psycopg.connect(url, autocommit=True)


def iso(t):
    return t.isoformat().replace("+00:00", "Z") if t is not None else None


def to_flight(row):
    out = {}
    for name, value in zip(NAMES, row):
        if name in TIMES:
            value = iso(value)
        elif name == "date":
            value = value.isoformat()
        out[name] = value
    return out


def respond(status, body):
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def handler(event, context=None):
    path = event["path"]
    params = event.get("queryStringParameters") or {}
    if path.startswith("/flights/"):
        flight_id = path[len("/flights/"):]
        with conn.cursor() as cur:
            cur.execute(f"SELECT {COLUMNS} FROM flights WHERE NOT removed AND flight_id = %s", (flight_id,))
            row = cur.fetchone()
        if row is None:
            return respond(404, {"error": {"code": "not_found", "message": "no such flight"}})
        return respond(200, to_flight(row))
    if path == "/flights":
        limit = int(params.get("limit", "50"))
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT {COLUMNS} FROM flights WHERE NOT removed AND origin = %s AND date = %s "
                "ORDER BY scheduled_departure, flight_id LIMIT %s",
                (params["origin"], params["date"], limit + 1),
            )
            rows = cur.fetchall()
        items = [to_flight(r) for r in rows[:limit]]
        cursor = None
        if len(rows) > limit:
            last = items[-1]
            cursor = base64.urlsafe_b64encode(f"{last['scheduled_departure']}|{last['flight_id']}".encode()).decode()
        return respond(200, {"items": items, "next_cursor": cursor})
    if path == "/positions":
        limit = int(params.get("limit", "50"))
        sql = (
            "SELECT flight_id, carrier, number, origin, destination, position, event_time FROM flights "
            "WHERE status IN ('airborne', 'departed') AND NOT removed AND position IS NOT NULL "
            "AND status <> 'departed'"
        )
        args = []
        if "bbox" in params:
            min_lon, min_lat, max_lon, max_lat = (float(x) for x in params["bbox"].split(","))
            sql += (
                " AND (position->>'lat')::float8 BETWEEN %s AND %s"
                " AND (position->>'lon')::float8 BETWEEN %s AND %s"
            )
            args += [min_lat, max_lat, min_lon, max_lon]
        sql += " ORDER BY flight_id LIMIT %s"
        args.append(limit + 1)
        with conn.cursor() as cur:
            cur.execute(sql, args)
            rows = cur.fetchall()
        items = []
        for flight_id, carrier, number, origin, destination, position, event_time in rows[:limit]:
            items.append({
                "flight_id": flight_id, "carrier": carrier, "number": number, "origin": origin,
                "destination": destination, "lat": position["lat"], "lon": position["lon"],
                "heading_deg": position.get("heading_deg"), "altitude_ft": position.get("altitude_ft"),
                "ground_speed_kt": position.get("ground_speed_kt"), "event_time": iso(event_time),
            })
        cursor = None
        if len(rows) > limit:
            cursor = base64.urlsafe_b64encode(items[-1]["flight_id"].encode()).decode()
        return respond(200, {"items": items, "next_cursor": cursor})
    return respond(404, {"error": {"code": "not_found", "message": "no such route"}})


def main():
    url, events_file, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(events_file) as f:
        scenarios = json.load(f)
    connect(url)
    results = {}
    for name, events in scenarios.items():
        for event in events[:warmup]:
            handler(event)
        latencies = []
        started = time.perf_counter_ns()
        for event in events[warmup:]:
            t0 = time.perf_counter_ns()
            response = handler(event)
            latencies.append(time.perf_counter_ns() - t0)
            if response["statusCode"] != 200:
                raise SystemExit(f"{name}: unexpected {response['statusCode']}: {response['body'][:200]}")
        results[name] = {"latencies_ns": latencies, "wall_ns": time.perf_counter_ns() - started}
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
