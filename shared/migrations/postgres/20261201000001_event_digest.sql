-- The SHA-256 of each history row's canonical content (the payload text; for a removal, its flight and
-- time), so a redelivered event_id is told apart from a reused one by comparing 32 bytes. Rows stored
-- before this migration keep NULL: a redelivery of one of them counts as a duplicate, as it did before.
-- Adding a nullable column without a default rewrites nothing, on the parent and on every partition.
ALTER TABLE flight_events ADD COLUMN digest bytea;
