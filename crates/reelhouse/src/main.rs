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
            eprintln!("error: {}", render_error(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, joined by ": " like anyhow's `{:#}`, skipping a cause whose text
/// the messages before it already hold (most of our errors print their source inline, so
/// `{:#}` would say "No such file or directory" twice).
fn render_error(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.is_empty() {
            out = text;
        } else if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::render_error;

    /// Like our crates' errors: the source printed inline and returned by `source()`.
    #[derive(Debug)]
    struct Inline {
        path: String,
        source: std::io::Error,
    }

    impl std::fmt::Display for Inline {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "cannot write {}: {}", self.path, self.source)
        }
    }

    impl std::error::Error for Inline {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }

    #[test]
    fn a_cause_printed_inline_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let e = anyhow::Error::new(Inline { path: "r/x.svg".into(), source: io }).context("drawing the chart");
        assert_eq!(render_error(&e), "drawing the chart: cannot write r/x.svg: No such file or directory");
    }

    #[test]
    fn a_cause_not_in_the_message_is_appended() {
        let e = anyhow::anyhow!("disk full").context("writing the table").context("ingest");
        assert_eq!(render_error(&e), "ingest: writing the table: disk full");
    }
}
