//! `gatehouse backup FILE`: a consistent copy of the embedded store, taken while `serve` keeps
//! running (`VACUUM INTO`, see gatehouse_store::sqlite::vacuum_into for why), and
//! `gatehouse restore FILE`: puts such a copy in place as a data dir's store. The master key is
//! not in the database, so neither command touches it; both say so.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use gatehouse_store::sqlite::{inspect, vacuum_into, DatabaseSummary};

const DB_FILE: &str = "gatehouse.db";

#[derive(Args)]
pub struct BackupArgs {
    /// Where to write the backup (replaced atomically if it exists).
    file: PathBuf,
    /// The data dir of the installation to back up.
    #[arg(long, env = "GATEHOUSE_DATA_DIR", default_value = "./gatehouse-data")]
    data_dir: PathBuf,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// A file written by `gatehouse backup`.
    file: PathBuf,
    /// The data dir to restore into (its server stopped).
    #[arg(long, env = "GATEHOUSE_DATA_DIR", default_value = "./gatehouse-data")]
    data_dir: PathBuf,
    /// Replace the data dir's existing store.
    #[arg(long)]
    force: bool,
}

fn describe(s: &DatabaseSummary) -> String {
    format!(
        "schema version {}: {} pools, {} users, {} app clients, {} HTTP APIs, {} REST APIs",
        s.schema_version, s.pools, s.users, s.clients, s.http_apis, s.rest_apis
    )
}

/// A new, empty, mode-0600 file beside `dest` (so the final rename stays on one filesystem).
fn temp_beside(dest: &Path) -> anyhow::Result<tempfile::NamedTempFile> {
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    tempfile::Builder::new()
        .prefix(".gatehouse-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))
}

/// Flushes the file's contents, renames it over `dest`, and flushes the directory entry.
fn persist(tmp: tempfile::NamedTempFile, dest: &Path) -> anyhow::Result<()> {
    std::fs::File::open(tmp.path())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("flushing {}", tmp.path().display()))?;
    set_private(tmp.path())?;
    let file = tmp
        .persist(dest)
        .with_context(|| format!("writing {}", dest.display()))?;
    drop(file);
    if let Some(dir) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        // Best effort: some filesystems cannot open a directory for syncing.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(unix)]
fn set_private(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting {}", path.display()))
}

#[cfg(not(unix))]
fn set_private(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}

pub async fn run_backup(args: BackupArgs) -> anyhow::Result<()> {
    let db = args.data_dir.join(DB_FILE);
    if !db.is_file() {
        bail!(
            "no embedded store at {} (is {} the data dir of a Gatehouse installation?)",
            db.display(),
            args.data_dir.display()
        );
    }
    if args.file.is_dir() {
        bail!(
            "{} is a directory: name the backup file",
            args.file.display()
        );
    }
    let tmp = temp_beside(&args.file)?;
    let (db2, tmp_path) = (db.clone(), tmp.path().to_path_buf());
    tokio::task::spawn_blocking(move || vacuum_into(&db2, &tmp_path))
        .await
        .context("backup task")?
        .with_context(|| format!("backing up {}", db.display()))?;
    let summary = inspect(tmp.path()).context("checking the backup")?;
    persist(tmp, &args.file)?;
    println!(
        "backed up {} to {} (mode 0600; {})",
        db.display(),
        args.file.display(),
        describe(&summary)
    );
    println!(
        "The backup does not contain the master key ({}, or the GATEHOUSE_MASTER_KEY the server \
         runs with): it is needed to use the backup (passwords, MFA secrets and signing keys are \
         sealed with it), so keep it safe, apart from the backup.",
        args.data_dir.join(crate::master_key::FILE_NAME).display()
    );
    Ok(())
}

pub async fn run_restore(args: RestoreArgs) -> anyhow::Result<()> {
    let summary = inspect(&args.file)
        .with_context(|| format!("{} is not a usable backup", args.file.display()))?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating data dir {}", args.data_dir.display()))?;
    let db = args.data_dir.join(DB_FILE);
    if db.exists() && !args.force {
        bail!(
            "{} already exists: stop its server and pass --force to replace it",
            db.display()
        );
    }
    let tmp = temp_beside(&db)?;
    std::fs::copy(&args.file, tmp.path())
        .with_context(|| format!("copying {}", args.file.display()))?;
    // The old store's write-ahead log must not be replayed into the restored file.
    for suffix in ["-wal", "-shm"] {
        let side = args.data_dir.join(format!("{DB_FILE}{suffix}"));
        match std::fs::remove_file(&side) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", side.display())),
        }
    }
    persist(tmp, &db)?;
    println!(
        "restored {} into {} ({})",
        args.file.display(),
        db.display(),
        describe(&summary)
    );
    let key = args.data_dir.join(crate::master_key::FILE_NAME);
    if !key.is_file() && std::env::var_os("GATEHOUSE_MASTER_KEY").is_none() {
        println!(
            "warning: {} does not exist: copy the backed-up installation's master.key there (or \
             set GATEHOUSE_MASTER_KEY) before starting the server; with a new key it cannot open \
             the passwords, MFA secrets and signing keys",
            key.display()
        );
    }
    Ok(())
}
