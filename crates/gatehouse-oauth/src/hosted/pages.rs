//! The hosted pages' HTML, compiled into the binary (maud escapes every interpolated value;
//! the only unescaped text is our stylesheet and the client's CSS, made inert in `<style>`).
//! Element classes carry Cognito's `*-customizable` names, so CSS written for
//! SetUICustomization styles these pages too.

use maud::{html, Markup, PreEscaped, DOCTYPE};

/// What every page is framed with: the app's name and look, and the response's CSP nonce.
#[derive(Debug, Clone, Copy, Default)]
pub struct Frame<'a> {
    pub app_name: &'a str,
    /// The client's (or pool's) CSS from SetUICustomization.
    pub css: Option<&'a str>,
    pub logo_url: Option<&'a str>,
    pub nonce: &'a str,
}

/// A message above the form: an error (announced with `role="alert"`) or information.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Error(String),
    Info(String),
}

/// What a form needs to post back: where the pages are (the path of the public URL, empty
/// at the root, so links survive a reverse proxy that serves Gatehouse under a prefix), the
/// canonical authorize query (every page of a sign-in carries it, as Cognito's do) and the
/// CSRF token.
#[derive(Debug, Clone, Copy)]
pub struct Form<'a> {
    pub base: &'a str,
    pub query: &'a str,
    pub csrf: &'a str,
}

impl Form<'_> {
    fn action(&self, path: &str) -> String {
        format!("{}{path}?{}", self.base, self.query)
    }
}

/// One sign-up or attribute field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The form field name (the attribute name, e.g. `email`, `custom:team`).
    pub name: String,
    pub label: String,
    /// HTML input type: text, email, tel, date, number.
    pub kind: &'static str,
    pub autocomplete: Option<&'static str>,
    pub required: bool,
    pub value: String,
}

/// The base stylesheet: fluid, readable on a phone, visible focus.
pub const BASE_CSS: &str = r#"
*,*::before,*::after{box-sizing:border-box}
html{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;font-size:16px;line-height:1.5;color:#1f2933;background:#f3f5f7}
body{margin:0;min-height:100vh;display:flex;align-items:flex-start;justify-content:center;padding:2rem 1rem}
main{width:100%;max-width:26rem;background:#fff;border:1px solid #d9dee3;border-radius:.5rem;padding:1.75rem 1.5rem;box-shadow:0 1px 3px rgba(0,0,0,.06)}
.logo-customizable{display:block;max-width:100%;max-height:4rem;margin:0 auto 1rem}
.banner-customizable{text-align:center;margin-bottom:.5rem;color:#52606d;font-size:.95rem}
h1{font-size:1.4rem;margin:0 0 1rem;text-align:center}
form{display:flex;flex-direction:column;gap:.25rem}
label{font-weight:600;font-size:.9rem;margin-top:.6rem}
.hint{font-size:.8rem;color:#52606d;margin:.1rem 0 0}
input[type=text],input[type=password],input[type=email],input[type=tel],input[type=date],input[type=number],input[type=url]{width:100%;font:inherit;padding:.6rem .7rem;border:1px solid #9aa5b1;border-radius:.35rem;background:#fff;color:inherit}
input:focus,button:focus,a:focus{outline:3px solid #2680c2;outline-offset:2px}
fieldset{border:0;padding:0;margin:.6rem 0 0}
legend{font-weight:600;font-size:.9rem}
.choice{display:flex;gap:.5rem;align-items:center;font-weight:400;margin-top:.3rem}
button{margin-top:1.1rem;font:inherit;font-weight:600;padding:.7rem;border:0;border-radius:.35rem;background:#1f6fb2;color:#fff;cursor:pointer}
button:hover{background:#185a91}
button.link{background:none;color:#1f6fb2;padding:0;margin:0;font-weight:400;text-decoration:underline}
a{color:#1f6fb2}
.links{margin:1.1rem 0 0;text-align:center;font-size:.92rem}
.links p{margin:.35rem 0}
.errorMessage-customizable{background:#fdecea;border:1px solid #f5c2bd;color:#8a1c12;border-radius:.35rem;padding:.6rem .75rem;margin:0 0 .75rem}
.info{background:#e8f3fb;border:1px solid #b9dbf3;color:#13466e;border-radius:.35rem;padding:.6rem .75rem;margin:0 0 .75rem}
.secret{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all;background:#f3f5f7;padding:.4rem;border-radius:.3rem}
@media (max-width:30rem){body{padding:0}main{border:0;border-radius:0;min-height:100vh;box-shadow:none}}
"#;

/// CSS that cannot leave its `<style>` element: `<` never appears in valid CSS outside strings
/// and comments, and as a CSS escape (`\3c `) it means the same there.
pub fn inert_css(css: &str) -> String {
    css.replace('<', "\\3c ")
}

fn layout(frame: &Frame, title: &str, notice: Option<&Notice>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) @if !frame.app_name.is_empty() { " · " (frame.app_name) } }
                style nonce=(frame.nonce) { (PreEscaped(BASE_CSS)) }
                @if let Some(css) = frame.css {
                    style nonce=(frame.nonce) { (PreEscaped(inert_css(css))) }
                }
            }
            body class="background-customizable" {
                main {
                    @if let Some(logo) = frame.logo_url {
                        img class="logo-customizable" src=(logo) alt={ (frame.app_name) " logo" };
                    } @else if !frame.app_name.is_empty() {
                        p class="banner-customizable" { (frame.app_name) }
                    }
                    h1 { (title) }
                    @match notice {
                        Some(Notice::Error(m)) => {
                            p id="form-error" class="errorMessage-customizable" role="alert" { (m) }
                        }
                        Some(Notice::Info(m)) => {
                            p class="info textDescription-customizable" role="status" { (m) }
                        }
                        None => {}
                    }
                    (body)
                }
            }
        }
    }
}

fn csrf(form: &Form) -> Markup {
    html! { input type="hidden" name="_csrf" value=(form.csrf); }
}

/// A labelled input; `focus` puts the cursor there when the page opens.
#[allow(clippy::too_many_arguments)]
fn input(
    id: &str,
    label: &str,
    kind: &str,
    value: &str,
    autocomplete: Option<&str>,
    required: bool,
    focus: bool,
    hint: Option<&str>,
) -> Markup {
    let hint_id = format!("{id}-hint");
    html! {
        label class="label-customizable" for=(id) { (label) }
        input class="inputField-customizable" id=(id) name=(id) type=(kind) value=(value)
            autocomplete=[autocomplete] required[required] autofocus[focus]
            aria-describedby=[hint.map(|_| hint_id.as_str())]
            autocapitalize=[(kind == "text" || kind == "email").then_some("none")]
            spellcheck=[(kind != "password").then_some("false")];
        @if let Some(h) = hint {
            p class="hint" id=(hint_id) { (h) }
        }
    }
}

fn submit(label: &str) -> Markup {
    html! { button class="submitButton-customizable" type="submit" { (label) } }
}

/// What the sign-in name is called on this pool's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Username,
    Email,
    Phone,
    /// Username attributes email and phone: either signs in.
    EmailOrPhone,
}

impl NameKind {
    pub fn label(self) -> &'static str {
        match self {
            NameKind::Username => "Username",
            NameKind::Email => "Email address",
            NameKind::Phone => "Phone number",
            NameKind::EmailOrPhone => "Email address or phone number",
        }
    }
    fn kind(self) -> &'static str {
        match self {
            NameKind::Email => "email",
            NameKind::Phone => "tel",
            _ => "text",
        }
    }
}

pub struct SignIn<'a> {
    pub name: NameKind,
    pub username: &'a str,
    pub sign_up: bool,
}

pub fn sign_in(frame: &Frame, form: &Form, page: &SignIn, notice: Option<&Notice>) -> Markup {
    let focus_password = !page.username.is_empty();
    layout(
        frame,
        "Sign in",
        notice,
        html! {
            form method="post" action=(form.action("/login")) novalidate {
                (csrf(form))
                (input("username", page.name.label(), page.name.kind(), page.username,
                    Some("username"), true, !focus_password, None))
                (input("password", "Password", "password", "", Some("current-password"), true,
                    focus_password, None))
                (submit("Sign in"))
            }
            div class="links" {
                p { a class="redirect-customizable" href=(form.action("/forgotPassword")) { "Forgot your password?" } }
                @if page.sign_up {
                    p { "Need an account? " a class="redirect-customizable" href=(form.action("/signup")) { "Sign up" } }
                }
            }
        },
    )
}

pub struct SignUp<'a> {
    pub name: NameKind,
    pub username: &'a str,
    pub fields: &'a [Field],
    pub password_hint: &'a str,
}

pub fn sign_up(frame: &Frame, form: &Form, page: &SignUp, notice: Option<&Notice>) -> Markup {
    let name_auto = match page.name {
        NameKind::Email => Some("email"),
        NameKind::Phone => Some("tel"),
        _ => Some("username"),
    };
    layout(
        frame,
        "Sign up",
        notice,
        html! {
            form method="post" action=(form.action("/signup")) novalidate {
                (csrf(form))
                (input("username", page.name.label(), page.name.kind(), page.username,
                    name_auto, true, true, None))
                @for f in page.fields {
                    (input(&f.name, &f.label, f.kind, &f.value, f.autocomplete, f.required, false,
                        (!f.required).then_some("Optional")))
                }
                (input("password", "Password", "password", "", Some("new-password"), true, false,
                    Some(page.password_hint)))
                (submit("Sign up"))
            }
            div class="links" {
                p { "Already have an account? " a class="redirect-customizable" href=(form.action("/login")) { "Sign in" } }
            }
        },
    )
}

pub struct Confirm<'a> {
    pub name: NameKind,
    pub username: &'a str,
}

pub fn confirm(frame: &Frame, form: &Form, page: &Confirm, notice: Option<&Notice>) -> Markup {
    layout(
        frame,
        "Confirm your account",
        notice,
        html! {
            form method="post" action=(form.action("/confirm")) novalidate {
                (csrf(form))
                (input("username", page.name.label(), page.name.kind(), page.username,
                    Some("username"), true, page.username.is_empty(), None))
                (input("code", "Verification code", "text", "", Some("one-time-code"), true,
                    !page.username.is_empty(), None))
                (submit("Confirm account"))
            }
            form method="post" action=(form.action("/resendcode")) class="links" {
                (csrf(form))
                input type="hidden" name="username" value=(page.username);
                p { "Didn't receive a code? " button class="link redirect-customizable" type="submit" { "Send a new code" } }
            }
            div class="links" {
                p { a class="redirect-customizable" href=(form.action("/login")) { "Back to sign in" } }
            }
        },
    )
}

pub fn forgot_password(
    frame: &Frame,
    form: &Form,
    name: NameKind,
    username: &str,
    notice: Option<&Notice>,
) -> Markup {
    layout(
        frame,
        "Forgot your password?",
        notice,
        html! {
            p class="textDescription-customizable" {
                "Enter your " (name.label().to_lowercase()) " and we will send you a code to reset your password."
            }
            form method="post" action=(form.action("/forgotPassword")) novalidate {
                (csrf(form))
                (input("username", name.label(), name.kind(), username, Some("username"), true,
                    true, None))
                (submit("Reset my password"))
            }
            div class="links" {
                p { a class="redirect-customizable" href=(form.action("/login")) { "Back to sign in" } }
            }
        },
    )
}

pub struct ResetPassword<'a> {
    pub name: NameKind,
    pub username: &'a str,
    pub password_hint: &'a str,
}

pub fn reset_password(
    frame: &Frame,
    form: &Form,
    page: &ResetPassword,
    notice: Option<&Notice>,
) -> Markup {
    layout(
        frame,
        "Reset your password",
        notice,
        html! {
            form method="post" action=(form.action("/confirmForgotPassword")) novalidate {
                (csrf(form))
                (input("username", page.name.label(), page.name.kind(), page.username,
                    Some("username"), true, page.username.is_empty(), None))
                (input("code", "Code", "text", "", Some("one-time-code"), true,
                    !page.username.is_empty(), None))
                (input("password", "New password", "password", "", Some("new-password"), true,
                    false, Some(page.password_hint)))
                (input("confirm_password", "Enter new password again", "password", "",
                    Some("new-password"), true, false, None))
                (submit("Change password"))
            }
            div class="links" {
                p { a class="redirect-customizable" href=(form.action("/forgotPassword")) { "Send a new code" } }
                p { a class="redirect-customizable" href=(form.action("/login")) { "Back to sign in" } }
            }
        },
    )
}

/// The pending sign-in a challenge page carries: the challenge session is opaque, single use
/// and bound to the client server-side.
pub struct Pending<'a> {
    pub challenge: &'a str,
    pub session: &'a str,
    pub username: &'a str,
}

fn pending(p: &Pending) -> Markup {
    html! {
        input type="hidden" name="challenge" value=(p.challenge);
        input type="hidden" name="session" value=(p.session);
        input type="hidden" name="username" value=(p.username);
    }
}

pub fn new_password(
    frame: &Frame,
    form: &Form,
    p: &Pending,
    fields: &[Field],
    password_hint: &str,
    notice: Option<&Notice>,
) -> Markup {
    layout(
        frame,
        "Change your password",
        notice,
        html! {
            p class="textDescription-customizable" { "Please enter a new password to continue." }
            form method="post" action=(form.action("/challenge")) novalidate {
                (csrf(form))
                (pending(p))
                input type="hidden" name="fields"
                    value=(fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(" "));
                // A hidden username helps password managers store the new password.
                input type="text" name="username_hint" value=(p.username) autocomplete="username" hidden;
                (input("password", "New password", "password", "", Some("new-password"), true,
                    true, Some(password_hint)))
                (input("confirm_password", "Enter new password again", "password", "",
                    Some("new-password"), true, false, None))
                @for f in fields {
                    (input(&f.name, &f.label, f.kind, &f.value, f.autocomplete, f.required, false, None))
                }
                (submit("Send"))
            }
        },
    )
}

/// The MFA code page: which factor, and where the code went (masked) when it was sent.
pub fn mfa(frame: &Frame, form: &Form, p: &Pending, what: &str, notice: Option<&Notice>) -> Markup {
    layout(
        frame,
        "Multi-factor authentication",
        notice,
        html! {
            p class="textDescription-customizable" { (what) }
            form method="post" action=(form.action("/challenge")) novalidate {
                (csrf(form))
                (pending(p))
                (input("code", "Code", "text", "", Some("one-time-code"), true, true, None))
                (submit("Sign in"))
            }
            div class="links" {
                p { a class="redirect-customizable" href=(form.action("/login")) { "Back to sign in" } }
            }
        },
    )
}

/// MFA_SETUP: the new authenticator secret, as text and as an `otpauth://` URI (no QR code
/// without JavaScript or images of our own; every authenticator app takes the key typed in).
pub fn mfa_setup(
    frame: &Frame,
    form: &Form,
    p: &Pending,
    secret: &str,
    otpauth: &str,
    notice: Option<&Notice>,
) -> Markup {
    layout(
        frame,
        "Set up multi-factor authentication",
        notice,
        html! {
            p class="textDescription-customizable" {
                "Add an account to your authenticator app with this secret key, then enter the 6-digit code it shows."
            }
            p class="secret" id="secret" { (secret) }
            p class="hint" { a href=(otpauth) { "Open in an authenticator app" } }
            form method="post" action=(form.action("/challenge")) novalidate {
                (csrf(form))
                (pending(p))
                (input("code", "Code from your authenticator app", "text", "", Some("one-time-code"),
                    true, true, None))
                (submit("Verify"))
            }
        },
    )
}

/// SELECT_MFA_TYPE: `(value, label)` per factor the user may choose.
pub fn select_mfa(
    frame: &Frame,
    form: &Form,
    p: &Pending,
    choices: &[(&str, &str)],
    notice: Option<&Notice>,
) -> Markup {
    layout(
        frame,
        "Multi-factor authentication",
        notice,
        html! {
            form method="post" action=(form.action("/challenge")) novalidate {
                (csrf(form))
                (pending(p))
                fieldset {
                    legend { "How do you want to receive your code?" }
                    @for (i, (value, label)) in choices.iter().enumerate() {
                        label class="choice" {
                            input type="radio" name="mfa_type" value=(value) required checked[i == 0];
                            (label)
                        }
                    }
                }
                (submit("Continue"))
            }
        },
    )
}

/// A page with no form: errors that must not redirect, "signed out", …
pub fn message(frame: &Frame, title: &str, notice: &Notice, back: Option<(&str, &str)>) -> Markup {
    layout(
        frame,
        title,
        Some(notice),
        html! {
            @if let Some((href, text)) = back {
                div class="links" { p { a class="redirect-customizable" href=(href) { (text) } } }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Frame<'static> {
        Frame {
            app_name: "My <App>",
            css: Some(".banner-customizable{color:red}</style><script>alert(1)</script>"),
            logo_url: Some("https://example.com/logo.png?a=1&b=\"2\""),
            nonce: "n0nce",
        }
    }

    #[test]
    fn sign_in_escapes_everything_and_labels_every_input() {
        let form = Form {
            base: "",
            query: "client_id=a&redirect_uri=https%3A%2F%2Fx%22%3E",
            csrf: "tok\"en",
        };
        let html = sign_in(
            &frame(),
            &form,
            &SignIn {
                name: NameKind::Username,
                username: "<script>alert(1)</script>",
                sign_up: true,
            },
            Some(&Notice::Error("Bad <b>thing</b>".into())),
        )
        .into_string();
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("</style><script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("My &lt;App&gt;"));
        assert!(html.contains("value=\"tok&quot;en\""));
        assert!(html.contains("role=\"alert\""));
        assert!(html.contains("Bad &lt;b&gt;thing&lt;/b&gt;"));
        assert!(html.contains("action=\"/login?client_id=a&amp;redirect_uri="));
        assert!(html.contains("autocomplete=\"current-password\""));
        assert!(html.contains("name=\"viewport\""));
        assert!(html.contains("nonce=\"n0nce\""));
        for id in ["username", "password"] {
            assert!(html.contains(&format!("for=\"{id}\"")), "label for {id}");
            assert!(html.contains(&format!("id=\"{id}\"")));
        }
    }

    #[test]
    fn client_css_cannot_close_its_style_element() {
        assert_eq!(inert_css("a{}</style>"), "a{}\\3c /style>");
    }

    #[test]
    fn sign_up_lists_the_required_attributes() {
        let fields = vec![Field {
            name: "given_name".into(),
            label: "Given name".into(),
            kind: "text",
            autocomplete: Some("given-name"),
            required: true,
            value: "J\"o".into(),
        }];
        let html = sign_up(
            &Frame::default(),
            &Form {
                base: "/auth",
                query: "client_id=a",
                csrf: "t",
            },
            &SignUp {
                name: NameKind::Email,
                username: "",
                fields: &fields,
                password_hint: "At least 8 characters",
            },
            None,
        )
        .into_string();
        assert!(html.contains("for=\"given_name\""));
        assert!(html.contains("action=\"/auth/signup?client_id=a\""));
        assert!(html.contains("value=\"J&quot;o\""));
        assert!(html.contains("type=\"email\""));
        assert!(html.contains("autocomplete=\"new-password\""));
    }
}
