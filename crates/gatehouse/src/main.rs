//! `gatehouse`: the command line. `serve` runs everything; the other commands are operator
//! tools over the same store.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)
)]

mod admin_keys;
mod backend;
mod backup;
mod config;
mod http_server;
mod import;
mod master_key;
mod metrics;
mod migrate;
mod serve;

/// mimalloc: per-thread free lists suit the data plane's many short-lived allocations per
/// request (glibc malloc with its consolidations was ~13% of its user-space time).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "A self-hosted secure API gateway with a built-in user directory"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the control and gateway listeners.
    Serve(Box<serve::ServeArgs>),
    /// Operator commands on users.
    #[command(subcommand)]
    User(UserCommand),
    /// The declarative configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Apply pending store migrations (`serve` does too at start), or with --from/--to copy an
    /// embedded installation into PostgreSQL.
    Migrate(migrate::MigrateArgs),
    /// A consistent backup of the embedded store, taken while the server runs.
    Backup(backup::BackupArgs),
    /// Put a backup in place as a data dir's embedded store (stop the server first).
    Restore(backup::RestoreArgs),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file without touching any data dir: prints every problem
    /// with its location and exits 1, or exits 0 when the file is valid.
    Check(config::check::CheckArgs),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Import users from a CSV file in the Cognito user-import format (as an import job does:
    /// users arrive in RESET_REQUIRED state without a password).
    Import(ImportArgs),
}

#[derive(Args)]
pub struct ImportArgs {
    #[arg(long, env = "GATEHOUSE_DATA_DIR", default_value = "./gatehouse-data")]
    data_dir: PathBuf,
    /// Import into this PostgreSQL database instead of the data dir's embedded store.
    #[arg(long, env = "GATEHOUSE_DATABASE_URL")]
    database_url: Option<String>,
    /// PEM file of CA certificates trusted for PostgreSQL's TLS certificate, besides the built-in
    /// roots (whether TLS is used is the URL's sslmode; certificates are always verified).
    #[arg(long, env = "GATEHOUSE_DATABASE_CA_FILE")]
    database_ca_file: Option<PathBuf>,
    /// Base64 of the 32-byte key the installation seals secrets with (default: the data dir's).
    #[arg(long, env = "GATEHOUSE_MASTER_KEY", hide_env_values = true)]
    master_key: Option<String>,
    #[arg(long)]
    pool_id: String,
    /// CSV with a header row: cognito:username and attribute names.
    file: PathBuf,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gatehouse: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(*args).await,
            Command::User(UserCommand::Import(args)) => import::run(args).await,
            Command::Config(ConfigCommand::Check(args)) => config::check::run(args).await,
            Command::Migrate(args) => migrate::run(args).await,
            Command::Backup(args) => backup::run_backup(args).await,
            Command::Restore(args) => backup::run_restore(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatehouse: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
