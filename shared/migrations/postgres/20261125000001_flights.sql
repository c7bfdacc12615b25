-- Contrail schema, PostgreSQL engine.
-- flight_events: every distinct event ever received (history), range-partitioned by month of event_time so
--   retention drops whole partitions. Partitions are created on demand by contrail_ensure_event_partition().
-- flights: the current snapshot of every flight (newest (event_time, event_id) wins), small and indexed for
--   the query API. Removed flights keep their row (removed = true) so older snapshots cannot resurrect them.
-- dead_letters: the local stand-in for the SQS dead-letter queue.
-- Ids use the "C" collation: byte order, the same as SQLite's and the writer's in-memory order, so the
-- (event_time, event_id) tie-break and keyset pages agree everywhere (and compare faster).

CREATE TABLE flight_events (
    event_id    text        COLLATE "C" NOT NULL,
    event_time  timestamptz NOT NULL,
    flight_id   text        COLLATE "C" NOT NULL,
    removed     boolean     NOT NULL DEFAULT false,
    -- Canonical flight-event/v1 JSON (NULL for a removal).
    payload     json,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, event_time)
) PARTITION BY RANGE (event_time);

CREATE INDEX flight_events_flight_idx ON flight_events (flight_id, event_time, event_id);

CREATE TABLE flights (
    flight_id               text COLLATE "C" PRIMARY KEY,
    carrier                 text,
    number                  text,
    date                    date,
    origin                  text,
    destination             text,
    status                  text,
    scheduled_departure     timestamptz,
    scheduled_arrival       timestamptz,
    estimated_departure     timestamptz,
    estimated_arrival       timestamptz,
    actual_departure        timestamptz,
    actual_arrival          timestamptz,
    departure_delay_minutes double precision,
    arrival_delay_minutes   double precision,
    tail_number             text,
    gate                    text,
    terminal                text,
    position                jsonb,
    event_time              timestamptz NOT NULL,
    event_id                text        COLLATE "C" NOT NULL,
    removed                 boolean     NOT NULL DEFAULT false
-- Room in each page for HOT updates: most snapshots change no indexed column.
) WITH (fillfactor = 80);

-- Keyset pagination and the query API's filters; removed flights are never served, so index only live rows.
CREATE INDEX flights_departure_key_idx   ON flights (scheduled_departure, flight_id) WHERE NOT removed;
CREATE INDEX flights_date_origin_idx     ON flights (date, origin, scheduled_departure, flight_id) WHERE NOT removed;
CREATE INDEX flights_date_destination_idx ON flights (date, destination, scheduled_arrival, flight_id) WHERE NOT removed;
CREATE INDEX flights_carrier_idx         ON flights (carrier, scheduled_departure, flight_id) WHERE NOT removed;
CREATE INDEX flights_status_idx          ON flights (status, scheduled_departure, flight_id) WHERE NOT removed;

CREATE TABLE dead_letters (
    id               bigserial PRIMARY KEY,
    topic            text        NOT NULL,
    kafka_partition  bigint      NOT NULL,
    kafka_offset     bigint      NOT NULL,
    reason           text        NOT NULL,
    letter           jsonb       NOT NULL,
    dead_lettered_at timestamptz NOT NULL,
    UNIQUE (topic, kafka_partition, kafka_offset)
);

-- Creates the month partition holding `ts` if it is missing. Serialized by an advisory lock so concurrent
-- writers (several Lambda instances) never race on the DDL.
CREATE FUNCTION contrail_ensure_event_partition(ts timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    lo   timestamptz := date_trunc('month', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    hi   timestamptz := lo + interval '1 month';
    name text := format('flight_events_%s', to_char(lo AT TIME ZONE 'UTC', 'YYYY_MM'));
BEGIN
    IF to_regclass(name) IS NOT NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('contrail_ensure_event_partition'));
    IF to_regclass(name) IS NULL THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF flight_events FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
    END IF;
END;
$$;

-- Drops history partitions that end before `keep_from`; returns how many were dropped. Current state
-- (flights) is untouched: retention applies to history only.
CREATE FUNCTION contrail_drop_event_partitions_before(keep_from timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    part    record;
    dropped integer := 0;
BEGIN
    FOR part IN
        SELECT c.relname,
               (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz AS upper_bound
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'flight_events'::regclass
    LOOP
        IF part.upper_bound IS NOT NULL AND part.upper_bound <= keep_from THEN
            EXECUTE format('DROP TABLE %I', part.relname);
            dropped := dropped + 1;
        END IF;
    END LOOP;
    RETURN dropped;
END;
$$;
