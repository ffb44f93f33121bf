//! Where a configuration is applied: the real directory and API service, or a throwaway
//! one on a temporary store (removed when dropped) that `config check` and the rehearsal
//! before every real apply use, so a file is judged by the very code that will apply it.

use std::sync::Arc;

use anyhow::Context;
use gatehouse_core::apis::ApiService;
use gatehouse_core::crypt::SecretBox;
use gatehouse_core::env::{OsRandom, Random, SystemClock};
use gatehouse_core::messages::Outbox;
use gatehouse_core::password::PasswordHasher;
use gatehouse_core::{Directory, DirectoryConfig};
use gatehouse_store::sqlite::SqliteStore;
use gatehouse_store::ApiStore;
use tracing::subscriber::NoSubscriber;

/// A directory and an API service to apply a file to.
#[derive(Clone)]
pub struct Target {
    pub dir: Arc<Directory>,
    pub apis: Arc<ApiService>,
}

pub struct Sandbox {
    pub target: Target,
    _dir: tempfile::TempDir,
}

impl Sandbox {
    /// A fresh store in a temporary directory, with the same region and public URL as the
    /// real one (pool ids and issuers are shaped by them).
    pub fn new(region: &str, public_url: &str) -> anyhow::Result<Sandbox> {
        let dir = tempfile::Builder::new()
            .prefix("gatehouse-config-")
            .tempdir()
            .context("creating a temporary directory to check the configuration in")?;
        // Quietly: its migrations are not the data dir's.
        let store = tracing::subscriber::with_default(NoSubscriber::default(), || {
            SqliteStore::open(&dir.path().join("sandbox.db"))
        });
        let store = Arc::new(store.context("opening the temporary store")?);
        let mut key = [0u8; 32];
        OsRandom.fill(&mut key);
        let directory = Directory::new(
            Arc::clone(&store) as _,
            // Cheap hashing: these passwords are only checked against the pool's policy.
            PasswordHasher::with_params(1, 1024, 1)?,
            Arc::new(Outbox::new(dir.path().join("outbox.jsonl"))),
            Arc::new(SystemClock),
            Arc::new(OsRandom),
            SecretBox::new(&key)?,
            DirectoryConfig {
                public_url: public_url.to_string(),
                region: region.to_string(),
                account_id: "000000000000".into(),
            },
        );
        let apis = ApiService::new(
            store as Arc<dyn ApiStore>,
            Arc::new(SystemClock),
            Arc::new(OsRandom),
            "localhost".into(),
        );
        Ok(Sandbox {
            target: Target {
                dir: Arc::new(directory),
                apis: Arc::new(apis),
            },
            _dir: dir,
        })
    }
}
