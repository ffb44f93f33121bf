//! Sign-out and revocation: GlobalSignOut, AdminUserGlobalSignOut, RevokeToken, and the check
//! every access-token operation (and the gateway) makes. (Being built: see issue 3.)

use crate::error::Result;
use crate::Directory;

impl Directory {
    /// Whether tokens descending from the refresh token `origin_jti` were revoked.
    pub async fn is_revoked(&self, _pool_id: &str, _origin_jti: &str) -> Result<bool> {
        Ok(false)
    }
}
