-- Contrail schema, SQLite engine (the local stack's embedded default). Same tables as PostgreSQL,
-- without partitioning. Times are stored as integer microseconds since the Unix epoch (UTC), so they
-- order and compare exactly; dates as 'YYYY-MM-DD' text.

CREATE TABLE flight_events (
    event_id    TEXT    NOT NULL PRIMARY KEY,
    event_time  INTEGER NOT NULL,
    flight_id   TEXT    NOT NULL,
    removed     INTEGER NOT NULL DEFAULT 0,
    payload     TEXT,
    received_at INTEGER NOT NULL
);

CREATE INDEX flight_events_flight_idx ON flight_events (flight_id, event_time, event_id);

CREATE TABLE flights (
    flight_id               TEXT PRIMARY KEY,
    carrier                 TEXT,
    number                  TEXT,
    date                    TEXT,
    origin                  TEXT,
    destination             TEXT,
    status                  TEXT,
    scheduled_departure     INTEGER,
    scheduled_arrival       INTEGER,
    estimated_departure     INTEGER,
    estimated_arrival       INTEGER,
    actual_departure        INTEGER,
    actual_arrival          INTEGER,
    departure_delay_minutes REAL,
    arrival_delay_minutes   REAL,
    tail_number             TEXT,
    gate                    TEXT,
    terminal                TEXT,
    position                TEXT,
    event_time              INTEGER NOT NULL,
    event_id                TEXT    NOT NULL,
    removed                 INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE INDEX flights_departure_key_idx    ON flights (scheduled_departure, flight_id) WHERE removed = 0;
CREATE INDEX flights_date_origin_idx      ON flights (date, origin, scheduled_departure, flight_id) WHERE removed = 0;
CREATE INDEX flights_date_destination_idx ON flights (date, destination, scheduled_arrival, flight_id) WHERE removed = 0;
CREATE INDEX flights_carrier_idx          ON flights (carrier, scheduled_departure, flight_id) WHERE removed = 0;
CREATE INDEX flights_status_idx           ON flights (status, scheduled_departure, flight_id) WHERE removed = 0;

CREATE TABLE dead_letters (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    topic            TEXT    NOT NULL,
    kafka_partition  INTEGER NOT NULL,
    kafka_offset     INTEGER NOT NULL,
    reason           TEXT    NOT NULL,
    letter           TEXT    NOT NULL,
    dead_lettered_at INTEGER NOT NULL,
    UNIQUE (topic, kafka_partition, kafka_offset)
);
