-- GET /positions: the flights in the air, keyed by flight id for keyset pages. Only a few thousand of the
-- table's rows are airborne or departed at any time, so a partial index holds exactly them and a page is an
-- ordered scan of it. The positions query repeats this predicate word for word (storage/sql.rs).
CREATE INDEX flights_positions_idx ON flights (flight_id)
    WHERE status IN ('airborne', 'departed') AND NOT removed AND position IS NOT NULL;
