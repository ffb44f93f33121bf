//! Multi-factor authentication: the pool's MFA configuration, TOTP software tokens, SMS and
//! email one-time codes, and the challenges they add to sign-in. (Being built: see issue 3.)

use std::collections::BTreeMap;

use gatehouse_store::{AppClient, AuthSession, User, UserPool};

use crate::auth::{AuthOutcome, SignInContext};
use crate::error::{Error, Result};
use crate::Directory;

impl Directory {
    /// The MFA challenge this sign-in must pass, if any.
    pub(crate) async fn mfa_challenge(
        &self,
        _pool: &UserPool,
        _client: &AppClient,
        _user: &User,
        _ctx: &SignInContext,
    ) -> Result<Option<AuthOutcome>> {
        Ok(None)
    }

    /// RespondToAuthChallenge for the MFA challenges.
    pub(crate) async fn mfa_respond(
        &self,
        _pool: &UserPool,
        _client: &AppClient,
        _user: User,
        _session: &AuthSession,
        _responses: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome> {
        Err(Error::invalid("MFA is not available yet."))
    }
}
