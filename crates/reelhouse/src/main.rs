//! `reelhouse`: the command line. It parses flags, resolves the workspace, calls a library
//! crate and turns the outcome into an exit code. Nothing else lives here.
//!
//! Exit codes: 0 success, 1 nothing matched (or a gate refused), 2 error.

mod cli;
mod commands;
mod embedded;
mod progress;
mod render;
mod shipped;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_tracing(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info,datafusion=warn,deltalake=warn,sqlx=warn",
        2 => "debug,datafusion=info,deltalake=info,sqlx=info,h2=info,hyper=info",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("REELHOUSE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
