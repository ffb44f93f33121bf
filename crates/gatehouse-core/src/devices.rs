//! Remembered devices: NewDeviceMetadata, ConfirmDevice, DEVICE_SRP_AUTH and the device
//! management operations. (Being built: see issue 3.)

use std::collections::BTreeMap;

use gatehouse_store::{AppClient, AuthSession, User, UserPool};

use crate::auth::{AuthOutcome, NewDeviceMetadata, SignInContext};
use crate::error::{Error, Result};
use crate::Directory;

impl Directory {
    /// A new device for the client to confirm, when the pool tracks devices.
    pub(crate) async fn new_device_metadata(
        &self,
        _pool: &UserPool,
        _client: &AppClient,
        _user: &User,
        _ctx: &SignInContext,
    ) -> Result<Option<NewDeviceMetadata>> {
        Ok(None)
    }

    /// Whether this sign-in comes from a remembered device of the user that, as the pool's
    /// DeviceConfiguration says, lets it skip MFA. mfa.rs asks before challenging.
    pub(crate) async fn device_skips_mfa(
        &self,
        _pool: &UserPool,
        _user: &User,
        _ctx: &SignInContext,
    ) -> Result<bool> {
        Ok(false)
    }

    /// RespondToAuthChallenge DEVICE_SRP_AUTH / DEVICE_PASSWORD_VERIFIER.
    pub(crate) async fn device_respond(
        &self,
        _pool: &UserPool,
        _client: &AppClient,
        _user: User,
        _session: &AuthSession,
        _responses: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome> {
        Err(Error::invalid(
            "Device authentication is not available yet.",
        ))
    }
}
