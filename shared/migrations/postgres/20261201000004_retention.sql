-- History retention runs from the ingest function (statement by statement, so that it can detach a partition
-- CONCURRENTLY, which a function cannot). The SQL function that dropped partitions directly stays for
-- callers of its own, but with a lock timeout: a DROP TABLE waiting for its lock on flight_events queues every
-- later read and write behind it, so it gives up after 2 seconds (the same as the ingest function's
-- RETENTION_LOCK_TIMEOUT) instead of waiting without bound.
ALTER FUNCTION contrail_drop_event_partitions_before(timestamptz) SET lock_timeout = '2s';
