//! Shared vocabulary of reelhouse: lake zones, table names, the run day `ds`, run ids and
//! the workspace configuration (`reelhouse.toml`).
//!
//! Every other crate speaks in these types, so a table is always addressed the same way:
//!
//! ```text
//!   "clean.ratings" --parse--> TableRef { zone: Zone::Clean, name: "ratings" }
//!   lake root + TableRef ----> <root>/clean/ratings   (a Delta table)
//! ```
//!
//! ```
//! use reel_common::{TableRef, Zone};
//! let t: TableRef = "clean.ratings".parse().unwrap();
//! assert_eq!(t.zone, Zone::Clean);
//! assert_eq!(t.to_string(), "clean.ratings");
//! ```
#![deny(missing_docs)]

pub mod config;
pub mod duration;
mod error;
mod ids;
pub mod template;

pub use config::{CatalogConfig, LakeConfig, S3Config, ServeConfig, Workspace, WorkspaceConfig, CONFIG_FILE};
pub use error::{Error, Result};
pub use ids::{Ds, RunId, TableRef, Zone};
