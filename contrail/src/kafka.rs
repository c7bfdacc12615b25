//! A real Kafka broker as the source: a consumer in a group reads the topic, batches go through the
//! ingest handler as MSK events, and offsets are committed only after the handler succeeded for the
//! batch, so a crash or a failing batch is read again rather than lost. And the producer `replay
//! --kafka` uses.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
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

/// What every client of the local stack shares: the brokers, and librdkafka's own log limited to errors (its
/// warnings about a broker coming and going would drown the stack's lines).
fn client(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers).set("log_level", "3");
    config
}

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
    let consumer: StreamConsumer = client(brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .set("session.timeout.ms", "10000")
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
    let producer: FutureProducer = client(brokers)
        .set("message.timeout.ms", "30000")
        .set("linger.ms", "5")
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

/// Reads every record `topic` holds on the partitions asked for (all when empty), from the low watermark to
/// the high one, for `audit --kafka`: offsets, keys and values, with each partition's watermarks. Runs on a
/// blocking thread (librdkafka's own poll loop), with a progress line on stderr.
pub async fn read_topic(
    brokers: &str,
    topic: &str,
    partitions: &[i64],
) -> anyhow::Result<BTreeMap<(String, i64), contrail_shared::ledger::TopicPartition>> {
    let (brokers, topic, partitions) = (brokers.to_owned(), topic.to_owned(), partitions.to_vec());
    tokio::task::spawn_blocking(move || read_topic_blocking(&brokers, &topic, &partitions))
        .await
        .context("the topic reader stopped")?
}

fn read_topic_blocking(
    brokers: &str,
    topic: &str,
    wanted: &[i64],
) -> anyhow::Result<BTreeMap<(String, i64), contrail_shared::ledger::TopicPartition>> {
    use contrail_shared::ledger::TopicPartition;
    use rdkafka::consumer::BaseConsumer;
    use rdkafka::error::KafkaError;

    let consumer: BaseConsumer = client(brokers)
        .set("group.id", "contrail-audit")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        // Retention moving the low watermark after it was read must fail the audit, not skip to the end.
        .set("auto.offset.reset", "error")
        .create()
        .context("creating the Kafka consumer")?;
    let metadata = consumer
        .fetch_metadata(Some(topic), CONNECT_TIMEOUT)
        .map_err(|e| anyhow!("Kafka broker unreachable at {brokers}: {e}"))?;
    let listed = metadata.topics().iter().find(|t| t.name() == topic).ok_or_else(|| anyhow!("no topic {topic}"))?;
    if let Some(e) = listed.error() {
        bail!("topic {topic}: {e:?}");
    }
    let mut out = BTreeMap::new();
    let mut tpl = TopicPartitionList::new();
    let mut total = 0u64;
    for p in listed.partitions() {
        let id = i64::from(p.id());
        if !wanted.is_empty() && !wanted.contains(&id) {
            continue;
        }
        let (low, high) = consumer
            .fetch_watermarks(topic, p.id(), CONNECT_TIMEOUT)
            .with_context(|| format!("reading the watermarks of {topic}-{id}"))?;
        out.insert(
            (topic.to_owned(), id),
            TopicPartition { low_watermark: low, high_watermark: high, records: Vec::new() },
        );
        if high > low {
            tpl.add_partition_offset(topic, p.id(), Offset::Offset(low)).context("building the assignment")?;
            total += (high - low) as u64;
        }
    }
    if let Some(missing) = wanted.iter().find(|w| !out.contains_key(&(topic.to_owned(), **w))) {
        bail!("topic {topic} has no partition {missing}");
    }
    let open = tpl.count();
    let mut finished = std::collections::HashSet::new();
    consumer.assign(&tpl).context("assigning the partitions")?;
    let mut progress = crate::progress::Progress::new("audit", total);
    // Each assigned partition ends at the high watermark read above (or at its end-of-partition event, when
    // the last offsets hold no record): records written since are left for the next audit.
    while finished.len() < open {
        match consumer.poll(READ_IDLE_TIMEOUT) {
            None => bail!(
                "no record from {topic} for {READ_IDLE_TIMEOUT:?}; {} partition(s) unfinished",
                open - finished.len()
            ),
            Some(Err(KafkaError::PartitionEOF(p))) => {
                finished.insert(p);
            }
            Some(Err(e)) => return Err(anyhow!(e).context(format!("reading {topic}"))),
            Some(Ok(m)) => {
                let Some(side) = out.get_mut(&(topic.to_owned(), i64::from(m.partition()))) else { continue };
                if m.offset() >= side.high_watermark {
                    // Written after the audit began: the partition is read up to where it began.
                    finished.insert(m.partition());
                    continue;
                }
                if finished.contains(&m.partition()) {
                    continue;
                }
                side.records.push((m.offset(), m.key().map(<[u8]>::to_vec), m.payload().map(<[u8]>::to_vec)));
                progress.advance(1);
                if m.offset() + 1 >= side.high_watermark {
                    finished.insert(m.partition());
                }
            }
        }
    }
    progress.finish();
    Ok(out)
}

/// How long the audit's reader waits for the next record before giving up on the broker.
const READ_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
