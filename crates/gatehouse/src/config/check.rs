//! `gatehouse config check FILE`: reads the file and applies it to a throwaway store, touching
//! no data dir; prints every problem with its location (exit 1) or what the file declares.

use std::path::PathBuf;

use clap::Args;

use super::{apply, process_env, ConfigFile, Sandbox};

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The configuration file: TOML (`.toml`), JSON (`.json`) or YAML (`.yaml`, `.yml`).
    pub file: PathBuf,
    /// The region the server runs in (pool ids in the file must start with it).
    #[arg(long, env = "GATEHOUSE_REGION", default_value = "us-east-1")]
    pub region: String,
    /// The public URL the server runs at (it shapes the issuers references resolve to).
    #[arg(
        long,
        env = "GATEHOUSE_PUBLIC_URL",
        default_value = "http://127.0.0.1:9229"
    )]
    pub public_url: String,
}

pub async fn run(args: CheckArgs) -> anyhow::Result<()> {
    let file = ConfigFile::load(&args.file, &args.region, &process_env)?;
    let sandbox = Sandbox::new(&args.region, &args.public_url)?;
    let summary = apply(&file, &sandbox.target, None, &process_env).await?;
    for w in &summary.warnings {
        println!("warning: {w}");
    }
    println!("{}: OK ({})", args.file.display(), file.counts());
    Ok(())
}
