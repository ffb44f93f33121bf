//! USER_SRP_AUTH: Secure Remote Password (SRP-6a) exactly as Cognito does it, so Amplify,
//! amazon-cognito-identity-js and pycognito sign in without sending the password.
//! (Being built: see issue 3.)

use std::collections::BTreeMap;

use gatehouse_store::{AppClient, AuthSession, User, UserPool};

use crate::auth::AuthOutcome;
use crate::error::{Error, Result};
use crate::Directory;

impl Directory {
    /// Computes and seals the user's SRP verifier for `password`.
    pub(crate) fn store_password_verifier(
        &self,
        _pool: &UserPool,
        _user: &mut User,
        _password: &str,
    ) -> Result<()> {
        Ok(())
    }

    /// InitiateAuth USER_SRP_AUTH: answers PASSWORD_VERIFIER.
    pub(crate) async fn srp_start(
        &self,
        _pool: &UserPool,
        _client: &AppClient,
        _params: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome> {
        Err(Error::invalid("USER_SRP_AUTH is not available yet."))
    }

    /// RespondToAuthChallenge PASSWORD_VERIFIER.
    pub(crate) async fn srp_respond(
        &self,
        _pool: &UserPool,
        _client: &AppClient,
        _user: User,
        _session: &AuthSession,
        _responses: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome> {
        Err(Error::invalid("PASSWORD_VERIFIER is not available yet."))
    }
}
