//! An opened workspace: its lake and its catalog.
use reel_catalog::Catalog;
use reel_common::Workspace;
use reel_lake::Lake;

use crate::Result;

/// A workspace with its lake and catalog open, shared by every task of a run.
#[derive(Debug)]
pub struct Env {
    /// The workspace folder and config.
    pub workspace: Workspace,
    /// The Delta lake.
    pub lake: Lake,
    /// The catalog database.
    pub catalog: Catalog,
}

impl Env {
    /// Opens the lake and connects to the catalog (creating the catalog's tables if new).
    pub async fn open(workspace: Workspace) -> Result<Self> {
        let lake = Lake::try_new(&workspace.lake_root(), workspace.config.lake.s3.as_ref())?;
        let catalog = Catalog::connect(&workspace.catalog_url()).await?;
        Ok(Self { workspace, lake, catalog })
    }
}
