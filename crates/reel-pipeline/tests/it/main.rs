//! Pipelines end to end in a temp workspace: retries, backfills, idempotent days, failing
//! expectations, reruns, the report interface, webhooks and the scheduler, on a manual clock.
#![allow(clippy::unwrap_used)]

mod runner;
mod scheduler;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use reel_common::{Workspace, WorkspaceConfig};
use reel_pipeline::Env;
use reel_pipeline::clock::ManualClock;
use reel_pipeline::dag::{self, Pipeline};
use reel_pipeline::run::Runner;

pub struct Ws {
    pub _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub env: Arc<Env>,
    pub clock: ManualClock,
}

pub async fn ws() -> Ws {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ws");
    let w = Workspace::init(&dir, WorkspaceConfig::default()).unwrap();
    std::fs::create_dir_all(dir.join("pipelines")).unwrap();
    std::fs::create_dir_all(dir.join("expectations")).unwrap();
    let env = Arc::new(Env::open(w).await.unwrap());
    let clock = ManualClock::at("2025-04-10T07:00:00Z".parse().unwrap());
    Ws { _tmp: tmp, dir, env, clock }
}

impl Ws {
    pub fn write(&self, rel: &str, text: &str) {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    pub fn pipeline(&self, name: &str, text: &str) -> Pipeline {
        self.write(&format!("pipelines/{name}.toml"), text);
        dag::load(&self.dir, name).unwrap()
    }

    pub fn runner(&self) -> Runner {
        Runner::new(self.env.clone(), Arc::new(self.clock.clone()))
    }

    /// Rows of a query, as text lines sorted.
    pub async fn rows(&self, sql: &str) -> Vec<String> {
        let s = reel_sql::SqlSession::try_new(&self.env.lake, None).await.unwrap();
        let r = s.query(sql).await.unwrap();
        let mut out = Vec::new();
        reel_sql::write_result(&r, reel_sql::OutputFormat::Csv, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines: Vec<String> = text.lines().skip(1).map(str::to_string).collect();
        lines.sort();
        lines
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}
