//! The report pack: named SQL reports over the lake with parameters, their charts
//! (plotters: SVG and PNG) and a self-contained HTML page of all of them.
//!
//! ```text
//!   ReportId + --param k=v --check--> ValidParams --sql--> SqlSession (DataFusion)
//!        |                                                      |
//!        '-- chart(Table) <----------------- rows (Table) <-----'
//!               |                                 |
//!               '--> SVG / PNG file               '--> table | CSV | JSON
//!   run_all --> html::render(runs, catalog facts) --> DIR/index.html (inline SVG + CSS)
//! ```
//!
//! The reports and their SQL are in [`report`]; the counting rule (a movie is one release
//! for its company, however many genres it has) is explained there and in docs/reports.md.
//!
//! ```no_run
//! # async fn demo(lake: reel_lake::Lake) -> reel_report::Result<()> {
//! use reel_report::{ReportId, ReportParams};
//! let id: ReportId = "top-rated".parse()?;
//! let session = reel_sql::SqlSession::try_new_for(&lake, &reel_report::tables_of(&[id])).await?;
//! let params = ReportParams::new().with("min_votes", "100");
//! let run = reel_report::run(&session, id, &params).await?;
//! println!("{} rows in {:.3} s", run.table.len(), run.seconds);
//! run.chart.write_file(std::path::Path::new("top-rated.svg"))?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod chart;
mod error;
pub mod html;
pub mod params;
pub mod report;
mod run;
mod table;

pub use chart::{Chart, Series, human};
pub use error::{Error, Result};
pub use params::{ParamKind, ParamSpec, ReportParams, ValidParams};
pub use report::{ALL, Dataset, ReportId};
pub use run::{ReportRun, Skipped, check_tables, run, run_all, tables_of};
pub use table::Table;
