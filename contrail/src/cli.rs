//! The command line: every command and flag here is public interface (documented in
//! docs/local-stack.md).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Contrail's local stack: the pipeline's Lambda handlers on one machine, no cloud, no Docker.
#[derive(Debug, Parser)]
#[command(name = "contrail", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (authorizer included) and the web board, and feed ingest from the flight simulator
    /// or a Kafka topic.
    Up(UpArgs),
    /// Run one function's handler once on an event file and print its response as JSON.
    Invoke(InvokeArgs),
    /// Print a bearer token that the local authorizer accepts.
    Token(TokenArgs),
    /// Send flight events from a JSON Lines file through ingest (or to a Kafka topic).
    Replay(ReplayArgs),
    /// Bring the database schema up to date.
    Migrate(DbArgs),
    /// Inspect the local dead-letter table.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// Replay the local dead letters through the ingest path; those that store are removed.
    Redrive(RedriveArgs),
    /// Check the ingest ledger: per partition the offsets accounted for, the gaps and the redeliveries;
    /// with --kafka also against the topic's own records. Exit status 1 on a gap or a mismatch.
    Audit(AuditArgs),
}

/// The database flag every command that opens it shares.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Database URL: `sqlite://PATH` or `postgres://...` [env: DATABASE_URL] [default:
    /// sqlite://.contrail/contrail.db]
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct BatchArgs {
    /// Most records per ingest invocation (the event source mapping's BatchSize; at most 10,000).
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch_size: u32,
    /// Longest wait for a batch to fill, in milliseconds (MaximumBatchingWindowInSeconds).
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub batch_window: u64,
}

#[derive(Debug, Clone, Args)]
pub struct KafkaArgs {
    /// Kafka bootstrap servers (host:port,...): consume this broker instead of running the simulator.
    #[arg(long, value_name = "BROKERS")]
    pub kafka: Option<String>,
    /// Topic to consume.
    #[arg(long, value_name = "TOPIC", default_value = crate::settings::DEFAULT_TOPIC, requires = "kafka")]
    pub topic: String,
    /// Consumer group; offsets are committed only after ingest succeeded for the batch.
    #[arg(long, value_name = "GROUP", default_value = "contrail-local", requires = "kafka")]
    pub group: String,
}

#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    /// Address to serve the API and the web board on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub db: DbArgs,
    /// Feed nothing: serve what the database holds.
    #[arg(long, conflicts_with_all = ["rate", "kafka", "seed", "positions_every"])]
    pub no_simulate: bool,
    /// Simulator events per second.
    #[arg(long, value_name = "EVENTS_PER_SECOND", default_value_t = 50.0, conflicts_with = "kafka")]
    pub rate: f64,
    /// Simulator seed: the same seed gives the same flights and events (for one start day).
    #[arg(long, value_name = "N", conflicts_with = "kafka")]
    pub seed: Option<u64>,
    /// Airborne flights report their position every MINUTES (default: twice in cruise), the mix of a real
    /// feed, where status changes are rare.
    #[arg(long, value_name = "MINUTES", conflicts_with = "kafka", value_parser = positive_minutes)]
    pub positions_every: Option<f64>,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    #[command(flatten)]
    pub batch: BatchArgs,
    /// Print each request's and batch's X-Ray subsegments (database, AWS and JWKS calls) as it ends.
    #[arg(long)]
    pub trace: bool,
}

/// The functions `invoke` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Function {
    Ingest,
    Query,
    Authorizer,
    Redrive,
}

#[derive(Debug, Clone, Args)]
pub struct InvokeArgs {
    /// The function whose handler runs.
    #[arg(value_enum)]
    pub function: Function,
    /// The event file (JSON), e.g. one of events/*.json.
    #[arg(long, value_name = "FILE")]
    pub event: PathBuf,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// The `sub` claim.
    #[arg(long, value_name = "SUBJECT", default_value = "local-developer")]
    pub sub: String,
    /// Space-separated scopes (`scope` claim).
    #[arg(long, value_name = "SCOPES", default_value = "flights:read")]
    pub scope: String,
    /// Lifetime in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=31_536_000))]
    pub ttl: u64,
}

#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// JSON Lines file: one flight-event/v1 object per line (`-` reads standard input).
    pub file: PathBuf,
    /// Most records per ingest invocation (at most 10,000).
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch_size: u32,
    #[arg(long, value_name = "URL", conflicts_with = "kafka")]
    /// Database URL [env: DATABASE_URL] [default: sqlite://.contrail/contrail.db]
    pub database_url: Option<String>,
    /// Produce the events to this Kafka broker (keyed by flight id) instead of ingesting them.
    #[arg(long, value_name = "BROKERS")]
    pub kafka: Option<String>,
    /// Topic to produce to.
    #[arg(long, value_name = "TOPIC", default_value = crate::settings::DEFAULT_TOPIC, requires = "kafka")]
    pub topic: String,
}

#[derive(Debug, Clone, Subcommand)]
pub enum DlqCommand {
    /// List dead letters, oldest first, one JSON object per line.
    List {
        /// Most letters to list.
        #[arg(long, value_name = "N", default_value_t = 100)]
        limit: u32,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, Clone, Args)]
pub struct RedriveArgs {
    /// Validate and count without writing or deleting anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Most letters to examine.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max: u32,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Also read the topic from these Kafka bootstrap servers: watermarks, the offsets present, and each
    /// ledger range's count and checksum recomputed from its records.
    #[arg(long, value_name = "BROKERS")]
    pub kafka: Option<String>,
    /// The topic audited (with --kafka, the one read).
    #[arg(long, value_name = "TOPIC", default_value = crate::settings::DEFAULT_TOPIC)]
    pub topic: String,
    /// Only ledger rows committed at or after this time (RFC 3339).
    #[arg(long, value_name = "RFC3339", value_parser = rfc3339_time)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only this partition (repeatable).
    #[arg(long = "partition", value_name = "N")]
    pub partitions: Vec<i64>,
    /// One JSON object per partition, one per line.
    #[arg(long)]
    pub json: bool,
}

fn rfc3339_time(raw: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("not an RFC 3339 time ({e}), e.g. 2026-12-01T00:00:00Z"))
}

/// Minutes between position reports: a positive number up to a day.
fn positive_minutes(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(m) if (0.1..=1440.0).contains(&m) => Ok(m),
        _ => Err(format!("{raw:?} is not a number of minutes from 0.1 to 1440")),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn kafka_and_the_simulator_exclude_each_other() {
        assert!(Cli::try_parse_from(["contrail", "up", "--kafka", "b:9092", "--rate", "5"]).is_err());
        assert!(Cli::try_parse_from(["contrail", "up", "--no-simulate", "--rate", "5"]).is_err());
        assert!(Cli::try_parse_from(["contrail", "up", "--positions-every", "0"]).is_err());
        assert!(Cli::try_parse_from(["contrail", "up", "--kafka", "b:9092", "--positions-every", "1"]).is_err());
        assert!(Cli::try_parse_from(["contrail", "up", "--positions-every", "1.5"]).is_ok());
        assert!(Cli::try_parse_from(["contrail", "up", "--topic", "t"]).is_err());
        assert!(Cli::try_parse_from(["contrail", "up", "--kafka", "b:9092", "--topic", "t", "--group", "g"]).is_ok());
        assert!(Cli::try_parse_from(["contrail", "up", "--batch-size", "10001"]).is_err());
    }
}
