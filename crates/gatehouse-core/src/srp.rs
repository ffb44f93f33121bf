//! USER_SRP_AUTH: Secure Remote Password (SRP-6a) exactly as Cognito does it, so Amplify,
//! amazon-cognito-identity-js, pycognito and aws-cognito-srp sign in without sending the
//! password. `math` holds the arithmetic; this module holds the two round trips, the sealed
//! verifier and the SECRET_BLOCK. Device SRP (devices.rs) reuses `begin` / `check_claim`.

pub mod math;

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use crypto_bigint::U3072;
use gatehouse_store::{AppClient, AuthSession, User, UserPool, UserStatus};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::{
    required, session_context, session_data, sha256_hex, AuthOutcome, Challenge, SignInContext,
};
use crate::env::random_bytes;
use crate::error::{Error, Result};
use crate::Directory;

/// Where a user's sealed verifier lives in `User.extra`.
const VERIFIER_KEY: &str = "srp_verifier";
/// How far a TIMESTAMP may be from our clock, either way.
pub const TIMESTAMP_WINDOW_SECS: i64 = 300;
const TIMESTAMP_FORMAT_ERROR: &str =
    "TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english.";

fn wrong_password() -> Error {
    Error::not_authorized("Incorrect username or password.")
}

/// The part of the pool id after `_`: what the clients hash as the pool name.
pub fn pool_name(pool_id: &str) -> &str {
    pool_id.split_once('_').map_or(pool_id, |(_, n)| n)
}

/// A verifier and its salt (`padHex` bytes of the salt integer).
pub(crate) struct Verifier {
    pub salt: Vec<u8>,
    pub v: U3072,
}

impl Verifier {
    pub(crate) fn seal(&self, dir: &Directory, context: &str) -> Result<String> {
        let doc = json!({ "salt": hex::encode(&self.salt), "v": math::to_hex(&self.v) });
        dir.secrets
            .seal(doc.to_string().as_bytes(), context, &*dir.rng)
    }

    pub(crate) fn open(dir: &Directory, sealed: &str, context: &str) -> Result<Self> {
        let corrupt = || Error::Internal("a sealed SRP verifier is malformed".into());
        let doc: Value =
            serde_json::from_slice(&dir.secrets.open(sealed, context)?).map_err(|_| corrupt())?;
        let salt = doc
            .get("salt")
            .and_then(Value::as_str)
            .and_then(|s| hex::decode(s).ok())
            .ok_or_else(corrupt)?;
        let v = doc
            .get("v")
            .and_then(Value::as_str)
            .and_then(math::from_hex)
            .ok_or_else(corrupt)?;
        Ok(Self { salt, v })
    }
}

fn verifier_context(pool_id: &str, sub: &str) -> String {
    format!("srp-verifier/{pool_id}/{sub}")
}

/// Who an SRP exchange authenticates: the user, or one of the user's devices.
pub(crate) struct Party<'a> {
    pub pool_id: &'a str,
    /// The user's username (sessions are keyed by it).
    pub username: &'a str,
    /// What the signature hashes as the pool name: the pool name, or the device group key.
    pub name: &'a str,
    /// What the signature hashes as the user: USER_ID_FOR_SRP, or the device key.
    pub user_id: &'a str,
}

impl Party<'_> {
    fn binding(&self, expires: i64, big_b: &U3072) -> Vec<u8> {
        let mut out = b"GHSB1".to_vec();
        out.extend_from_slice(&expires.to_be_bytes());
        out.extend_from_slice(&Sha256::digest(math::pad(big_b)));
        for part in [self.pool_id, self.username, self.name, self.user_id] {
            out.extend_from_slice(part.as_bytes());
            out.push(0);
        }
        out
    }

    fn b_context(&self) -> String {
        format!("srp-b/{}/{}/{}", self.pool_id, self.username, self.user_id)
    }
}

const BLOCK_CONTEXT: &str = "srp-secret-block";

/// The server's half of a started exchange.
pub(crate) struct Started {
    pub big_b: U3072,
    pub expires: i64,
    /// What the session keeps: `b` sealed, A, B, the expiry.
    pub state: Value,
}

impl Started {
    pub(crate) fn big_b_hex(&self) -> String {
        math::to_hex(&self.big_b)
    }
}

/// SECRET_BLOCK plaintext: magic, the session token (so a PASSWORD_VERIFIER without Session
/// still finds its session, as on Cognito), then the binding to pool, user, B and expiry.
fn block_plaintext(token: &str, binding: &[u8]) -> Vec<u8> {
    let mut out = b"GHSB2".to_vec();
    let len = u16::try_from(token.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&token.as_bytes()[..usize::from(len)]);
    out.extend_from_slice(binding);
    out
}

/// Splits a SECRET_BLOCK plaintext into (session token, binding).
fn split_block(plain: &[u8]) -> Option<(&str, &[u8])> {
    let rest = plain.strip_prefix(b"GHSB2")?;
    if rest.len() < 2 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
    let rest = &rest[2..];
    if rest.len() < len {
        return None;
    }
    let token = std::str::from_utf8(&rest[..len]).ok()?;
    Some((token, &rest[len..]))
}

impl Directory {
    /// Computes and seals the user's SRP verifier for `password`.
    pub(crate) fn store_password_verifier(
        &self,
        pool: &UserPool,
        user: &mut User,
        password: &str,
    ) -> Result<()> {
        let salt = math::pad_bytes(&random_bytes::<16>(&*self.rng));
        let v = math::verifier(pool_name(&pool.id), &user.username, password, &salt);
        let sealed = Verifier { salt, v }.seal(self, &verifier_context(&pool.id, &user.sub))?;
        user.extra
            .insert(VERIFIER_KEY.to_string(), Value::String(sealed));
        Ok(())
    }

    fn user_verifier(&self, pool: &UserPool, user: &User) -> Result<Option<Verifier>> {
        match user.extra.get(VERIFIER_KEY).and_then(Value::as_str) {
            Some(sealed) => Ok(Some(Verifier::open(
                self,
                sealed,
                &verifier_context(&pool.id, &user.sub),
            )?)),
            None => Ok(None),
        }
    }

    /// Parses SRP_A and refuses `A mod N == 0`.
    pub(crate) fn client_public(a_hex: &str) -> Result<U3072> {
        let a = math::from_hex(a_hex)
            .ok_or_else(|| Error::invalid("SRP_A is not a valid hexadecimal number."))?;
        if math::reduce_client_public(&a).is_none() {
            return Err(Error::invalid("SRP_A is invalid: A mod N must not be 0."));
        }
        Ok(a)
    }

    /// Picks b, computes B for verifier `v` and seals what the second round trip needs.
    pub(crate) fn srp_begin(
        &self,
        party: &Party<'_>,
        a: &U3072,
        v: &U3072,
        expires: i64,
    ) -> Result<Started> {
        let b_bytes = random_bytes::<32>(&*self.rng);
        let b = math::secret_exponent(&b_bytes);
        let big_b = math::server_public(v, &b);
        let sealed_b = self
            .secrets
            .seal(&b_bytes, &party.b_context(), &*self.rng)?;
        Ok(Started {
            state: json!({
                "b": sealed_b,
                "A": math::to_hex(a),
                "B": math::to_hex(&big_b),
                "expires": expires,
            }),
            big_b,
            expires,
        })
    }

    /// The SECRET_BLOCK of a started exchange whose session is `token`.
    pub(crate) fn secret_block(
        &self,
        party: &Party<'_>,
        started: &Started,
        token: &str,
    ) -> Result<String> {
        let binding = party.binding(started.expires, &started.big_b);
        self.secrets
            .seal(&block_plaintext(token, &binding), BLOCK_CONTEXT, &*self.rng)
    }

    /// The session a PASSWORD_VERIFIER / DEVICE_PASSWORD_VERIFIER answer without Session
    /// belongs to, from its PASSWORD_CLAIM_SECRET_BLOCK.
    pub(crate) fn session_from_secret_block(
        &self,
        challenge_name: &str,
        responses: &BTreeMap<String, String>,
    ) -> Option<String> {
        if !matches!(
            challenge_name,
            "PASSWORD_VERIFIER" | "DEVICE_PASSWORD_VERIFIER"
        ) {
            return None;
        }
        let block = responses.get("PASSWORD_CLAIM_SECRET_BLOCK")?;
        if block.len() > 4096 {
            return None;
        }
        let plain = self.secrets.open(block, BLOCK_CONTEXT).ok()?;
        split_block(&plain).map(|(token, _)| token.to_string())
    }

    /// Checks PASSWORD_CLAIM_SIGNATURE against the exchange `state` began. Ok(false) is a wrong
    /// proof (a wrong password); malformed, stale or tampered claims are errors.
    pub(crate) fn check_claim(
        &self,
        party: &Party<'_>,
        state: &Value,
        v: &U3072,
        session_id_hash: &str,
        responses: &BTreeMap<String, String>,
    ) -> Result<bool> {
        let block = required(responses, "PASSWORD_CLAIM_SECRET_BLOCK")?;
        let timestamp = required(responses, "TIMESTAMP")?;
        let signature = required(responses, "PASSWORD_CLAIM_SIGNATURE")?;
        let ts = math::parse_timestamp(timestamp)
            .ok_or_else(|| Error::invalid(TIMESTAMP_FORMAT_ERROR))?;
        let corrupt = || Error::Internal("SRP session state is malformed".into());
        let field = |name: &str| state.get(name).and_then(Value::as_str).ok_or_else(corrupt);
        let expires = state
            .get("expires")
            .and_then(Value::as_i64)
            .ok_or_else(corrupt)?;
        let big_b = math::from_hex(field("B")?).ok_or_else(corrupt)?;
        let a = math::from_hex(field("A")?).ok_or_else(corrupt)?;

        // The block must be the one we issued for this exchange: it opens, names this session
        // and is bound to this pool, user, B and expiry.
        let opens = self
            .secrets
            .open(block, BLOCK_CONTEXT)
            .ok()
            .is_some_and(|plain| {
                split_block(&plain).is_some_and(|(token, binding)| {
                    let this_session: bool = sha256_hex(token)
                        .as_bytes()
                        .ct_eq(session_id_hash.as_bytes())
                        .into();
                    this_session && bool::from(binding.ct_eq(&party.binding(expires, &big_b)))
                })
            });
        if !opens || expires < self.now() {
            return Err(wrong_password());
        }
        if (self.now() - ts).abs() > TIMESTAMP_WINDOW_SECS {
            return Err(wrong_password());
        }
        let block_bytes = STANDARD.decode(block).map_err(|_| wrong_password())?;
        let b_bytes = self.secrets.open(field("b")?, &party.b_context())?;
        let b_bytes: [u8; 32] = b_bytes.try_into().map_err(|_| corrupt())?;
        let b = math::secret_exponent(&b_bytes);
        let key = math::session_key(&a, &big_b, v, &b).map_err(|_| wrong_password())?;
        let expected = STANDARD.encode(math::claim_signature(
            &key,
            party.name,
            party.user_id,
            &block_bytes,
            timestamp,
        ));
        Ok(expected.as_bytes().ct_eq(signature.as_bytes()).into())
    }

    /// InitiateAuth USER_SRP_AUTH: answers PASSWORD_VERIFIER.
    pub(crate) async fn srp_start(
        &self,
        pool: &UserPool,
        client: &AppClient,
        params: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome> {
        let username = required(params, "USERNAME")?;
        let a = Self::client_public(required(params, "SRP_A")?)?;
        let user = self
            .find_user_for_client(
                pool,
                client,
                username,
                params.get("SECRET_HASH").map(String::as_str),
            )
            .await?;
        let ctx = SignInContext::from_params(params);
        let expires = self.now() + i64::from(client.auth_session_validity_minutes) * 60;

        let (user, verifier, decoy) = match user {
            Some(user) => {
                if user.status == UserStatus::ResetRequired {
                    return Err(Error::PasswordResetRequired(
                        "Password reset required for the user".into(),
                    ));
                }
                self.check_lockout(&user)?;
                match self.user_verifier(pool, &user)? {
                    Some(v) => (user, v, false),
                    // A user without a verifier (no password yet) cannot prove one.
                    None => {
                        let v = self.decoy_verifier(pool, &user.username).await?;
                        (user, v, true)
                    }
                }
            }
            None => {
                if client.prevent_user_existence_errors != "ENABLED" {
                    return Err(Self::missing_user_error(client));
                }
                // Looks like a real user: the same lockout, a stable salt, a B, a session;
                // fails at the proof.
                self.check_unknown_lockout(pool, client, username)?;
                let v = self.decoy_verifier(pool, username).await?;
                (decoy_user(pool, username), v, true)
            }
        };
        let party = Party {
            pool_id: &pool.id,
            username: &user.username,
            name: pool_name(&pool.id),
            user_id: &user.username,
        };
        let started = self.srp_begin(&party, &a, &verifier.v, expires)?;
        let mut data = session_data(&ctx);
        if let Some(obj) = data.as_object_mut() {
            let mut state = started.state.clone();
            if let Some(s) = state.as_object_mut() {
                s.insert("decoy".into(), json!(decoy));
            }
            obj.insert("srp".into(), state);
        }
        let session = self
            .open_session(pool, client, &user, "PASSWORD_VERIFIER", data)
            .await?;
        let mut parameters = BTreeMap::new();
        parameters.insert("SALT".to_string(), hex::encode(&verifier.salt));
        parameters.insert("SRP_B".to_string(), started.big_b_hex());
        parameters.insert(
            "SECRET_BLOCK".to_string(),
            self.secret_block(&party, &started, &session)?,
        );
        parameters.insert("USER_ID_FOR_SRP".to_string(), user.username.clone());
        parameters.insert("USERNAME".to_string(), user.username.clone());
        Ok(AuthOutcome::Challenge(Challenge {
            name: "PASSWORD_VERIFIER".into(),
            session,
            parameters,
        }))
    }

    /// A verifier for a name that has none: a salt that stays the same for the name (keyed by
    /// a secret of the pool, so it cannot be predicted) and a random v.
    async fn decoy_verifier(&self, pool: &UserPool, username: &str) -> Result<Verifier> {
        let keys = self.store.signing_keys(&pool.id).await?;
        let secret = keys
            .iter()
            .min_by(|a, b| (a.created, &a.kid).cmp(&(b.created, &b.kid)))
            .map(|k| Sha256::digest(&k.private_pkcs8).to_vec())
            .unwrap_or_default();
        let mut mac = Hmac::<Sha256>::new_from_slice(&secret)
            .map_err(|_| Error::Internal("hmac key".into()))?;
        mac.update(b"gatehouse srp decoy salt\0");
        mac.update(pool.id.as_bytes());
        mac.update(b"\0");
        mac.update(Self::username_key(pool, username).as_bytes());
        let salt = math::pad_bytes(&mac.finalize().into_bytes()[..16]);
        let v = math::random_element(&random_bytes::<{ math::GROUP_BYTES }>(&*self.rng));
        Ok(Verifier { salt, v })
    }

    /// RespondToAuthChallenge PASSWORD_VERIFIER.
    pub(crate) async fn srp_respond(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: User,
        session: &AuthSession,
        responses: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome> {
        let state = session
            .data
            .get("srp")
            .ok_or_else(|| Error::not_authorized("Invalid session for the user."))?;
        let decoy = state.get("decoy").and_then(Value::as_bool).unwrap_or(true);
        let party = Party {
            pool_id: &pool.id,
            username: &user.username,
            name: pool_name(&pool.id),
            user_id: &user.username,
        };
        if decoy {
            let v = self.decoy_verifier(pool, &user.username).await?;
            self.check_claim(&party, state, &v.v, &session.id_hash, responses)?;
            self.record_failed_sign_in(&user).await?;
            return Err(wrong_password());
        }
        self.check_lockout(&user)?;
        let verifier = self
            .user_verifier(pool, &user)?
            .ok_or_else(wrong_password)?;
        if !self.check_claim(&party, state, &verifier.v, &session.id_hash, responses)? {
            self.record_failed_sign_in(&user).await?;
            return Err(wrong_password());
        }
        let mut ctx = session_context(&session.data);
        if let Some(key) = responses.get("DEVICE_KEY").filter(|k| !k.is_empty()) {
            ctx.device_key = Some(key.clone());
        }
        self.first_factor_passed(pool, client, user, ctx).await
    }

    /// RespondToAuthChallenge PASSWORD_VERIFIER for a session opened for a name that is no
    /// user (PreventUserExistenceErrors ENABLED): the same work, the wrong-password answer.
    pub(crate) async fn srp_respond_unknown(
        &self,
        pool: &UserPool,
        client: &AppClient,
        session: &AuthSession,
        responses: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome> {
        let state = session.data.get("srp").ok_or_else(|| {
            Error::not_authorized("Invalid session for the user, session is expired.")
        })?;
        let party = Party {
            pool_id: &pool.id,
            username: &session.username,
            name: pool_name(&pool.id),
            user_id: &session.username,
        };
        self.check_unknown_lockout(pool, client, &session.username)?;
        let v = self.decoy_verifier(pool, &session.username).await?;
        self.check_claim(&party, state, &v.v, &session.id_hash, responses)?;
        self.record_unknown_failure(pool, client, &session.username);
        Err(wrong_password())
    }
}

/// The stand-in a decoy session is opened for (only its username is used).
fn decoy_user(pool: &UserPool, username: &str) -> User {
    User {
        pool_id: pool.id.clone(),
        username: username.to_string(),
        sub: String::new(),
        status: UserStatus::Confirmed,
        enabled: true,
        password_hash: None,
        temporary_password_expires: None,
        attributes: BTreeMap::new(),
        created: 0,
        modified: 0,
        extra: BTreeMap::new(),
        version: 0,
    }
}
