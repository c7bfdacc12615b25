-- ingest_ledger: one row per batch and topic-partition, written in the batch's own transaction: the offsets the
-- batch covered, how its records ended, and a SHA-256 checksum of the records as delivered (the framing is in
-- shared/src/ledger.rs and docs/audit.md). A retried or bisected batch writes overlapping rows; the audit reads
-- them as redeliveries. Rows go with history retention (by commit time), so the table stays small: one row per
-- partition per batch.
CREATE TABLE ingest_ledger (
    id              bigserial   PRIMARY KEY,
    topic           text        COLLATE "C" NOT NULL,
    kafka_partition bigint      NOT NULL,
    first_offset    bigint      NOT NULL,
    last_offset     bigint      NOT NULL,
    records         bigint      NOT NULL,
    stored          bigint      NOT NULL,
    duplicates      bigint      NOT NULL,
    dead_lettered   bigint      NOT NULL,
    checksum        bytea       NOT NULL,
    -- 'kafka' (a batch from the topic) or 's3' (a failed batch replayed from the failure bucket).
    source          text        NOT NULL,
    committed_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK (first_offset <= last_offset)
);

-- The ingest function's gap check reads a partition's highest last offset: one backward index scan.
CREATE INDEX ingest_ledger_partition_idx ON ingest_ledger (topic, kafka_partition, last_offset);
-- Audits since a time, and retention.
CREATE INDEX ingest_ledger_committed_idx ON ingest_ledger (committed_at);
