-- Position updates stay HOT. PostgreSQL counts a column named in a partial index's predicate as indexed, so
-- `position IS NOT NULL` in flights_positions_idx made every position change (most of an airborne flight's
-- snapshots) a non-HOT update that adds an entry to every index of `flights`. Without the position term the
-- index still holds only the few thousand airborne and departed flights; the positions query keeps its
-- `position IS NOT NULL` as a filter (the query's predicate still implies the index's, so the planner uses it).
DROP INDEX flights_positions_idx;
CREATE INDEX flights_positions_idx ON flights (flight_id) WHERE status IN ('airborne', 'departed') AND NOT removed;
