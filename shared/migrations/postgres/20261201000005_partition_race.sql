-- Two writers creating the same month's partition at once: the second waits on the advisory lock, but an
-- advisory lock does not make the backend process catalog invalidations, so its to_regclass() can still miss the
-- table the first one just committed, and its CREATE TABLE then fails with "relation ... already exists". The
-- partition existing is exactly what the caller wants, so that error is taken as success.
CREATE OR REPLACE FUNCTION contrail_ensure_event_partition(ts timestamptz) RETURNS void
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
        BEGIN
            EXECUTE format('CREATE TABLE %I PARTITION OF flight_events FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
        EXCEPTION WHEN duplicate_table OR unique_violation THEN
            -- Created by a concurrent writer that committed while this one waited for the lock.
            NULL;
        END;
    END IF;
END;
$$;
