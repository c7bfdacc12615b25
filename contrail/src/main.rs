use std::process::ExitCode;

use clap::Parser as _;
use contrail::cli::{Cli, Command};
use contrail_shared::telemetry::LogSettings;
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
    let settings = LogSettings {
        level: std::env::var("RUST_LOG").ok(),
        default: if serving { "info,sqlx=warn,rdkafka=warn" } else { "warn,sqlx=error" },
        json: false,
        ansi: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let _ = contrail_shared::telemetry::subscriber(&settings, std::io::stderr).try_init();
}
