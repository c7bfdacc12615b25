-- local_log: the local stack's stand-in for a broker's log end offsets (as dead_letters stands in for the queue):
-- the next offset of each partition its simulator and `contrail replay` write to, reserved atomically, so that
-- offsets continue from one run to the next and two processes never take the same ones. The ledger then sees a
-- contiguous log, as it would from Kafka. Nothing in AWS uses it.
CREATE TABLE local_log (
    topic           text   COLLATE "C" NOT NULL,
    kafka_partition bigint NOT NULL,
    next_offset     bigint NOT NULL,
    PRIMARY KEY (topic, kafka_partition)
);
