//! The account pages around sign-in: sign up, confirm the code (and send a new one), forgot
//! password and reset it with the code. Each calls the same domain operation as the Cognito
//! API, so policies, codes, lockout and PreventUserExistenceErrors are the pool's own.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use gatehouse_core::messages::Channel;
use gatehouse_core::oauth::hosted::hosted_secret_hash;
use gatehouse_core::users::CodeDelivery;
use gatehouse_core::Error;

use super::context::{name_kind, password_hint, raw, sign_up_fields, text, user_message, Ctx};
use super::pages::{self, Notice};
use super::Hosted;

type H = State<Arc<Hosted>>;

fn prevents_existence_errors(ctx: &Ctx) -> bool {
    ctx.client.prevent_user_existence_errors == "ENABLED"
}

const WRONG_CODE: &str = "Invalid verification code provided, please try again.";

/// What a failed code check says on the page. With PreventUserExistenceErrors it reads the same
/// whoever is named: an unknown user always gets "wrong code", so a known one whose code
/// expired, was never sent or ran out of attempts (or who is already confirmed) gets it too.
fn code_message(ctx: &Ctx, e: &Error) -> Option<String> {
    match e {
        Error::ExpiredCode(_) | Error::LimitExceeded(_) | Error::NotAuthorized(_)
            if prevents_existence_errors(ctx) =>
        {
            Some(WRONG_CODE.to_string())
        }
        other => user_message(other),
    }
}

fn sent(d: &CodeDelivery, what: &str) -> String {
    let by = match d.medium {
        Channel::Email => "email",
        Channel::Sms => "text message",
    };
    format!("We have sent a code by {by} to {}. {what}", d.destination)
}

macro_rules! begin {
    ($h:expr, $uri:expr, $headers:expr) => {
        match $h.begin(&$uri, &$headers).await {
            Ok(c) => c,
            Err(r) => return r,
        }
    };
}

macro_rules! form {
    ($h:expr, $ctx:expr, $headers:expr, $body:expr) => {
        match $h.form(&$ctx, &$headers, $body).await {
            Ok(f) => f,
            Err(r) => return r,
        }
    };
}

pub(crate) async fn sign_up_page(State(h): H, uri: Uri, headers: HeaderMap) -> Response {
    let ctx = begin!(h, uri, headers);
    h.sign_up_form(&ctx, StatusCode::OK, "", &BTreeMap::new(), None)
}

pub(crate) async fn sign_up(State(h): H, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    let ctx = begin!(h, uri, headers);
    let form = form!(h, ctx, headers, body);
    let username = text(&form, "username");
    let password = raw(&form, "password");
    let fields = sign_up_fields(&ctx.pool, &ctx.client, &form);
    let attributes: Vec<(String, String)> = fields
        .iter()
        .filter(|f| !f.value.trim().is_empty())
        .map(|f| (f.name.clone(), f.value.trim().to_string()))
        .collect();
    let values: BTreeMap<String, String> = attributes.iter().cloned().collect();
    if username.is_empty() || password.is_empty() {
        let m = format!(
            "Please enter your {} and a password.",
            name_kind(&ctx.pool).label().to_lowercase()
        );
        return h.sign_up_form(
            &ctx,
            StatusCode::BAD_REQUEST,
            username,
            &values,
            Some(Notice::Error(m)),
        );
    }
    if let Some(missing) = fields
        .iter()
        .find(|f| f.required && f.value.trim().is_empty())
    {
        let m = format!("{} is required.", missing.label);
        return h.sign_up_form(
            &ctx,
            StatusCode::BAD_REQUEST,
            username,
            &values,
            Some(Notice::Error(m)),
        );
    }
    let secret_hash = hosted_secret_hash(&ctx.client, username);
    match h
        .dir
        .sign_up(
            &ctx.grant.client_id,
            username,
            password,
            attributes,
            secret_hash.as_deref(),
        )
        .await
    {
        Ok(outcome) if outcome.confirmed => h.sign_in_page(
            &ctx,
            StatusCode::OK,
            username,
            Some(Notice::Info(
                "Your account has been created. Please sign in.".into(),
            )),
        ),
        Ok(outcome) => {
            let m = match &outcome.delivery {
                Some(d) => sent(d, "Enter it below to confirm your account."),
                None => "Your account has been created. An administrator must confirm it before you can sign in.".into(),
            };
            h.confirm_form(&ctx, StatusCode::OK, username, Some(Notice::Info(m)))
        }
        Err(e) => match user_message(&e) {
            Some(m) => h.sign_up_form(
                &ctx,
                StatusCode::BAD_REQUEST,
                username,
                &values,
                Some(Notice::Error(m)),
            ),
            None => h.fault(&e),
        },
    }
}

pub(crate) async fn confirm_page(State(h): H, uri: Uri, headers: HeaderMap) -> Response {
    let ctx = begin!(h, uri, headers);
    h.confirm_form(&ctx, StatusCode::OK, "", None)
}

pub(crate) async fn confirm(State(h): H, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    let ctx = begin!(h, uri, headers);
    let form = form!(h, ctx, headers, body);
    let username = text(&form, "username");
    let code = text(&form, "code");
    if username.is_empty() || code.is_empty() {
        let m = Notice::Error("Please enter your username and the verification code.".into());
        return h.confirm_form(&ctx, StatusCode::BAD_REQUEST, username, Some(m));
    }
    let secret_hash = hosted_secret_hash(&ctx.client, username);
    match h
        .dir
        .confirm_sign_up(
            &ctx.grant.client_id,
            username,
            code,
            secret_hash.as_deref(),
            false,
        )
        .await
    {
        Ok(()) => h.sign_in_page(
            &ctx,
            StatusCode::OK,
            username,
            Some(Notice::Info(
                "Your account has been confirmed. Please sign in.".into(),
            )),
        ),
        Err(e) => match code_message(&ctx, &e) {
            Some(m) => h.confirm_form(
                &ctx,
                StatusCode::BAD_REQUEST,
                username,
                Some(Notice::Error(m)),
            ),
            None => h.fault(&e),
        },
    }
}

pub(crate) async fn resend(State(h): H, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    let ctx = begin!(h, uri, headers);
    let form = form!(h, ctx, headers, body);
    let username = text(&form, "username");
    if username.is_empty() {
        let m = Notice::Error("Please enter your username to get a new code.".into());
        return h.confirm_form(&ctx, StatusCode::BAD_REQUEST, username, Some(m));
    }
    match h.dir.hosted_resend_code(&ctx.client, username).await {
        Ok(Some(d)) => h.confirm_form(
            &ctx,
            StatusCode::OK,
            username,
            Some(Notice::Info(sent(&d, "Enter it below."))),
        ),
        Ok(None) => h.confirm_form(
            &ctx,
            StatusCode::OK,
            username,
            Some(Notice::Info("A new code has been sent.".into())),
        ),
        Err(e) => match user_message(&e) {
            Some(m) => h.confirm_form(
                &ctx,
                StatusCode::BAD_REQUEST,
                username,
                Some(Notice::Error(m)),
            ),
            None => h.fault(&e),
        },
    }
}

pub(crate) async fn forgot_page(State(h): H, uri: Uri, headers: HeaderMap) -> Response {
    let ctx = begin!(h, uri, headers);
    h.forgot_form(&ctx, StatusCode::OK, "", None)
}

pub(crate) async fn forgot(State(h): H, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    let ctx = begin!(h, uri, headers);
    let form = form!(h, ctx, headers, body);
    let username = text(&form, "username");
    if username.is_empty() {
        let m = format!(
            "Please enter your {}.",
            name_kind(&ctx.pool).label().to_lowercase()
        );
        return h.forgot_form(
            &ctx,
            StatusCode::BAD_REQUEST,
            username,
            Some(Notice::Error(m)),
        );
    }
    h.start_reset(&ctx, username, "Enter it below with your new password.")
        .await
}

pub(crate) async fn reset_page(State(h): H, uri: Uri, headers: HeaderMap) -> Response {
    let ctx = begin!(h, uri, headers);
    h.reset_form(&ctx, StatusCode::OK, "", None)
}

pub(crate) async fn reset(State(h): H, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    let ctx = begin!(h, uri, headers);
    let form = form!(h, ctx, headers, body);
    let username = text(&form, "username");
    let code = text(&form, "code");
    let password = raw(&form, "password");
    let again = |m: &str| {
        h.reset_form(
            &ctx,
            StatusCode::BAD_REQUEST,
            username,
            Some(Notice::Error(m.to_string())),
        )
    };
    if username.is_empty() || code.is_empty() || password.is_empty() {
        return again("Please enter your username, the code and a new password.");
    }
    if password != raw(&form, "confirm_password") {
        return again("The passwords do not match.");
    }
    // Checked here for everyone: the domain checks it only for a user that exists.
    if let Err(e) = gatehouse_core::password::check_policy(&ctx.pool.password_policy, password) {
        return again(&e.to_string());
    }
    let secret_hash = hosted_secret_hash(&ctx.client, username);
    match h
        .dir
        .confirm_forgot_password(
            &ctx.grant.client_id,
            username,
            code,
            password,
            secret_hash.as_deref(),
        )
        .await
    {
        Ok(()) => h.sign_in_page(
            &ctx,
            StatusCode::OK,
            username,
            Some(Notice::Info(
                "Your password has been changed. Please sign in with it.".into(),
            )),
        ),
        Err(e) => match code_message(&ctx, &e) {
            Some(m) => again(&m),
            None => h.fault(&e),
        },
    }
}

impl Hosted {
    fn sign_up_form(
        &self,
        ctx: &Ctx,
        status: StatusCode,
        username: &str,
        values: &BTreeMap<String, String>,
        notice: Option<Notice>,
    ) -> Response {
        if ctx.pool.admin_create_user.allow_admin_create_user_only {
            return self.message_page(
                ctx,
                StatusCode::FORBIDDEN,
                Notice::Error("SignUp is not permitted for this user pool.".into()),
            );
        }
        let fields = sign_up_fields(&ctx.pool, &ctx.client, values);
        let hint = password_hint(&ctx.pool.password_policy);
        self.page(ctx, status, Vec::new(), |frame, form| {
            pages::sign_up(
                frame,
                form,
                &pages::SignUp {
                    name: name_kind(&ctx.pool),
                    username,
                    fields: &fields,
                    password_hint: &hint,
                },
                notice.as_ref(),
            )
        })
    }

    fn confirm_form(
        &self,
        ctx: &Ctx,
        status: StatusCode,
        username: &str,
        notice: Option<Notice>,
    ) -> Response {
        self.page(ctx, status, Vec::new(), |frame, form| {
            pages::confirm(
                frame,
                form,
                &pages::Confirm {
                    name: name_kind(&ctx.pool),
                    username,
                },
                notice.as_ref(),
            )
        })
    }

    fn forgot_form(
        &self,
        ctx: &Ctx,
        status: StatusCode,
        username: &str,
        notice: Option<Notice>,
    ) -> Response {
        self.page(ctx, status, Vec::new(), |frame, form| {
            pages::forgot_password(frame, form, name_kind(&ctx.pool), username, notice.as_ref())
        })
    }

    fn reset_form(
        &self,
        ctx: &Ctx,
        status: StatusCode,
        username: &str,
        notice: Option<Notice>,
    ) -> Response {
        let hint = password_hint(&ctx.pool.password_policy);
        self.page(ctx, status, Vec::new(), |frame, form| {
            pages::reset_password(
                frame,
                form,
                &pages::ResetPassword {
                    name: name_kind(&ctx.pool),
                    username,
                    password_hint: &hint,
                },
                notice.as_ref(),
            )
        })
    }

    /// ForgotPassword, then the page to reset with the code.
    pub(crate) async fn start_reset(&self, ctx: &Ctx, username: &str, what: &str) -> Response {
        match self.dir.hosted_forgot_password(&ctx.client, username).await {
            Ok(d) => self.reset_form(
                ctx,
                StatusCode::OK,
                username,
                Some(Notice::Info(sent(&d, what))),
            ),
            Err(e) => match user_message(&e) {
                Some(m) => self.forgot_form(
                    ctx,
                    StatusCode::BAD_REQUEST,
                    username,
                    Some(Notice::Error(m)),
                ),
                None => self.fault(&e),
            },
        }
    }
}
