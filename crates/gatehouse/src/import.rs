//! `gatehouse user import`: bulk-loads users from a CSV in Cognito's user-import format, into
//! the embedded store or the PostgreSQL database of `--database-url`.

use std::sync::Arc;

use anyhow::Context;
use gatehouse_core::env::{OsRandom, SystemClock};
use gatehouse_core::messages::Outbox;
use gatehouse_core::password::PasswordHasher;
use gatehouse_core::{Directory, DirectoryConfig};

use crate::ImportArgs;

pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    crate::serve::init_logging("text");
    let backend = crate::backend::Backend::open(
        &args.data_dir,
        args.database_url.as_deref(),
        args.database_ca_file.as_deref(),
        None,
    )
    .await?;
    let secrets = crate::master_key::load(&args.data_dir, args.master_key.clone())?;
    backend.check_master_key(&secrets).await?;
    let directory = Directory::new(
        Arc::clone(&backend.store),
        PasswordHasher::new(1)?,
        Arc::new(Outbox::new(args.data_dir.join("outbox.jsonl"))),
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        secrets,
        DirectoryConfig {
            public_url: String::new(),
            region: String::new(),
            account_id: String::new(),
        },
    )
    .with_announcer(backend.announcer());
    let mut reader = csv::Reader::from_path(&args.file)
        .with_context(|| format!("opening {}", args.file.display()))?;
    let header: Vec<String> = reader.headers()?.iter().map(str::to_string).collect();
    let mut batch = Vec::with_capacity(1000);
    let mut total = 0usize;
    for (line, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("reading row {}", line + 2))?;
        let row: Vec<(String, String)> = header
            .iter()
            .cloned()
            .zip(record.iter().map(str::to_string))
            .collect();
        batch.push(row);
        if batch.len() == 1000 {
            total += directory
                .import_users(&args.pool_id, std::mem::take(&mut batch))
                .await
                .with_context(|| format!("importing rows up to {}", line + 2))?;
        }
    }
    total += directory.import_users(&args.pool_id, batch).await?;
    println!("imported {total} users into {}", args.pool_id);
    Ok(())
}
