//! The master key that seals secrets at rest (SRP verifiers, TOTP secrets): from
//! `GATEHOUSE_MASTER_KEY` (base64 of 32 bytes, shared by every node of a cluster) or generated
//! once into `<data-dir>/master.key` (mode 0600).

use std::path::Path;

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use gatehouse_core::crypt::{SecretBox, KEY_LEN};
use gatehouse_core::env::{random_bytes, OsRandom};

pub const FILE_NAME: &str = "master.key";

fn decode(text: &str, origin: &str) -> anyhow::Result<[u8; KEY_LEN]> {
    let raw = STANDARD
        .decode(text.trim())
        .with_context(|| format!("{origin}: not base64"))?;
    match <[u8; KEY_LEN]>::try_from(raw.as_slice()) {
        Ok(k) => Ok(k),
        Err(_) => bail!("{origin}: the master key must be {KEY_LEN} bytes"),
    }
}

pub fn load(data_dir: &Path, from_env: Option<String>) -> anyhow::Result<SecretBox> {
    let key = if let Some(text) = from_env {
        decode(&text, "GATEHOUSE_MASTER_KEY")?
    } else {
        let path = data_dir.join(FILE_NAME);
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            decode(&text, &path.display().to_string())?
        } else {
            let key = random_bytes::<KEY_LEN>(&OsRandom);
            crate::admin_keys::write_private(&path, STANDARD.encode(key).as_bytes())?;
            tracing::info!(file = %path.display(), "generated the master key for secrets at rest");
            key
        }
    };
    Ok(SecretBox::new(&key)?)
}

/// The key an existing installation seals with, never a new one: `GATEHOUSE_MASTER_KEY` when
/// given, else `<data-dir>/master.key`. Also says where it came from (never the key itself).
pub fn load_existing(
    data_dir: &Path,
    from_env: Option<String>,
) -> anyhow::Result<(SecretBox, String)> {
    if let Some(text) = from_env {
        let key = decode(&text, "GATEHOUSE_MASTER_KEY")?;
        return Ok((SecretBox::new(&key)?, "GATEHOUSE_MASTER_KEY".into()));
    }
    let path = data_dir.join(FILE_NAME);
    if !path.is_file() {
        bail!(
            "no master key: {} does not exist and GATEHOUSE_MASTER_KEY is not set (give the key \
             the embedded server ran with)",
            path.display()
        );
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let key = decode(&text, &path.display().to_string())?;
    Ok((SecretBox::new(&key)?, path.display().to_string()))
}
