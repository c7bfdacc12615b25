-- local_log: the local stack's stand-in for a broker's log end offsets (see the PostgreSQL migration of the
-- same name).
CREATE TABLE local_log (
    topic           TEXT    NOT NULL,
    kafka_partition INTEGER NOT NULL,
    next_offset     INTEGER NOT NULL,
    PRIMARY KEY (topic, kafka_partition)
);
