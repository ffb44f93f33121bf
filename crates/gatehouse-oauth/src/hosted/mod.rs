//! The hosted sign-in pages and the browser-facing OAuth endpoints (`/oauth2/authorize`,
//! `/login`, `/logout`): server-rendered HTML without JavaScript, every form CSRF-protected,
//! the pool's hosted session in an HttpOnly cookie. Each page of a sign-in carries the original
//! authorize query and re-validates it, as Cognito's hosted UI does; the domain decides
//! everything (core::oauth), this module only translates.

mod account;
mod context;
mod cookies;
mod csrf;
mod flow;
pub mod pages;
mod response;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use gatehouse_core::env::{OsRandom, Random};
use gatehouse_core::Directory;

use cookies::CookieJar;

/// Form bodies larger than this are refused before they are parsed.
pub const FORM_LIMIT: usize = 16 * 1024;

/// What the hosted handlers share.
pub struct Hosted {
    pub(crate) dir: Arc<Directory>,
    pub(crate) rng: Arc<dyn Random>,
    pub(crate) jar: CookieJar,
    /// The path of the public URL (`""` at the root, else `/prefix`): the pages' own links.
    pub(crate) base: String,
}

/// The path part of a URL, without its trailing slash.
fn base_path(public_url: &str) -> String {
    let rest = public_url.split_once("://").map_or("", |(_, r)| r);
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    let path = path.split(['?', '#']).next().unwrap_or("");
    path.trim_end_matches('/').to_string()
}

impl Hosted {
    pub fn new(dir: Arc<Directory>, rng: Arc<dyn Random>) -> Self {
        let secure = dir
            .config()
            .public_url
            .to_ascii_lowercase()
            .starts_with("https://");
        let base = base_path(&dir.config().public_url);
        Self {
            dir,
            rng,
            jar: CookieJar { secure },
            base,
        }
    }
}

pub fn router(dir: Arc<Directory>) -> Router {
    routes(Arc::new(Hosted::new(dir, Arc::new(OsRandom))))
}

pub fn routes(state: Arc<Hosted>) -> Router {
    Router::new()
        .route("/oauth2/authorize", get(flow::authorize))
        .route("/login", get(flow::authorize).post(flow::login))
        // A GET of a POST-only page (a reload, a bookmark) starts the sign-in again.
        .route("/challenge", get(flow::authorize).post(flow::challenge))
        .route("/logout", get(flow::logout))
        .route("/signup", get(account::sign_up_page).post(account::sign_up))
        .route(
            "/confirm",
            get(account::confirm_page).post(account::confirm),
        )
        .route(
            "/resendcode",
            get(account::confirm_page).post(account::resend),
        )
        .route(
            "/forgotPassword",
            get(account::forgot_page).post(account::forgot),
        )
        .route(
            "/confirmForgotPassword",
            get(account::reset_page).post(account::reset),
        )
        .layer(DefaultBodyLimit::max(FORM_LIMIT))
        .with_state(state)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod base_tests {
    #[test]
    fn base_paths() {
        assert_eq!(super::base_path("http://127.0.0.1:9229"), "");
        assert_eq!(super::base_path("https://id.example.com/"), "");
        assert_eq!(super::base_path("https://example.com/auth/"), "/auth");
        assert_eq!(super::base_path("https://example.com/a/b"), "/a/b");
    }
}
