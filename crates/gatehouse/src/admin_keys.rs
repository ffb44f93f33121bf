//! The access keys that admin (SigV4-signed) operations are verified against: from the
//! environment, or generated once into the data dir (mode 0600).

use std::path::Path;

use anyhow::Context;
use gatehouse_core::env::{random_alnum, OsRandom};
use gatehouse_sigv4::Credentials;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Stored {
    access_key_id: String,
    secret_access_key: String,
}

pub const FILE_NAME: &str = "admin-credentials.json";

pub fn load(
    data_dir: &Path,
    id: Option<String>,
    secret: Option<String>,
) -> anyhow::Result<Vec<Credentials>> {
    if let (Some(access_key_id), Some(secret_access_key)) = (id, secret) {
        tracing::info!(%access_key_id, "admin access key from the environment");
        return Ok(vec![Credentials {
            access_key_id,
            secret_access_key,
        }]);
    }
    let path = data_dir.join(FILE_NAME);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let s: Stored =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        tracing::info!(access_key_id = %s.access_key_id, file = %path.display(), "admin access key from the data dir");
        return Ok(vec![Credentials {
            access_key_id: s.access_key_id,
            secret_access_key: s.secret_access_key,
        }]);
    }
    let s = Stored {
        access_key_id: format!("AKGH{}", random_alnum(&OsRandom, 16).to_uppercase()),
        secret_access_key: random_alnum(&OsRandom, 40),
    };
    let text = serde_json::to_string_pretty(&s)?;
    write_private(&path, text.as_bytes())?;
    tracing::warn!(
        access_key_id = %s.access_key_id,
        file = %path.display(),
        "no admin key configured: generated one; the secret is in the file (mode 0600)"
    );
    Ok(vec![Credentials {
        access_key_id: s.access_key_id,
        secret_access_key: s.secret_access_key,
    }])
}

pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}
