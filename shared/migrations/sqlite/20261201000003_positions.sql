-- GET /positions: the flights in the air, keyed by flight id for keyset pages. SQLite uses a partial index
-- only for a query that repeats its predicate's terms; the positions query does, word for word
-- (storage/sql.rs).
CREATE INDEX flights_positions_idx ON flights (flight_id)
    WHERE status IN ('airborne', 'departed') AND removed = 0 AND position IS NOT NULL;
