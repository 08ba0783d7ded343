//! The interactive SQL shell: history, multi-line statements ending in `;`, dot commands.
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use rustyline::error::ReadlineError;

use crate::{write_result, OutputFormat, Result, SqlSession};

const HELP: &str = "\
Statements end with ';' and may span lines. Tables are zone.name, e.g. clean.ratings.
  .tables          list the tables
  .schema TABLE    show a table's columns
  .format FORMAT   table | csv | json
  .timer on|off    print how long each statement took
  .help            this text
  .quit            leave (Ctrl-D works too)";

/// What the shell does with one line of input.
#[derive(Debug, PartialEq)]
enum Step {
    /// Keep reading: the statement is not finished.
    More,
    /// Run this statement.
    Run(String),
    /// A dot command.
    Dot(String),
    /// Nothing to do (blank line).
    Nothing,
}

/// Accumulates lines into statements.
#[derive(Debug, Default)]
struct LineBuffer {
    pending: String,
}

impl LineBuffer {
    fn push(&mut self, line: &str) -> Step {
        let trimmed = line.trim();
        if self.pending.is_empty() {
            if trimmed.is_empty() {
                return Step::Nothing;
            }
            if trimmed.starts_with('.') {
                return Step::Dot(trimmed.to_string());
            }
        }
        if !self.pending.is_empty() {
            self.pending.push('\n');
        }
        self.pending.push_str(line);
        if trimmed.ends_with(';') {
            let stmt = std::mem::take(&mut self.pending);
            let stmt = stmt.trim().trim_end_matches(';').trim().to_string();
            if stmt.is_empty() { Step::Nothing } else { Step::Run(stmt) }
        } else {
            Step::More
        }
    }
}

/// Runs the shell until `.quit` or end of input. History goes to `history` when given.
pub async fn run_shell(session: &SqlSession, history: Option<PathBuf>, mut format: OutputFormat) -> Result<()> {
    let mut rl = rustyline::DefaultEditor::new().map_err(|e| shell_io(&e.to_string()))?;
    if let Some(h) = &history {
        let _ = rl.load_history(h); // a missing history file is normal on first use
    }
    if format == OutputFormat::Parquet {
        format = OutputFormat::Table;
    }
    let mut timer = false;
    let mut buf = LineBuffer::default();
    println!("reelhouse SQL shell: {} tables. Type .help for help, .quit to leave.", session.table_names().len());
    loop {
        let prompt = if buf.pending.is_empty() { "reel> " } else { "  ..> " };
        let line = match rl.readline(prompt) {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => {
                buf.pending.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(shell_io(&e.to_string())),
        };
        match buf.push(&line) {
            Step::More | Step::Nothing => {}
            Step::Dot(cmd) => {
                let _ = rl.add_history_entry(cmd.as_str());
                let mut parts = cmd.split_whitespace();
                match (parts.next().unwrap_or(""), parts.next()) {
                    (".quit" | ".exit", _) => break,
                    (".help", _) => println!("{HELP}"),
                    (".tables", _) => {
                        for t in session.table_names() {
                            println!("{t}");
                        }
                    }
                    (".schema", Some(t)) => match session.schema_of(t).await {
                        Ok(schema) => {
                            for f in schema.fields() {
                                let null = if f.is_nullable() { "" } else { " not null" };
                                println!("  {} {}{null}", f.name(), f.data_type());
                            }
                        }
                        Err(e) => eprintln!("error: {e}"),
                    },
                    (".schema", None) => eprintln!("usage: .schema TABLE, e.g. .schema clean.ratings"),
                    (".format", Some(f)) => match f.parse::<OutputFormat>() {
                        Ok(OutputFormat::Parquet) => eprintln!("parquet needs a file: use `reelhouse sql \"...\" --format parquet --out FILE`"),
                        Ok(f) => format = f,
                        Err(e) => eprintln!("error: {e}"),
                    },
                    (".timer", Some(v)) => timer = v == "on",
                    (other, _) => eprintln!("unknown command {other}; type .help"),
                }
            }
            Step::Run(stmt) => {
                let _ = rl.add_history_entry(format!("{stmt};"));
                let start = Instant::now();
                match session.query(&stmt).await {
                    Ok(result) => {
                        let mut out = std::io::stdout().lock();
                        if let Err(e) = write_result(&result, format, &mut out) {
                            eprintln!("error: {e}");
                        }
                        let _ = out.flush();
                        if timer {
                            eprintln!("{} rows in {:.3} s", result.num_rows(), start.elapsed().as_secs_f64());
                        }
                    }
                    Err(e) => eprintln!("error: {e}"),
                }
            }
        }
    }
    if let Some(h) = &history {
        let _ = rl.save_history(h); // losing history is not worth failing the session over
    }
    Ok(())
}

fn shell_io(msg: &str) -> crate::Error {
    crate::Error::Io {
        path: "<terminal>".into(),
        source: std::io::Error::other(msg.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_span_lines_until_a_semicolon() {
        let mut b = LineBuffer::default();
        assert_eq!(b.push("SELECT *"), Step::More);
        assert_eq!(b.push("FROM clean.ratings"), Step::More);
        assert_eq!(b.push("LIMIT 1;"), Step::Run("SELECT *\nFROM clean.ratings\nLIMIT 1".into()));
        assert_eq!(b.push(""), Step::Nothing);
        assert_eq!(b.push(" .tables "), Step::Dot(".tables".into()));
        assert_eq!(b.push(";"), Step::Nothing);
    }

    #[test]
    fn a_dot_inside_a_statement_is_sql() {
        let mut b = LineBuffer::default();
        assert_eq!(b.push("SELECT r.rating"), Step::More);
        assert_eq!(b.push(".5 FROM t;"), Step::Run("SELECT r.rating\n.5 FROM t".into()));
    }
}
