//! Remembered devices, when the pool's DeviceConfiguration asks for them: NewDeviceMetadata at
//! sign-in, ConfirmDevice (the device's SRP verifier), DEVICE_SRP_AUTH /
//! DEVICE_PASSWORD_VERIFIER (SRP with the device group key as the "pool name" and the device
//! key as the user, as amazon-cognito-identity-js does), and the device management operations.

use std::collections::BTreeMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use gatehouse_store::{AppClient, AuthSession, Device, Page, StoreError, User, UserPool};
use serde_json::Value;

use crate::auth::{required, session_context, session_data, AuthOutcome, Challenge};
use crate::auth::{NewDeviceMetadata, SignInContext};
use crate::error::{Error, Result};
use crate::srp::{math, Party, Verifier};
use crate::Directory;

tokio::task_local! {
    /// The device key whose DEVICE_PASSWORD_VERIFIER proof this request has just checked.
    /// Only a device proven in the very request that finishes the sign-in may skip MFA or
    /// skip its own challenge; a DEVICE_KEY merely named by the client never does.
    static PROVEN_DEVICE: String;
}

/// How long an issued device may wait for ConfirmDevice before it is dropped.
const PENDING_DEVICE_SECS: i64 = 24 * 3600;
const LIST_LIMIT_MAX: i64 = 60;

/// The pool's DeviceConfiguration; None when the pool does not track devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceConfig {
    /// A remembered device signs in with device authentication instead of MFA.
    pub challenge_required_on_new_device: bool,
    /// Devices are remembered only when the user says so (UpdateDeviceStatus).
    pub only_remembered_on_user_prompt: bool,
}

pub fn device_config(pool: &UserPool) -> Option<DeviceConfig> {
    let c = pool.settings.get("DeviceConfiguration")?.as_object()?;
    let flag = |k: &str| c.get(k).and_then(Value::as_bool).unwrap_or(false);
    Some(DeviceConfig {
        challenge_required_on_new_device: flag("ChallengeRequiredOnNewDevice"),
        only_remembered_on_user_prompt: flag("DeviceOnlyRememberedOnUserPrompt"),
    })
}

fn proven(device_key: &str) -> bool {
    PROVEN_DEVICE.try_with(|k| k == device_key).unwrap_or(false)
}

fn device_not_found() -> Error {
    Error::ResourceNotFound("Device does not exist.".into())
}

fn verifier_context(pool_id: &str, sub: &str, device_key: &str) -> String {
    format!("device-verifier/{pool_id}/{sub}/{device_key}")
}

fn wrong_password() -> Error {
    Error::not_authorized("Incorrect username or password.")
}

/// A page of devices and where the next one starts.
#[derive(Debug, Clone)]
pub struct DevicePage {
    pub devices: Vec<Device>,
    pub pagination_token: Option<String>,
}

impl Directory {
    /// The user's confirmed device with this key.
    async fn confirmed_device(&self, user: &User, device_key: &str) -> Result<Option<Device>> {
        Ok(self
            .store
            .get_device(&user.pool_id, device_key)
            .await?
            .filter(|d| d.sub == user.sub && d.confirmed && d.verifier.is_some()))
    }

    /// A new device for the client to confirm, when the pool tracks devices.
    pub(crate) async fn new_device_metadata(
        &self,
        pool: &UserPool,
        _client: &AppClient,
        user: &User,
        ctx: &SignInContext,
    ) -> Result<Option<NewDeviceMetadata>> {
        if device_config(pool).is_none() {
            return Ok(None);
        }
        if let Some(key) = &ctx.device_key {
            if self.confirmed_device(user, key).await?.is_some() {
                return Ok(None);
            }
        }
        let region = pool.id.split_once('_').map_or("us-east-1", |(r, _)| r);
        let now = self.now();
        let device = Device {
            pool_id: pool.id.clone(),
            sub: user.sub.clone(),
            device_key: format!("{region}_{}", crate::env::random_uuid(&*self.rng)),
            device_group_key: format!("-{}", crate::env::random_alnum(&*self.rng, 9)),
            confirmed: false,
            remembered_status: None,
            verifier: None,
            attributes: BTreeMap::new(),
            created: now,
            modified: now,
            last_authenticated: None,
        };
        self.store
            .add_pending_device(&device, now - PENDING_DEVICE_SECS)
            .await?;
        Ok(Some(NewDeviceMetadata {
            device_key: device.device_key,
            device_group_key: device.device_group_key,
        }))
    }

    /// Whether this sign-in comes from a remembered device of the user that, as the pool's
    /// DeviceConfiguration says, lets it skip MFA. mfa.rs asks before challenging.
    pub(crate) async fn device_skips_mfa(
        &self,
        pool: &UserPool,
        user: &User,
        ctx: &SignInContext,
    ) -> Result<bool> {
        let Some(cfg) = device_config(pool) else {
            return Ok(false);
        };
        let Some(key) = &ctx.device_key else {
            return Ok(false);
        };
        if !cfg.challenge_required_on_new_device || !proven(key) {
            return Ok(false);
        }
        Ok(self
            .confirmed_device(user, key)
            .await?
            .is_some_and(|d| d.remembered_status.as_deref() == Some("remembered")))
    }

    /// After the first factor: a sign-in naming a confirmed device of the user must prove the
    /// device (DEVICE_SRP_AUTH) before the second factor.
    pub(crate) async fn device_challenge(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        ctx: &SignInContext,
    ) -> Result<Option<AuthOutcome>> {
        if device_config(pool).is_none() {
            return Ok(None);
        }
        let Some(key) = &ctx.device_key else {
            return Ok(None);
        };
        if proven(key) || self.confirmed_device(user, key).await?.is_none() {
            return Ok(None);
        }
        let session = self
            .open_session(pool, client, user, "DEVICE_SRP_AUTH", session_data(ctx))
            .await?;
        let mut parameters = BTreeMap::new();
        parameters.insert("USERNAME".to_string(), user.username.clone());
        Ok(Some(AuthOutcome::Challenge(Challenge {
            name: "DEVICE_SRP_AUTH".into(),
            session,
            parameters,
        })))
    }

    fn device_verifier(&self, device: &Device) -> Result<Verifier> {
        let sealed = device.verifier.as_deref().ok_or_else(device_not_found)?;
        Verifier::open(
            self,
            sealed,
            &verifier_context(&device.pool_id, &device.sub, &device.device_key),
        )
    }

    /// RespondToAuthChallenge DEVICE_SRP_AUTH / DEVICE_PASSWORD_VERIFIER.
    pub(crate) async fn device_respond(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: User,
        session: &AuthSession,
        responses: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome> {
        let ctx = session_context(&session.data);
        let key = ctx.device_key.clone().ok_or_else(device_not_found)?;
        if let Some(sent) = responses.get("DEVICE_KEY").filter(|k| !k.is_empty()) {
            if *sent != key {
                return Err(device_not_found());
            }
        }
        let device = self
            .confirmed_device(&user, &key)
            .await?
            .ok_or_else(device_not_found)?;
        let verifier = self.device_verifier(&device)?;
        let party = Party {
            pool_id: &pool.id,
            username: &user.username,
            name: &device.device_group_key,
            user_id: &device.device_key,
        };
        if session.challenge == "DEVICE_SRP_AUTH" {
            let a = Self::client_public(required(responses, "SRP_A")?)?;
            let expires = self.now() + i64::from(client.auth_session_validity_minutes) * 60;
            let started = self.srp_begin(&party, &a, &verifier.v, expires)?;
            let mut data = session_data(&ctx);
            if let Some(obj) = data.as_object_mut() {
                obj.insert("srp".into(), started.state.clone());
            }
            let session = self
                .open_session(pool, client, &user, "DEVICE_PASSWORD_VERIFIER", data)
                .await?;
            let mut parameters = BTreeMap::new();
            parameters.insert("SALT".to_string(), hex::encode(&verifier.salt));
            parameters.insert("SRP_B".to_string(), started.big_b_hex());
            parameters.insert(
                "SECRET_BLOCK".to_string(),
                self.secret_block(&party, &started, &session)?,
            );
            parameters.insert("USERNAME".to_string(), user.username.clone());
            parameters.insert("DEVICE_KEY".to_string(), key);
            return Ok(AuthOutcome::Challenge(Challenge {
                name: "DEVICE_PASSWORD_VERIFIER".into(),
                session,
                parameters,
            }));
        }

        let state = session.data.get("srp").ok_or_else(wrong_password)?;
        self.check_lockout(&user)?;
        if !self.check_claim(&party, state, &verifier.v, &session.id_hash, responses)? {
            self.record_failed_sign_in(&user).await?;
            return Err(wrong_password());
        }
        let mut device = device;
        device.last_authenticated = Some(self.now());
        self.store.put_device(&device).await?;
        PROVEN_DEVICE
            .scope(key, self.first_factor_passed(pool, client, user, ctx))
            .await
    }

    // ----- management -------------------------------------------------------------------

    /// ConfirmDevice: stores the device's verifier. Returns UserConfirmationNecessary.
    pub async fn confirm_device(
        &self,
        access_token: &str,
        device_key: &str,
        password_verifier: &str,
        salt: &str,
        device_name: Option<&str>,
    ) -> Result<bool> {
        let auth = self.authenticate_access_token(access_token).await?;
        let user = auth.user;
        let pool = self.pool(&user.pool_id).await?;
        let cfg = device_config(&pool).ok_or_else(device_not_found)?;
        let mut device = self
            .store
            .get_device(&pool.id, device_key)
            .await?
            .filter(|d| d.sub == user.sub)
            .ok_or_else(device_not_found)?;
        if device.confirmed {
            return Err(Error::invalid("Device is already confirmed."));
        }
        let bad =
            |what: &str| Error::invalid(format!("DeviceSecretVerifierConfig.{what} is invalid."));
        let v_bytes = STANDARD
            .decode(password_verifier)
            .map_err(|_| bad("PasswordVerifier"))?;
        let v = math::from_bytes(&v_bytes)
            .and_then(|v| math::reduce_client_public(&v).map(|r| (v, r)))
            .filter(|(v, r)| v == r)
            .map(|(v, _)| v)
            .ok_or_else(|| bad("PasswordVerifier"))?;
        let salt_bytes = STANDARD.decode(salt).map_err(|_| bad("Salt"))?;
        if salt_bytes.is_empty() || salt_bytes.len() > 256 {
            return Err(bad("Salt"));
        }
        let verifier = Verifier {
            salt: math::pad_bytes(&salt_bytes),
            v,
        };
        let now = self.now();
        device.verifier =
            Some(verifier.seal(self, &verifier_context(&pool.id, &user.sub, device_key))?);
        device.confirmed = true;
        device.remembered_status = Some(
            if cfg.only_remembered_on_user_prompt {
                "not_remembered"
            } else {
                "remembered"
            }
            .to_string(),
        );
        if let Some(name) = device_name.filter(|n| !n.is_empty()) {
            device
                .attributes
                .insert("device_name".into(), name.to_string());
        }
        device.modified = now;
        device.last_authenticated = Some(now);
        self.store.put_device(&device).await?;
        Ok(cfg.only_remembered_on_user_prompt)
    }

    async fn users_device(&self, user: &User, device_key: &str) -> Result<Device> {
        self.confirmed_device(user, device_key)
            .await?
            .ok_or_else(device_not_found)
    }

    async fn token_user(&self, access_token: &str) -> Result<User> {
        Ok(self.authenticate_access_token(access_token).await?.user)
    }

    pub async fn get_device(&self, access_token: &str, device_key: &str) -> Result<Device> {
        let user = self.token_user(access_token).await?;
        self.users_device(&user, device_key).await
    }

    pub async fn admin_get_device(
        &self,
        pool_id: &str,
        username: &str,
        device_key: &str,
    ) -> Result<Device> {
        let (_, user) = self.admin_user(pool_id, username).await?;
        self.users_device(&user, device_key).await
    }

    pub async fn forget_device(&self, access_token: &str, device_key: &str) -> Result<()> {
        let user = self.token_user(access_token).await?;
        self.forget(&user, device_key).await
    }

    pub async fn admin_forget_device(
        &self,
        pool_id: &str,
        username: &str,
        device_key: &str,
    ) -> Result<()> {
        let (_, user) = self.admin_user(pool_id, username).await?;
        self.forget(&user, device_key).await
    }

    async fn forget(&self, user: &User, device_key: &str) -> Result<()> {
        let device = self.users_device(user, device_key).await?;
        match self
            .store
            .delete_device(&device.pool_id, &device.device_key)
            .await
        {
            Ok(()) | Err(StoreError::NotFound) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn update_device_status(
        &self,
        access_token: &str,
        device_key: &str,
        status: Option<&str>,
    ) -> Result<()> {
        let user = self.token_user(access_token).await?;
        self.set_status(&user, device_key, status).await
    }

    pub async fn admin_update_device_status(
        &self,
        pool_id: &str,
        username: &str,
        device_key: &str,
        status: Option<&str>,
    ) -> Result<()> {
        let (_, user) = self.admin_user(pool_id, username).await?;
        self.set_status(&user, device_key, status).await
    }

    async fn set_status(&self, user: &User, device_key: &str, status: Option<&str>) -> Result<()> {
        let status = match status {
            Some(s @ ("remembered" | "not_remembered")) => s,
            None => "not_remembered",
            Some(other) => {
                return Err(Error::invalid(format!(
                    "1 validation error detected: Value '{other}' at 'deviceRememberedStatus' failed to satisfy constraint: Member must satisfy enum value set: [remembered, not_remembered]"
                )))
            }
        };
        let mut device = self.users_device(user, device_key).await?;
        device.remembered_status = Some(status.to_string());
        device.modified = self.now();
        self.store.put_device(&device).await?;
        Ok(())
    }

    pub async fn list_devices(
        &self,
        access_token: &str,
        limit: Option<i64>,
        pagination_token: Option<&str>,
    ) -> Result<DevicePage> {
        let user = self.token_user(access_token).await?;
        self.list(&user, limit, pagination_token).await
    }

    pub async fn admin_list_devices(
        &self,
        pool_id: &str,
        username: &str,
        limit: Option<i64>,
        pagination_token: Option<&str>,
    ) -> Result<DevicePage> {
        let (_, user) = self.admin_user(pool_id, username).await?;
        self.list(&user, limit, pagination_token).await
    }

    async fn list(
        &self,
        user: &User,
        limit: Option<i64>,
        pagination_token: Option<&str>,
    ) -> Result<DevicePage> {
        let limit = match limit {
            None | Some(0) => LIST_LIMIT_MAX,
            Some(n) if (1..=LIST_LIMIT_MAX).contains(&n) => n,
            Some(n) => {
                return Err(Error::invalid(format!(
                    "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to {LIST_LIMIT_MAX}"
                )))
            }
        };
        let after = match pagination_token {
            Some(t) => Some(
                URL_SAFE_NO_PAD
                    .decode(t)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| Error::invalid("Invalid pagination token"))?,
            ),
            None => None,
        };
        let limit = usize::try_from(limit).unwrap_or(60);
        let mut devices = self
            .store
            .list_devices(
                &user.pool_id,
                &user.sub,
                &Page {
                    limit: limit + 1,
                    after,
                },
            )
            .await?;
        let pagination_token = if devices.len() > limit {
            devices.truncate(limit);
            devices
                .last()
                .map(|d| URL_SAFE_NO_PAD.encode(d.device_key.as_bytes()))
        } else {
            None
        };
        Ok(DevicePage {
            devices,
            pagination_token,
        })
    }
}

/// DeviceAttributes as AWS shows them.
pub fn device_attributes(d: &Device) -> Vec<(String, String)> {
    let mut out = vec![("device_status".to_string(), "valid".to_string())];
    if let Some(name) = d.attributes.get("device_name") {
        out.push(("device_name".into(), name.clone()));
    }
    if let Some(s) = &d.remembered_status {
        out.push(("dev:device_remembered_status".into(), s.clone()));
    }
    for (k, v) in &d.attributes {
        if k != "device_name" {
            out.push((k.clone(), v.clone()));
        }
    }
    out
}
