use std::process::ExitCode;

use clap::Parser as _;
use contrail::cli::{Cli, Command};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(matches!(cli.command, Command::Up(_)));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(contrail::commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs on stderr: `info` for `up`, warnings only for one-shot commands (their output is the result);
/// `RUST_LOG` overrides both.
fn init_tracing(serving: bool) {
    let default = if serving { "info,sqlx=warn,rdkafka=warn" } else { "warn,sqlx=error" };
    let filter = contrail_shared::telemetry::log_filter(std::env::var("RUST_LOG").ok().as_deref(), default);
    let _ = tracing_subscriber::fmt()
        // fmt's own cap is INFO: lifted, so that the filter alone decides.
        .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .finish()
        .with(filter)
        .try_init();
}
