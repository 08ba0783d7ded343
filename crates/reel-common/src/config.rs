//! The workspace: a folder with a `reelhouse.toml` naming the lake root and the catalog.
//!
//! Reading is two steps, as everywhere in reelhouse: [`WorkspaceConfig`] is the file as
//! written (plain values, checked), [`Workspace`] resolves it against the folder (relative
//! paths made absolute, URLs built) so later steps never guess.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The name of the workspace's config file.
pub const CONFIG_FILE: &str = "reelhouse.toml";

/// `reelhouse.toml` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceConfig {
    /// Where the Delta tables live.
    pub lake: LakeConfig,
    /// Where table metadata and lineage live.
    pub catalog: CatalogConfig,
    /// How `reelhouse serve` runs (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serve: Option<ServeConfig>,
}

/// The `[serve]` section: settings of `reelhouse serve` (flags override them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Address to listen on, e.g. `127.0.0.1:8080`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// The environment variable holding the bearer token of the write routes
    /// (`/events`, promote). Preferred to `token`: the file then holds no secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// The bearer token itself (keep the file private if you use it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The model whose champion answers `/predict` (a rating model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predict_model: Option<String>,
    /// The model whose champion answers `/recommend` and `/similar`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommend_model: Option<String>,
    /// Seconds between polls of the registry for a new champion (0 = never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_seconds: Option<f64>,
    /// The lake table events are appended to (`raw.events`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_table: Option<String>,
}

/// The `[lake]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LakeConfig {
    /// A folder (relative to the workspace) or `s3://bucket/prefix`.
    pub root: String,
    /// Options for `s3://` roots; credentials come from the usual AWS environment variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Config>,
}

/// The `[lake.s3]` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// Endpoint URL of an S3-compatible store (MinIO, Ceph, R2, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// AWS region; defaults to `AWS_REGION` or `us-east-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Allow plain `http://` endpoints (local test stores).
    #[serde(default)]
    pub allow_http: bool,
}

/// The `[catalog]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogConfig {
    /// `sqlite://FILE` (relative to the workspace) or `postgres://user:pass@host/db`.
    pub url: String,
}

impl Default for WorkspaceConfig {
    fn default() -> Self {
        Self {
            lake: LakeConfig {
                root: "lake".into(),
                s3: None,
            },
            catalog: CatalogConfig {
                url: "sqlite://catalog.db".into(),
            },
            serve: None,
        }
    }
}

impl WorkspaceConfig {
    /// Parses and checks the text of a config file.
    pub fn from_toml(path: &Path, text: &str) -> Result<Self> {
        let cfg: WorkspaceConfig = toml::from_str(text).map_err(|e| Error::BadConfig {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        cfg.check(path)?;
        Ok(cfg)
    }

    fn check(&self, path: &Path) -> Result<()> {
        let bad = |message: String| Error::BadConfig {
            path: path.to_path_buf(),
            message,
        };
        if self.lake.root.trim().is_empty() {
            return Err(bad("lake.root is empty; set it to a folder such as \"lake\" or to s3://bucket/prefix".into()));
        }
        if let Some((scheme, _)) = self.lake.root.split_once("://") {
            if !matches!(scheme, "s3" | "s3a" | "file" | "memory") {
                return Err(bad(format!(
                    "lake.root {:?} uses the scheme {scheme:?}; use a folder, file://, memory:// or s3://",
                    self.lake.root
                )));
            }
        }
        let url = &self.catalog.url;
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(bad(format!(
                "catalog.url {url:?} is neither sqlite://FILE nor postgres://user:pass@host/db"
            )));
        }
        Ok(())
    }

    /// The file text `reelhouse init` writes, with comments for the options.
    pub fn to_commented_toml(&self) -> String {
        let mut s = String::from("# reelhouse workspace. Docs: docs/lake.md\n\n[lake]\n");
        s.push_str("# A folder relative to this file, or s3://bucket/prefix (credentials from the usual\n");
        s.push_str("# AWS_* environment variables).\n");
        s.push_str(&format!("root = {:?}\n", self.lake.root));
        match &self.lake.s3 {
            Some(s3) => {
                s.push_str("\n[lake.s3]\n");
                if let Some(e) = &s3.endpoint {
                    s.push_str(&format!("endpoint = {e:?}\n"));
                }
                if let Some(r) = &s3.region {
                    s.push_str(&format!("region = {r:?}\n"));
                }
                s.push_str(&format!("allow_http = {}\n", s3.allow_http));
            }
            None => {
                s.push_str("# For S3-compatible stores:\n# [lake.s3]\n# endpoint = \"http://127.0.0.1:9000\"\n# region = \"us-east-1\"\n# allow_http = true\n");
            }
        }
        s.push_str("\n[catalog]\n# sqlite://FILE (relative to this file) or postgres://user:pass@host/db\n");
        s.push_str(&format!("url = {:?}\n", self.catalog.url));
        match &self.serve {
            Some(sv) => {
                s.push_str("\n[serve]\n");
                s.push_str(&toml::to_string(sv).unwrap_or_default());
            }
            None => {
                s.push_str("\n# reelhouse serve (docs/serving.md); flags override these.\n# [serve]\n");
                s.push_str("# addr = \"127.0.0.1:8080\"\n# token_env = \"REELHOUSE_SERVE_TOKEN\"   # bearer token of /events and promote\n");
                s.push_str("# predict_model = \"recommender\"\n# recommend_model = \"recommender\"\n# poll_seconds = 5\n# events_table = \"raw.events\"\n");
            }
        }
        s
    }
}

/// A workspace found on disk, its config resolved against its folder.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The folder holding `reelhouse.toml` (absolute).
    pub dir: PathBuf,
    /// The config as written.
    pub config: WorkspaceConfig,
}

impl Workspace {
    /// Finds the workspace at `start` or the nearest parent holding `reelhouse.toml`.
    pub fn discover(start: &Path) -> Result<Self> {
        let start = absolute(start)?;
        let mut dir = start.as_path();
        loop {
            let file = dir.join(CONFIG_FILE);
            if file.is_file() {
                return Self::open(dir);
            }
            match dir.parent() {
                Some(p) => dir = p,
                None => return Err(Error::NoWorkspace { dir: start.clone() }),
            }
        }
    }

    /// Opens the workspace in exactly `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let dir = absolute(dir)?;
        let file = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&file).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NoWorkspace { dir: dir.clone() },
            _ => Error::Io {
                action: "reading",
                path: file.clone(),
                source: e,
            },
        })?;
        let config = WorkspaceConfig::from_toml(&file, &text)?;
        Ok(Self { dir, config })
    }

    /// Creates `dir` (if needed) and writes its `reelhouse.toml`. Refuses to overwrite one.
    pub fn init(dir: &Path, config: WorkspaceConfig) -> Result<Self> {
        let dir = absolute(dir)?;
        let file = dir.join(CONFIG_FILE);
        config.check(&file)?;
        if file.exists() {
            return Err(Error::AlreadyInitialised { path: file });
        }
        std::fs::create_dir_all(&dir).map_err(|e| Error::Io {
            action: "creating",
            path: dir.clone(),
            source: e,
        })?;
        std::fs::write(&file, config.to_commented_toml()).map_err(|e| Error::Io {
            action: "writing",
            path: file.clone(),
            source: e,
        })?;
        Ok(Self { dir, config })
    }

    /// The lake root as a URL or absolute path: `s3://...`, `memory://` or `/abs/folder`.
    pub fn lake_root(&self) -> String {
        let root = &self.config.lake.root;
        if root.contains("://") {
            root.trim_end_matches('/').to_string()
        } else {
            self.dir.join(root).to_string_lossy().trim_end_matches('/').to_string()
        }
    }

    /// The catalog database URL, a relative SQLite path made absolute (and created on demand).
    pub fn catalog_url(&self) -> String {
        let url = &self.config.catalog.url;
        if let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            if path == ":memory:" {
                return "sqlite::memory:".into();
            }
            let p = Path::new(path);
            let abs = if p.is_absolute() { p.to_path_buf() } else { self.dir.join(p) };
            let query = if query.is_empty() { "mode=rwc".to_string() } else { query.to_string() };
            format!("sqlite://{}?{query}", abs.to_string_lossy())
        } else {
            url.clone()
        }
    }
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| Error::Io {
        action: "resolving",
        path: p.to_path_buf(),
        source: e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_then_discover_from_a_subfolder() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = Workspace::init(tmp.path(), WorkspaceConfig::default()).unwrap();
        let sub = tmp.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        let found = Workspace::discover(&sub).unwrap();
        assert_eq!(found.dir, ws.dir);
        assert_eq!(found.config, WorkspaceConfig::default());
        assert!(found.lake_root().ends_with("/lake"));
        assert!(found.catalog_url().starts_with("sqlite:///"));
        assert!(found.catalog_url().ends_with("catalog.db?mode=rwc"));
    }

    #[test]
    fn init_refuses_to_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        Workspace::init(tmp.path(), WorkspaceConfig::default()).unwrap();
        let err = Workspace::init(tmp.path(), WorkspaceConfig::default()).unwrap_err();
        assert!(err.to_string().contains("already"), "{err}");
    }

    #[test]
    fn missing_workspace_says_how_to_create_one() {
        let tmp = tempfile::tempdir().unwrap();
        let err = Workspace::discover(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("reelhouse init"), "{err}");
    }

    #[test]
    fn s3_and_postgres_configs_parse() {
        let text = r#"
[lake]
root = "s3://bucket/prefix/"
[lake.s3]
endpoint = "http://127.0.0.1:9000"
allow_http = true
[catalog]
url = "postgres://u:p@localhost/reel"
"#;
        let cfg = WorkspaceConfig::from_toml(Path::new("x.toml"), text).unwrap();
        let ws = Workspace { dir: "/w".into(), config: cfg };
        assert_eq!(ws.lake_root(), "s3://bucket/prefix");
        assert_eq!(ws.catalog_url(), "postgres://u:p@localhost/reel");
        assert!(ws.config.lake.s3.as_ref().unwrap().allow_http);
    }

    #[test]
    fn bad_configs_are_refused_with_the_reason() {
        for (text, needle) in [
            ("[lake]\nroot = \"gs://x\"\n[catalog]\nurl = \"sqlite://c.db\"\n", "scheme"),
            ("[lake]\nroot = \"lake\"\n[catalog]\nurl = \"mysql://x\"\n", "postgres"),
            ("[lake]\nroot = \"lake\"\n", "catalog"),
            ("[lake]\nroot = \"lake\"\nfoo = 1\n[catalog]\nurl = \"sqlite://c.db\"\n", "foo"),
        ] {
            let err = WorkspaceConfig::from_toml(Path::new("x.toml"), text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn serve_section_parses_and_round_trips() {
        let text = "[lake]\nroot = \"lake\"\n[catalog]\nurl = \"sqlite://c.db\"\n[serve]\naddr = \"127.0.0.1:9000\"\ntoken_env = \"TOK\"\npoll_seconds = 2.5\n";
        let cfg = WorkspaceConfig::from_toml(Path::new("x"), text).unwrap();
        let sv = cfg.serve.clone().unwrap();
        assert_eq!(sv.addr.as_deref(), Some("127.0.0.1:9000"));
        assert_eq!(sv.token_env.as_deref(), Some("TOK"));
        assert_eq!(sv.poll_seconds, Some(2.5));
        assert_eq!(WorkspaceConfig::from_toml(Path::new("x"), &cfg.to_commented_toml()).unwrap(), cfg);
        let err = WorkspaceConfig::from_toml(Path::new("x"), &format!("{text}tokn = \"x\"\n")).unwrap_err().to_string();
        assert!(err.contains("tokn"), "{err}");
    }

    #[test]
    fn commented_toml_round_trips() {
        let mut cfg = WorkspaceConfig::default();
        cfg.lake.s3 = Some(S3Config { endpoint: Some("http://h:9000".into()), region: None, allow_http: true });
        let text = cfg.to_commented_toml();
        assert_eq!(WorkspaceConfig::from_toml(Path::new("x"), &text).unwrap(), cfg);
        let text = WorkspaceConfig::default().to_commented_toml();
        assert_eq!(WorkspaceConfig::from_toml(Path::new("x"), &text).unwrap(), WorkspaceConfig::default());
    }
}
