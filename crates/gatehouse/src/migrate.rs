//! `gatehouse migrate`: applies pending store migrations explicitly (they are also applied when
//! `serve` starts), or, with `--from DIR --to URL`, moves an embedded installation onto
//! PostgreSQL (the copy itself is `gatehouse_store::transfer`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use gatehouse_core::keys::KeyRing;
use gatehouse_store::sqlite::SqliteStore;
use gatehouse_store::{KeyStore, Page, PoolStore, Store};

use crate::backend::{self, redact};

#[derive(Args)]
pub struct MigrateArgs {
    /// The data dir whose embedded store to migrate (when no --database-url is given).
    #[arg(long, env = "GATEHOUSE_DATA_DIR", default_value = "./gatehouse-data")]
    data_dir: PathBuf,
    /// Migrate this PostgreSQL database instead of the embedded store.
    #[arg(long, env = "GATEHOUSE_DATABASE_URL")]
    database_url: Option<String>,
    /// PEM file of CA certificates trusted for PostgreSQL's TLS certificate (of --database-url
    /// or --to), besides the built-in roots (whether TLS is used is the URL's sslmode;
    /// certificates are always verified).
    #[arg(long, env = "GATEHOUSE_DATABASE_CA_FILE")]
    database_ca_file: Option<PathBuf>,
    /// Copy the embedded installation in this data dir (its server stopped)...
    #[arg(long, value_name = "DATA_DIR", requires = "to")]
    from: Option<PathBuf>,
    /// ...into this PostgreSQL database, which must hold no Gatehouse data yet.
    #[arg(long, value_name = "URL", requires = "from")]
    to: Option<String>,
    /// The key the embedded server sealed its secrets with, if it was not its data dir's
    /// master.key (base64 of 32 bytes).
    #[arg(long, env = "GATEHOUSE_MASTER_KEY", hide_env_values = true)]
    master_key: Option<String>,
}

pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    // Progress goes to stdout as plain lines; the stores' own logs only when asked for.
    if std::env::var_os("GATEHOUSE_LOG").is_some() {
        crate::serve::init_logging("text");
    }
    match (&args.from, &args.to) {
        (Some(from), Some(to)) => {
            copy(
                from,
                to,
                args.master_key.clone(),
                args.database_ca_file.as_deref(),
            )
            .await
        }
        _ => match args
            .database_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
        {
            Some(url) => {
                let pg = backend::connect_postgres(url, args.database_ca_file.as_deref()).await?;
                let version = pg.schema_version().await?;
                report(
                    &format!("PostgreSQL {}", redact(url)),
                    pg.migrations_applied_at_connect(),
                    version,
                );
                Ok(())
            }
            None => {
                let store = open_existing_sqlite(&args.data_dir)?;
                report(
                    &format!("embedded SQLite {}", store.path().display()),
                    store.migrations_applied_at_open(),
                    store.schema_version()?,
                );
                Ok(())
            }
        },
    }
}

fn report(what: &str, applied: &[i64], version: i64) {
    if applied.is_empty() {
        println!("{what}: up to date at schema version {version}, no migration pending");
    } else {
        println!(
            "{what}: applied migration{} {}; now at schema version {version}",
            if applied.len() == 1 { "" } else { "s" },
            list(applied)
        );
    }
}

fn list(versions: &[i64]) -> String {
    versions
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The data dir's store, which must exist: migrating a directory that holds none would only
/// create an empty one.
fn open_existing_sqlite(data_dir: &Path) -> anyhow::Result<SqliteStore> {
    let db = data_dir.join("gatehouse.db");
    if !db.is_file() {
        bail!(
            "no embedded store at {} (is {} the data dir of a Gatehouse installation?)",
            db.display(),
            data_dir.display()
        );
    }
    SqliteStore::open(&db).with_context(|| format!("opening {}", db.display()))
}

async fn copy(
    from: &Path,
    to: &str,
    master_key: Option<String>,
    ca_file: Option<&Path>,
) -> anyhow::Result<()> {
    let source = open_existing_sqlite(from)?;
    if !source.migrations_applied_at_open().is_empty() {
        println!(
            "source {}: applied migration(s) {} first",
            source.path().display(),
            list(source.migrations_applied_at_open())
        );
    }
    let (secrets, key_origin) = crate::master_key::load_existing(from, master_key)?;
    let secrets = Arc::new(secrets);
    let source = Arc::new(source);
    check_key_opens_source(&source, &secrets, &key_origin).await?;

    let target = backend::connect_postgres(to, ca_file).await?;
    if !target.migrations_applied_at_connect().is_empty() {
        println!(
            "target {}: applied migration(s) {}",
            redact(to),
            list(target.migrations_applied_at_connect())
        );
    }
    let check = backend::master_key_check_value(&secrets)?;
    let report = gatehouse_store::transfer::sqlite_to_postgres(
        &source,
        &target,
        &[(backend::MASTER_KEY_CHECK.to_string(), check)],
    )
    .await
    .with_context(|| format!("copying {} into {}", source.path().display(), redact(to)))?;

    println!(
        "copied {} into {} (one transaction, row counts verified):",
        source.path().display(),
        redact(to)
    );
    let width = report
        .tables
        .iter()
        .map(|(t, _)| t.len())
        .max()
        .unwrap_or(0);
    let mut total = 0u64;
    for (table, rows) in &report.tables {
        println!("  {table:<width$}  {rows:>10}");
        total += rows;
    }
    println!("  {:<width$}  {total:>10}", "total");
    for (name, previous) in &report.replaced_settings {
        if name == backend::MASTER_KEY_CHECK && !backend::master_key_opens_check(&secrets, previous)
        {
            println!(
                "warning: a node had already started on this database with another master key; \
                 restart every node with the key below"
            );
        }
    }
    let key_hint = if key_origin == "GATEHOUSE_MASTER_KEY" {
        "the GATEHOUSE_MASTER_KEY this command was given".to_string()
    } else {
        format!("the key in {key_origin}")
    };
    println!(
        "Start every node with --database-url {} and GATEHOUSE_MASTER_KEY set to {key_hint} \
         (base64, as it is in the file): passwords, MFA secrets and signing keys are sealed \
         with it. The admin credentials, config file and outbox stay in {}; give the nodes the \
         same admin keys (GATEHOUSE_ADMIN_ACCESS_KEY_ID / GATEHOUSE_ADMIN_SECRET_ACCESS_KEY or \
         the config file).",
        redact(to),
        from.display()
    );
    Ok(())
}

/// Refuses a master key that does not open what the source sealed (every pool's signing keys):
/// copied with a wrong key, the PostgreSQL nodes would accept that key and then fail to sign.
async fn check_key_opens_source(
    source: &Arc<SqliteStore>,
    secrets: &Arc<gatehouse_core::crypt::SecretBox>,
    key_origin: &str,
) -> anyhow::Result<()> {
    let keys = KeyRing::new(Arc::clone(source) as Arc<dyn Store>, Arc::clone(secrets));
    let mut page = Page {
        limit: 100,
        after: None,
    };
    loop {
        let pools = source.list_pools(&page).await?;
        for pool in &pools {
            if source.signing_keys(&pool.id).await?.is_empty() {
                continue;
            }
            if keys.keys(&pool.id).await.is_err() {
                bail!(
                    "the master key from {key_origin} does not open the signing keys of pool {} \
                     in the source: give GATEHOUSE_MASTER_KEY the key the embedded server ran with",
                    pool.id
                );
            }
        }
        match pools.last() {
            Some(last) if pools.len() == page.limit => page.after = Some(last.id.clone()),
            _ => return Ok(()),
        }
    }
}
