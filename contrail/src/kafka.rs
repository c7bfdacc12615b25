//! A real Kafka broker as the source: a consumer in a group reads the topic, batches go through the
//! ingest handler as MSK events, and offsets are committed only after the handler succeeded for the
//! batch, so a crash or a failing batch is read again rather than lost. And the producer `replay
//! --kafka` uses.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use contrail_ingest::msk::{MskEvent, MskRecord};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Headers, Message, Timestamp};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;

use crate::esm::{Batching, deliver};
use crate::functions::{Functions, IngestCounts};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a consumer run did, for the closing line.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConsumeStats {
    pub batches: u64,
    pub counts: IngestCounts,
}

/// Consumes `topic` as `group` until shutdown; the in-flight batch is finished and committed first.
pub async fn consume(
    functions: &Functions,
    brokers: &str,
    topic: &str,
    group: &str,
    batching: Batching,
    mut shutdown: watch::Receiver<bool>,
    on_batch: impl Fn(&IngestCounts),
) -> anyhow::Result<ConsumeStats> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .set("session.timeout.ms", "10000")
        .set("log_level", "3")
        .create()
        .context("creating the Kafka consumer")?;
    check_reachable(&consumer, brokers, topic).await?;
    consumer.subscribe(&[topic]).with_context(|| format!("subscribing to {topic}"))?;
    tracing::info!(brokers, topic, group, "consuming");

    let mut stats = ConsumeStats::default();
    loop {
        let records = next_batch(&consumer, batching, &mut shutdown).await?;
        if records.is_empty() {
            if *shutdown.borrow() {
                break;
            }
            continue;
        }
        let positions = next_positions(&records);
        let event = MskEvent::self_managed(brokers, records);
        let Some(counts) = deliver(functions, &event, &mut shutdown).await else { break };
        let mut tpl = TopicPartitionList::new();
        for ((t, p), next) in &positions {
            tpl.add_partition_offset(t, *p, Offset::Offset(*next)).context("building the commit")?;
        }
        consumer.commit(&tpl, CommitMode::Sync).context("committing offsets")?;
        stats.batches += 1;
        stats.counts.add(counts);
        on_batch(&counts);
        if *shutdown.borrow() {
            break;
        }
    }
    Ok(stats)
}

/// The offset to commit per partition: one past the last record of the batch.
fn next_positions(records: &[MskRecord]) -> BTreeMap<(String, i32), i64> {
    let mut out = BTreeMap::new();
    for r in records {
        let next = out.entry((r.topic.clone(), r.partition as i32)).or_insert(r.offset + 1);
        *next = (*next).max(r.offset + 1);
    }
    out
}

async fn next_batch(
    consumer: &StreamConsumer,
    batching: Batching,
    shutdown: &mut watch::Receiver<bool>,
) -> anyhow::Result<Vec<MskRecord>> {
    let mut batch = Vec::new();
    if *shutdown.borrow() {
        return Ok(batch);
    }
    tokio::select! {
        m = consumer.recv() => batch.push(to_record(&m.context("reading from Kafka")?)),
        _ = shutdown.wait_for(|s| *s) => return Ok(batch),
    }
    let deadline = tokio::time::Instant::now() + batching.window;
    while batch.len() < batching.batch_size {
        tokio::select! {
            m = consumer.recv() => batch.push(to_record(&m.context("reading from Kafka")?)),
            _ = tokio::time::sleep_until(deadline) => break,
        }
    }
    Ok(batch)
}

/// A consumed message in the mapping's record shape.
fn to_record(m: &BorrowedMessage<'_>) -> MskRecord {
    let (timestamp, kind) = match m.timestamp() {
        Timestamp::CreateTime(t) => (t, Some("CREATE_TIME")),
        Timestamp::LogAppendTime(t) => (t, Some("LOG_APPEND_TIME")),
        Timestamp::NotAvailable => (-1, None),
    };
    let mut record = MskRecord::new(m.topic(), i64::from(m.partition()), m.offset(), timestamp, m.key(), m.payload());
    record.timestamp_type = kind.map(str::to_owned);
    if let Some(headers) = m.headers() {
        for h in headers.iter() {
            record = record.with_header(h.key, h.value.unwrap_or_default().to_vec());
        }
    }
    record
}

async fn check_reachable<C: Consumer + Send + Sync + 'static>(
    client: &C,
    brokers: &str,
    topic: &str,
) -> anyhow::Result<()> {
    let result = tokio::task::block_in_place(|| client.fetch_metadata(Some(topic), CONNECT_TIMEOUT));
    result.map(|_| ()).map_err(|e| anyhow!("Kafka broker unreachable at {brokers}: {e}"))
}

/// A producer for `replay --kafka`, checked against the broker before use.
pub async fn producer(brokers: &str, topic: &str) -> anyhow::Result<FutureProducer> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("message.timeout.ms", "30000")
        .set("linger.ms", "5")
        .set("log_level", "3")
        .create()
        .context("creating the Kafka producer")?;
    let checked = tokio::task::block_in_place(|| producer.client().fetch_metadata(Some(topic), CONNECT_TIMEOUT));
    checked.map_err(|e| anyhow!("Kafka broker unreachable at {brokers}: {e}"))?;
    Ok(producer)
}

/// Sends records (key, value) and waits until every one is acknowledged.
pub async fn produce_all(
    producer: &FutureProducer,
    topic: &str,
    records: &[(Option<String>, String)],
) -> anyhow::Result<()> {
    let mut pending = Vec::with_capacity(records.len());
    for (key, value) in records {
        let mut record = FutureRecord::to(topic).payload(value.as_bytes());
        if let Some(k) = key {
            record = record.key(k.as_bytes());
        }
        loop {
            match producer.send_result(record) {
                Ok(delivery) => {
                    pending.push(delivery);
                    break;
                }
                Err((
                    rdkafka::error::KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull),
                    r,
                )) => {
                    record = r;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err((e, _)) => return Err(anyhow!("producing to {topic}: {e}")),
            }
        }
    }
    for delivery in pending {
        match delivery.await {
            Ok(Ok(_)) => {}
            Ok(Err((e, _))) => return Err(anyhow!("producing to {topic}: {e}")),
            Err(_) => return Err(anyhow!("producing to {topic}: the producer went away")),
        }
    }
    Ok(())
}
