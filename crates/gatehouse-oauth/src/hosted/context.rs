//! What every hosted request starts from: the authorize query re-validated into a grant, the
//! client and pool it names, the CSRF token and the response's CSP nonce; and how a page,
//! an error page or a form body are produced from it.

use std::collections::BTreeMap;

use axum::body::Body as RequestBody;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use gatehouse_core::oauth::{AuthorizeError, AuthorizeGrant, AuthorizeRequest};
use gatehouse_core::store::{AppClient, PasswordPolicy, User, UserPool};
use gatehouse_core::Error;
use http_body_util::BodyExt;
use maud::Markup;

use super::cookies;
use super::pages::{self, Field, Form, Frame, NameKind, Notice};
use super::response::{self, redirect_source};
use super::{csrf, Hosted, FORM_LIMIT};

pub(crate) struct Ctx {
    pub grant: AuthorizeGrant,
    /// The authorize parameters, re-encoded: what every link and form of the sign-in carries.
    pub query: String,
    pub client: AppClient,
    pub pool: UserPool,
    pub csrf: String,
    /// The CSRF cookie must be (re)set with this response.
    pub new_csrf: bool,
    pub nonce: String,
    pub css: Option<String>,
    pub logo_url: Option<String>,
}

/// The query as a request: `None` when it is not valid form encoding or repeats a parameter
/// (RFC 6749 §3.1: parameters must not be included more than once).
pub(crate) fn parse_query(raw: &str) -> Option<AuthorizeRequest> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw).ok()?;
    let mut seen = std::collections::BTreeSet::new();
    if !pairs.iter().all(|(k, _)| seen.insert(k.as_str())) {
        return None;
    }
    serde_urlencoded::from_str(raw).ok()
}

/// What a message of the domain says on a page; `None` for our own faults, which get the
/// generic error page and a log line instead.
pub(crate) fn user_message(e: &Error) -> Option<String> {
    match e {
        Error::Internal(_) | Error::Unavailable(_) => None,
        other => Some(other.to_string()),
    }
}

pub(crate) fn name_kind(pool: &UserPool) -> NameKind {
    let email = pool.username_attributes.iter().any(|a| a == "email");
    let phone = pool.username_attributes.iter().any(|a| a == "phone_number");
    match (email, phone) {
        (true, true) => NameKind::EmailOrPhone,
        (true, false) => NameKind::Email,
        (false, true) => NameKind::Phone,
        (false, false) => NameKind::Username,
    }
}

/// The pool's password rules in one sentence.
pub(crate) fn password_hint(p: &PasswordPolicy) -> String {
    let mut needs = Vec::new();
    if p.require_uppercase {
        needs.push("an uppercase letter");
    }
    if p.require_lowercase {
        needs.push("a lowercase letter");
    }
    if p.require_numbers {
        needs.push("a number");
    }
    if p.require_symbols {
        needs.push("a symbol");
    }
    let mut s = format!("At least {} characters", p.minimum_length);
    match needs.as_slice() {
        [] => {}
        [only] => s.push_str(&format!(", with {only}")),
        [init @ .., last] => s.push_str(&format!(", with {} and {last}", init.join(", "))),
    }
    s.push('.');
    s
}

/// How an attribute is asked for: label, input type, autocomplete token.
fn describe_attribute(name: &str) -> (String, &'static str, Option<&'static str>) {
    let (label, kind, auto): (&str, &'static str, Option<&'static str>) = match name {
        "email" => ("Email address", "email", Some("email")),
        "phone_number" => ("Phone number", "tel", Some("tel")),
        "name" => ("Name", "text", Some("name")),
        "given_name" => ("Given name", "text", Some("given-name")),
        "family_name" => ("Family name", "text", Some("family-name")),
        "middle_name" => ("Middle name", "text", Some("additional-name")),
        "nickname" => ("Nickname", "text", Some("nickname")),
        "preferred_username" => ("Preferred username", "text", Some("username")),
        "profile" => ("Profile page", "url", Some("url")),
        "picture" => ("Picture URL", "url", Some("photo")),
        "website" => ("Website", "url", Some("url")),
        "gender" => ("Gender", "text", Some("sex")),
        "birthdate" => ("Birthdate (YYYY-MM-DD)", "text", Some("bday")),
        "zoneinfo" => ("Time zone", "text", None),
        "locale" => ("Locale", "text", Some("language")),
        "address" => ("Address", "text", Some("street-address")),
        _ => ("", "text", None),
    };
    if !label.is_empty() {
        return (label.to_string(), kind, auto);
    }
    let bare = name
        .strip_prefix("custom:")
        .unwrap_or(name)
        .replace('_', " ");
    let mut chars = bare.chars();
    let label = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => name.to_string(),
    };
    (label, "text", None)
}

pub(crate) fn field(name: &str, required: bool, value: &str) -> Field {
    let (label, kind, autocomplete) = describe_attribute(name);
    Field {
        name: name.to_string(),
        label,
        kind,
        autocomplete,
        required,
        value: value.to_string(),
    }
}

/// The attributes the sign-up page asks for: the pool's required ones, and the email or phone
/// the pool verifies (optional unless required), less what the sign-in name already is and what
/// the client may not write.
pub(crate) fn sign_up_fields(
    pool: &UserPool,
    client: &AppClient,
    values: &BTreeMap<String, String>,
) -> Vec<Field> {
    let kind = name_kind(pool);
    let taken = |n: &str| match kind {
        NameKind::Email => n == "email",
        NameKind::Phone => n == "phone_number",
        _ => false,
    };
    let writable = |n: &str| {
        client
            .write_attributes
            .as_ref()
            .is_none_or(|w| w.iter().any(|a| a == n))
    };
    let mut out: Vec<Field> = Vec::new();
    let mut add = |name: String, required: bool| {
        if taken(&name) || !writable(&name) || out.iter().any(|f| f.name == name) {
            return;
        }
        let value = values.get(&name).map(String::as_str).unwrap_or("");
        out.push(field(&name, required, value));
    };
    for a in pool.schema.iter().filter(|a| a.required && a.name != "sub") {
        let name = if a.custom {
            format!("custom:{}", a.name)
        } else {
            a.name.clone()
        };
        add(name, true);
    }
    for a in &pool.auto_verified_attributes {
        add(a.clone(), false);
    }
    out
}

impl Hosted {
    /// Parses and re-validates the authorize query; `Err` is the response to send instead (an
    /// error page, or the client's redirect URI with the error).
    pub(crate) async fn begin(&self, uri: &Uri, headers: &HeaderMap) -> Result<Ctx, Response> {
        let Some(req) = parse_query(uri.query().unwrap_or("")) else {
            return Err(self.error_page(
                StatusCode::BAD_REQUEST,
                "The request is malformed: a parameter is not valid or appears more than once.",
            ));
        };
        let grant = match self.dir.oauth_authorize(&req).await {
            Ok(g) => g,
            Err(AuthorizeError::Page(m)) => {
                return Err(self.error_page(StatusCode::BAD_REQUEST, &m));
            }
            Err(AuthorizeError::Redirect(url)) => return Err(response::redirect(&url, &[])),
        };
        let query = serde_urlencoded::to_string(&req).unwrap_or_default();
        let client = match self
            .dir
            .describe_client(&grant.pool_id, &grant.client_id)
            .await
        {
            Ok(c) => c,
            Err(e) => return Err(self.fault(&e)),
        };
        let pool = match self.dir.describe_pool(&grant.pool_id).await {
            Ok((p, _)) => p,
            Err(e) => return Err(self.fault(&e)),
        };
        let (css, logo_url) = self.look(&grant.pool_id, &grant.client_id).await;
        let existing = cookies::get(headers, self.jar.csrf_name()).filter(|c| csrf::well_formed(c));
        let (csrf, new_csrf) = match existing {
            Some(c) => (c.to_string(), false),
            None => (csrf::new_token(&*self.rng), true),
        };
        Ok(Ctx {
            grant,
            query,
            client,
            pool,
            csrf,
            new_csrf,
            nonce: response::nonce(&*self.rng),
            css,
            logo_url,
        })
    }

    /// The client's (or pool's) CSS and logo URL from SetUICustomization. The look is not
    /// worth failing a sign-in over: an error leaves the page plain (and is logged).
    async fn look(&self, pool_id: &str, client_id: &str) -> (Option<String>, Option<String>) {
        match self.dir.ui_customization(pool_id, client_id).await {
            Ok(Some(ui)) => (ui.css, ui.logo.map(|l| l.url)),
            Ok(None) => (None, None),
            Err(e) => {
                tracing::warn!(error = %e, pool_id, client_id, "hosted page: UI customization unavailable");
                (None, None)
            }
        }
    }

    /// A page of this sign-in, with the CSRF cookie when it is new and `cookies` besides.
    pub(crate) fn page(
        &self,
        ctx: &Ctx,
        status: StatusCode,
        cookies: Vec<HeaderValue>,
        render: impl FnOnce(&Frame, &Form) -> Markup,
    ) -> Response {
        let frame = Frame {
            app_name: &ctx.client.client_name,
            css: ctx.css.as_deref(),
            logo_url: ctx.logo_url.as_deref(),
            nonce: &ctx.nonce,
        };
        let form = Form {
            base: &self.base,
            query: &ctx.query,
            csrf: &ctx.csrf,
        };
        let body = render(&frame, &form).into_string();
        let mut cookies = cookies;
        if ctx.new_csrf {
            cookies.extend(self.jar.set(self.jar.csrf_name(), &ctx.csrf));
        }
        let target = redirect_source(&ctx.grant.redirect_uri);
        response::html(status, body, &ctx.nonce, target.as_deref(), &cookies)
    }

    /// A page of this sign-in showing a message and a way back to the sign-in page.
    pub(crate) fn message_page(&self, ctx: &Ctx, status: StatusCode, notice: Notice) -> Response {
        let back = format!("{}/login?{}", self.base, ctx.query);
        self.page(ctx, status, Vec::new(), |frame, _| {
            pages::message(frame, "Sign in", &notice, Some((&back, "Back to sign in")))
        })
    }

    /// An error page outside any valid sign-in: nothing is redirected anywhere.
    pub(crate) fn error_page(&self, status: StatusCode, message: &str) -> Response {
        self.plain_page(
            status,
            "Something went wrong",
            &Notice::Error(message.to_string()),
            "",
            &[],
        )
    }

    /// A page with a message and no form, outside a sign-in.
    pub(crate) fn plain_page(
        &self,
        status: StatusCode,
        title: &str,
        notice: &Notice,
        app_name: &str,
        cookies: &[HeaderValue],
    ) -> Response {
        let nonce = response::nonce(&*self.rng);
        let frame = Frame {
            app_name,
            nonce: &nonce,
            ..Frame::default()
        };
        let body = pages::message(&frame, title, notice, None).into_string();
        response::html(status, body, &nonce, None, cookies)
    }

    /// Our own fault: logged, and a generic page (a 503 when a dependency is down).
    pub(crate) fn fault(&self, e: &Error) -> Response {
        match e {
            Error::Unavailable(_) => {
                tracing::warn!(error = %e, "hosted page: a dependency is unavailable");
                self.error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The service is temporarily unavailable. Please try again.",
                )
            }
            Error::Internal(_) => {
                tracing::error!(error = %e, "hosted page failed");
                self.error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "An error occurred. Please try again.",
                )
            }
            other => self.error_page(StatusCode::BAD_REQUEST, &other.to_string()),
        }
    }

    /// The user of this pool's hosted session cookie, if it is live.
    pub(crate) async fn session_user(
        &self,
        pool_id: &str,
        headers: &HeaderMap,
    ) -> Result<Option<(User, i64)>, Error> {
        match cookies::get(headers, &self.jar.session_name(pool_id)) {
            Some(token) => self.dir.hosted_session(pool_id, token).await,
            None => Ok(None),
        }
    }

    /// The form of a POST, once its size, type and CSRF token check out.
    pub(crate) async fn form(
        &self,
        ctx: &Ctx,
        headers: &HeaderMap,
        body: RequestBody,
    ) -> Result<BTreeMap<String, String>, Response> {
        let form_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';').next().is_some_and(|t| {
                    t.trim()
                        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                })
            });
        let body = read_body(body).await;
        if !form_type {
            return Err(self.error_page(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "The form was not sent as application/x-www-form-urlencoded.",
            ));
        }
        let bytes = match body {
            FormBody::Form(b) => b,
            FormBody::TooLarge => {
                return Err(self.error_page(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large."))
            }
            FormBody::Broken => {
                return Err(self.error_page(StatusCode::BAD_REQUEST, "The form could not be read."))
            }
        };
        let malformed = || {
            self.error_page(
                StatusCode::BAD_REQUEST,
                "The form is malformed: a field is not valid or appears more than once.",
            )
        };
        let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes) else {
            return Err(malformed());
        };
        let mut form = BTreeMap::new();
        for (k, v) in pairs {
            if form.insert(k, v).is_some() {
                return Err(malformed());
            }
        }
        let cookie = cookies::get(headers, self.jar.csrf_name());
        if ctx.new_csrf || !csrf::verify(cookie, form.get("_csrf").map(String::as_str)) {
            return Err(
                self.page(ctx, StatusCode::FORBIDDEN, Vec::new(), |frame, _| {
                    pages::message(
                    frame,
                    "Sign in",
                    &Notice::Error(
                        "The form has expired or did not come from this site. Please try again."
                            .into(),
                    ),
                    Some((&format!("{}/login?{}", self.base, ctx.query), "Back to sign in")),
                )
                }),
            );
        }
        Ok(form)
    }
}

/// How much of an oversized body is still read (and dropped) before answering 413: closing a
/// connection with unread data makes the kernel reset it, and the client may then lose the
/// answer. Past this, the client gets the reset.
const DRAIN_LIMIT: usize = 1024 * 1024;

enum FormBody {
    Form(Vec<u8>),
    TooLarge,
    Broken,
}

/// The body, up to FORM_LIMIT; a larger one is drained up to DRAIN_LIMIT and refused.
async fn read_body(mut body: RequestBody) -> FormBody {
    let mut buf = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return FormBody::Broken;
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen += data.len();
        if seen <= FORM_LIMIT {
            buf.extend_from_slice(&data);
        } else if seen > FORM_LIMIT + DRAIN_LIMIT {
            break;
        }
    }
    if seen > FORM_LIMIT {
        FormBody::TooLarge
    } else {
        FormBody::Form(buf)
    }
}

/// A form field, trimmed of surrounding whitespace when it is a name (never a password).
pub(crate) fn text<'a>(form: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    form.get(name).map(|s| s.trim()).unwrap_or("")
}

pub(crate) fn raw<'a>(form: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    form.get(name).map(String::as_str).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_with_repeated_parameters_are_refused() {
        assert!(parse_query("client_id=a&redirect_uri=b").is_some());
        assert!(parse_query("client_id=a&client_id=b").is_none());
        assert!(parse_query("").is_some());
    }

    #[test]
    fn password_hints_read_well() {
        let p = PasswordPolicy::default();
        assert_eq!(
            password_hint(&p),
            "At least 8 characters, with an uppercase letter, a lowercase letter, a number and a symbol."
        );
        let q = PasswordPolicy {
            minimum_length: 6,
            require_uppercase: false,
            require_lowercase: false,
            require_numbers: true,
            require_symbols: false,
            ..p
        };
        assert_eq!(password_hint(&q), "At least 6 characters, with a number.");
    }

    #[test]
    fn attribute_labels() {
        assert_eq!(field("custom:home_team", true, "").label, "Home team");
        assert_eq!(
            field("given_name", true, "").autocomplete,
            Some("given-name")
        );
        assert_eq!(field("email", false, "").kind, "email");
    }
}
