//! The sign-in itself: `/oauth2/authorize` and `/login` (show the page, or finish at once with
//! a live hosted session), the password form, the challenge pages (new password, MFA), and
//! `/logout`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use gatehouse_core::auth::Challenge;
use gatehouse_core::mfa::TokenSetupAuth;
use gatehouse_core::oauth::{AuthorizeError, HostedStep, OAuthSettings};
use gatehouse_core::store::User;
use gatehouse_core::Error;

use super::context::{self, name_kind, password_hint, raw, text, user_message, Ctx};
use super::cookies;
use super::pages::{self, Notice, Pending, SignIn};
use super::response;
use super::Hosted;

type H = State<Arc<Hosted>>;

fn has_prompt(ctx: &Ctx, value: &str) -> bool {
    ctx.grant
        .prompt
        .as_deref()
        .is_some_and(|p| p.split(' ').any(|x| x == value))
}

/// GET `/oauth2/authorize` and `/login`.
pub(crate) async fn authorize(State(h): H, uri: Uri, headers: HeaderMap) -> Response {
    let ctx = match h.begin(&uri, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !has_prompt(&ctx, "login") {
        match h.session_user(&ctx.grant.pool_id, &headers).await {
            Ok(Some((user, auth_time))) if h.dir.oauth_session_fresh(&ctx.grant, auth_time) => {
                return h.complete(&ctx, &user, auth_time, Vec::new()).await
            }
            Ok(_) => {}
            Err(e) => return h.fault(&e),
        }
    }
    if has_prompt(&ctx, "none") {
        return response::redirect(&h.dir.oauth_login_required(&ctx.grant), &[]);
    }
    let hint = ctx.grant.login_hint.clone().unwrap_or_default();
    h.sign_in_page(&ctx, StatusCode::OK, &hint, None)
}

/// POST `/login`: the username and password.
pub(crate) async fn login(State(h): H, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    let ctx = match h.begin(&uri, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let form = match h.form(&ctx, &headers, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let username = text(&form, "username");
    let password = raw(&form, "password");
    if username.is_empty() || password.is_empty() {
        let m = Notice::Error("Please enter your username and password.".into());
        return h.sign_in_page(&ctx, StatusCode::BAD_REQUEST, username, Some(m));
    }
    match h
        .dir
        .hosted_sign_in(&ctx.grant.client_id, username, password)
        .await
    {
        Ok(step) => h.step(&ctx, &headers, step, username).await,
        Err(Error::UserNotConfirmed(_)) => {
            let notice = Notice::Error(
                "Your account is not confirmed yet. Enter the code we sent you, or ask for a new one."
                    .into(),
            );
            h.page(&ctx, StatusCode::BAD_REQUEST, Vec::new(), |frame, form| {
                pages::confirm(
                    frame,
                    form,
                    &pages::Confirm {
                        name: name_kind(&ctx.pool),
                        username,
                    },
                    Some(&notice),
                )
            })
        }
        Err(Error::PasswordResetRequired(_)) => {
            // As Cognito's hosted UI: the password must be reset, so send the code now.
            h.start_reset(
                &ctx,
                username,
                "Your password must be reset: enter the code with a new password.",
            )
            .await
        }
        Err(e) => match user_message(&e) {
            Some(m) => h.sign_in_page(
                &ctx,
                StatusCode::BAD_REQUEST,
                username,
                Some(Notice::Error(m)),
            ),
            None => h.fault(&e),
        },
    }
}

/// POST `/challenge`: the answer to NEW_PASSWORD_REQUIRED, an MFA code, the choice of MFA, or
/// the first code of a new authenticator (MFA_SETUP).
pub(crate) async fn challenge(State(h): H, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    let ctx = match h.begin(&uri, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let form = match h.form(&ctx, &headers, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let name = raw(&form, "challenge");
    let session = raw(&form, "session");
    let username = raw(&form, "username");
    if name.is_empty() || session.is_empty() || username.is_empty() {
        return h.sign_in_page(
            &ctx,
            StatusCode::BAD_REQUEST,
            username,
            Some(Notice::Error(
                "Your session has expired. Please sign in again.".into(),
            )),
        );
    }
    let pending = Pending {
        challenge: name,
        session,
        username,
    };
    let mut responses = BTreeMap::new();
    responses.insert("USERNAME".to_string(), username.to_string());
    let mut session = session.to_string();
    match name {
        "NEW_PASSWORD_REQUIRED" => {
            let names: Vec<&str> = raw(&form, "fields")
                .split(' ')
                .filter(|n| n.starts_with("userAttributes.") && n.len() < 200)
                .take(50)
                .collect();
            let fields: Vec<pages::Field> = names
                .iter()
                .map(|n| {
                    let mut f = context::field(
                        n.trim_start_matches("userAttributes."),
                        true,
                        text(&form, n),
                    );
                    f.name = n.to_string();
                    f
                })
                .collect();
            let password = raw(&form, "password");
            let again = |m: String| {
                let hint = password_hint(&ctx.pool.password_policy);
                h.page(&ctx, StatusCode::BAD_REQUEST, Vec::new(), |frame, f| {
                    pages::new_password(frame, f, &pending, &fields, &hint, Some(&Notice::Error(m)))
                })
            };
            if password != raw(&form, "confirm_password") {
                return again("The passwords do not match.".into());
            }
            if let Err(e) =
                gatehouse_core::password::check_policy(&ctx.pool.password_policy, password)
            {
                return again(e.to_string());
            }
            responses.insert("NEW_PASSWORD".to_string(), password.to_string());
            for n in &names {
                let v = text(&form, n);
                if !v.is_empty() {
                    responses.insert(n.to_string(), v.to_string());
                }
            }
            match h
                .dir
                .hosted_respond(&ctx.grant.client_id, name, &session, responses)
                .await
            {
                Ok(step) => h.step(&ctx, &headers, step, username).await,
                Err(e @ (Error::InvalidPassword(_) | Error::InvalidParameter(_))) => {
                    again(e.to_string())
                }
                Err(e) => h.restart(&ctx, username, e),
            }
        }
        "SELECT_MFA_TYPE" => {
            responses.insert("ANSWER".to_string(), raw(&form, "mfa_type").to_string());
            match h
                .dir
                .hosted_respond(&ctx.grant.client_id, name, &session, responses)
                .await
            {
                Ok(step) => h.step(&ctx, &headers, step, username).await,
                Err(e) => h.restart(&ctx, username, e),
            }
        }
        "MFA_SETUP" => {
            let code = text(&form, "code");
            match h
                .dir
                .verify_software_token(TokenSetupAuth::Session(&session), code, None)
                .await
            {
                Ok(Some(next)) => session = next,
                Ok(None) => {
                    return h.restart(
                        &ctx,
                        username,
                        Error::not_authorized("Invalid session for the user."),
                    )
                }
                Err(e) => return h.restart(&ctx, username, e),
            }
            match h
                .dir
                .hosted_respond(&ctx.grant.client_id, name, &session, responses)
                .await
            {
                Ok(step) => h.step(&ctx, &headers, step, username).await,
                Err(e) => h.restart(&ctx, username, e),
            }
        }
        "SOFTWARE_TOKEN_MFA" | "SMS_MFA" | "EMAIL_OTP" => {
            let key = match name {
                "SOFTWARE_TOKEN_MFA" => "SOFTWARE_TOKEN_MFA_CODE",
                "SMS_MFA" => "SMS_MFA_CODE",
                _ => "EMAIL_OTP_CODE",
            };
            responses.insert(key.to_string(), text(&form, "code").to_string());
            match h
                .dir
                .hosted_respond(&ctx.grant.client_id, name, &session, responses)
                .await
            {
                Ok(step) => h.step(&ctx, &headers, step, username).await,
                // A wrong code may be retried with the same session (a few times).
                Err(
                    e @ (Error::CodeMismatch(_)
                    | Error::ExpiredCode(_)
                    | Error::InvalidParameter(_)),
                ) => {
                    let notice = Notice::Error(e.to_string());
                    h.page(&ctx, StatusCode::BAD_REQUEST, Vec::new(), |frame, f| {
                        pages::mfa(frame, f, &pending, mfa_prompt(name), Some(&notice))
                    })
                }
                Err(e) => h.restart(&ctx, username, e),
            }
        }
        _ => h.sign_in_page(
            &ctx,
            StatusCode::BAD_REQUEST,
            "",
            Some(Notice::Error(
                "Your session has expired. Please sign in again.".into(),
            )),
        ),
    }
}

/// What the MFA page says when the challenge did not name where the code went.
fn mfa_prompt(challenge: &str) -> &'static str {
    match challenge {
        "SOFTWARE_TOKEN_MFA" => "Enter the 6-digit code from your authenticator app.",
        "SMS_MFA" => "We have sent a code by text message. Enter it to sign in.",
        _ => "We have sent a code by email. Enter it to sign in.",
    }
}

/// GET `/logout`: ends the pool's hosted session, then either goes to a registered logout URL
/// (`logout_uri`) or starts a new sign-in (`redirect_uri` + `response_type`, as Cognito allows).
/// OpenID Connect RP-Initiated Logout works too: `post_logout_redirect_uri` (a registered
/// logout URL, with `state` passed back) and the client named by `client_id` or by the `aud` of
/// `id_token_hint` (it only picks the client; the redirect must still be registered for it).
pub(crate) async fn logout(State(h): H, uri: Uri, headers: HeaderMap) -> Response {
    let q = uri.query().unwrap_or("");
    let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(q) else {
        return h.error_page(StatusCode::BAD_REQUEST, "The request is malformed.");
    };
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let hinted = get("id_token_hint").and_then(|t| {
        let token = gatehouse_core::tokens::decode(t)?;
        token
            .claims
            .get("aud")
            .and_then(|a| a.as_str())
            .map(str::to_string)
    });
    let Some(client_id) = get("client_id").or(hinted.as_deref()) else {
        return h.error_page(
            StatusCode::BAD_REQUEST,
            "The request is missing the client_id parameter.",
        );
    };
    let client = match h.dir.app_client(client_id).await {
        Ok(c) => c,
        Err(Error::ResourceNotFound(_)) => {
            return h.error_page(
                StatusCode::BAD_REQUEST,
                "The client_id does not name an app client.",
            )
        }
        Err(e) => return h.fault(&e),
    };
    let oidc = get("post_logout_redirect_uri");
    let target = if let Some(logout_uri) = get("logout_uri").or(oidc) {
        if !OAuthSettings::of(&client).allows_logout(logout_uri) {
            return h.error_page(
                StatusCode::BAD_REQUEST,
                "The logout_uri is not one of the client's sign-out URLs.",
            );
        }
        match (oidc, get("state")) {
            (Some(_), Some(state)) => Some(gatehouse_core::oauth::authorize::with_params(
                logout_uri,
                false,
                &[("state", state)],
            )),
            _ => Some(logout_uri.to_string()),
        }
    } else if get("redirect_uri").is_some() && get("response_type").is_some() {
        let Some(req) = context::parse_query(q) else {
            return h.error_page(StatusCode::BAD_REQUEST, "The request is malformed.");
        };
        match h.dir.oauth_authorize(&req).await {
            Ok(_) => Some(format!(
                "{}/login?{}",
                h.base,
                serde_urlencoded::to_string(&req).unwrap_or_default()
            )),
            Err(AuthorizeError::Page(m)) => return h.error_page(StatusCode::BAD_REQUEST, &m),
            Err(AuthorizeError::Redirect(url)) => Some(url),
        }
    } else {
        // Nowhere to go: the session still ends, and a page says so.
        None
    };
    let name = h.jar.session_name(&client.pool_id);
    if let Some(token) = cookies::get(&headers, &name) {
        if let Err(e) = h.dir.hosted_session_end(&client.pool_id, token).await {
            return h.fault(&e);
        }
    }
    let clear: Vec<HeaderValue> = h.jar.clear(&name).into_iter().collect();
    match target {
        Some(url) => response::redirect(&url, &clear),
        None => h.plain_page(
            StatusCode::OK,
            "Signed out",
            &Notice::Info("You have been signed out.".into()),
            &client.client_name,
            &clear,
        ),
    }
}

impl Hosted {
    pub(crate) fn sign_in_page(
        &self,
        ctx: &Ctx,
        status: StatusCode,
        username: &str,
        notice: Option<Notice>,
    ) -> Response {
        let sign_up = !ctx.pool.admin_create_user.allow_admin_create_user_only;
        self.page(ctx, status, Vec::new(), |frame, form| {
            pages::sign_in(
                frame,
                form,
                &SignIn {
                    name: name_kind(&ctx.pool),
                    username,
                    sign_up,
                },
                notice.as_ref(),
            )
        })
    }

    /// Where a hosted sign-in went next: signed in (start the session, send the browser back
    /// to the client) or one more challenge page.
    async fn step(
        &self,
        ctx: &Ctx,
        headers: &HeaderMap,
        step: HostedStep,
        username: &str,
    ) -> Response {
        match step {
            HostedStep::SignedIn { user, auth_time } => {
                let name = self.jar.session_name(&ctx.grant.pool_id);
                // A new sign-in replaces whatever session this browser had.
                if let Some(old) = cookies::get(headers, &name) {
                    if let Err(e) = self.dir.hosted_session_end(&ctx.grant.pool_id, old).await {
                        return self.fault(&e);
                    }
                }
                let token = match self
                    .dir
                    .hosted_session_start(&ctx.grant.pool_id, &user, auth_time)
                    .await
                {
                    Ok(t) => t,
                    Err(e) => return self.fault(&e),
                };
                let cookie = self.jar.set(&name, &token).into_iter().collect();
                self.complete(ctx, &user, auth_time, cookie).await
            }
            HostedStep::Challenge(c) => self.challenge_page(ctx, c, username).await,
        }
    }

    async fn challenge_page(&self, ctx: &Ctx, c: Challenge, typed: &str) -> Response {
        let username = c
            .parameters
            .get("USER_ID_FOR_SRP")
            .map(String::as_str)
            .unwrap_or(typed);
        match c.name.as_str() {
            "NEW_PASSWORD_REQUIRED" => {
                let required: Vec<String> = c
                    .parameters
                    .get("requiredAttributes")
                    .and_then(|r| serde_json::from_str(r).ok())
                    .unwrap_or_default();
                let fields: Vec<pages::Field> = required
                    .iter()
                    .map(|n| {
                        let mut f =
                            context::field(n.trim_start_matches("userAttributes."), true, "");
                        f.name = n.clone();
                        f
                    })
                    .collect();
                let hint = password_hint(&ctx.pool.password_policy);
                let p = Pending {
                    challenge: &c.name,
                    session: &c.session,
                    username,
                };
                self.page(ctx, StatusCode::OK, Vec::new(), |frame, form| {
                    pages::new_password(frame, form, &p, &fields, &hint, None)
                })
            }
            "SOFTWARE_TOKEN_MFA" | "SMS_MFA" | "EMAIL_OTP" => {
                let destination = c.parameters.get("CODE_DELIVERY_DESTINATION").cloned();
                let what = match (&destination, c.name.as_str()) {
                    (Some(d), "SMS_MFA") => {
                        format!("We have sent a code by text message to {d}. Enter it to sign in.")
                    }
                    (Some(d), "EMAIL_OTP") => {
                        format!("We have sent a code by email to {d}. Enter it to sign in.")
                    }
                    _ => mfa_prompt(&c.name).to_string(),
                };
                let p = Pending {
                    challenge: &c.name,
                    session: &c.session,
                    username,
                };
                self.page(ctx, StatusCode::OK, Vec::new(), |frame, form| {
                    pages::mfa(frame, form, &p, &what, None)
                })
            }
            "SELECT_MFA_TYPE" => {
                let can: Vec<String> = c
                    .parameters
                    .get("MFAS_CAN_CHOOSE")
                    .and_then(|r| serde_json::from_str(r).ok())
                    .unwrap_or_default();
                let choices: Vec<(&str, &str)> = can
                    .iter()
                    .filter_map(|f| match f.as_str() {
                        "SOFTWARE_TOKEN_MFA" => Some(("SOFTWARE_TOKEN_MFA", "Authenticator app")),
                        "SMS_MFA" => Some(("SMS_MFA", "Text message (SMS)")),
                        "EMAIL_OTP" => Some(("EMAIL_OTP", "Email")),
                        _ => None,
                    })
                    .collect();
                let p = Pending {
                    challenge: &c.name,
                    session: &c.session,
                    username,
                };
                self.page(ctx, StatusCode::OK, Vec::new(), |frame, form| {
                    pages::select_mfa(frame, form, &p, &choices, None)
                })
            }
            "MFA_SETUP" => {
                let (secret, session) = match self
                    .dir
                    .associate_software_token(TokenSetupAuth::Session(&c.session))
                    .await
                {
                    Ok((secret, Some(session))) => (secret, session),
                    Ok((_, None)) => {
                        return self.restart(
                            ctx,
                            username,
                            Error::not_authorized("Invalid session for the user."),
                        )
                    }
                    Err(e) => return self.restart(ctx, username, e),
                };
                let issuer = if ctx.client.client_name.is_empty() {
                    ctx.pool.name.as_str()
                } else {
                    ctx.client.client_name.as_str()
                };
                let otpauth = format!(
                    "otpauth://totp/{}:{}?secret={}&issuer={}",
                    gatehouse_core::oauth::authorize::encode(issuer),
                    gatehouse_core::oauth::authorize::encode(typed),
                    secret,
                    gatehouse_core::oauth::authorize::encode(issuer)
                );
                let p = Pending {
                    challenge: &c.name,
                    session: &session,
                    username,
                };
                self.page(ctx, StatusCode::OK, Vec::new(), |frame, form| {
                    pages::mfa_setup(frame, form, &p, &secret, &otpauth, None)
                })
            }
            other => {
                tracing::warn!(
                    challenge = other,
                    "hosted sign-in: a challenge the pages cannot answer"
                );
                self.sign_in_page(
                    ctx,
                    StatusCode::BAD_REQUEST,
                    typed,
                    Some(Notice::Error(
                        "This sign-in cannot be completed here.".into(),
                    )),
                )
            }
        }
    }

    /// A challenge that cannot go on (session expired, too many wrong codes): back to the
    /// sign-in page with the reason.
    fn restart(&self, ctx: &Ctx, username: &str, e: Error) -> Response {
        match user_message(&e) {
            Some(m) => self.sign_in_page(
                ctx,
                StatusCode::BAD_REQUEST,
                username,
                Some(Notice::Error(m)),
            ),
            None => self.fault(&e),
        }
    }

    /// Issues the code (or implicit tokens) and sends the browser back to the client.
    pub(crate) async fn complete(
        &self,
        ctx: &Ctx,
        user: &User,
        auth_time: i64,
        cookies: Vec<HeaderValue>,
    ) -> Response {
        match self.dir.oauth_complete(&ctx.grant, user, auth_time).await {
            Ok(url) => response::redirect(&url, &cookies),
            Err(e) => match user_message(&e) {
                Some(m) => self.message_page(ctx, StatusCode::BAD_REQUEST, Notice::Error(m)),
                None => self.fault(&e),
            },
        }
    }
}
