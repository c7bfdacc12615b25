-- ingest_ledger: one row per batch and topic-partition, written in the batch's own transaction (see the
-- PostgreSQL migration of the same name). committed_at is microseconds since the epoch, as every time here.
CREATE TABLE ingest_ledger (
    id              INTEGER PRIMARY KEY,
    topic           TEXT    NOT NULL,
    kafka_partition INTEGER NOT NULL,
    first_offset    INTEGER NOT NULL,
    last_offset     INTEGER NOT NULL,
    records         INTEGER NOT NULL,
    stored          INTEGER NOT NULL,
    duplicates      INTEGER NOT NULL,
    dead_lettered   INTEGER NOT NULL,
    checksum        BLOB    NOT NULL,
    source          TEXT    NOT NULL,
    committed_at    INTEGER NOT NULL,
    CHECK (first_offset <= last_offset)
);

CREATE INDEX ingest_ledger_partition_idx ON ingest_ledger (topic, kafka_partition, last_offset);
CREATE INDEX ingest_ledger_committed_idx ON ingest_ledger (committed_at);
