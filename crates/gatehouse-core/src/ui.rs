//! The hosted UI's look (SetUICustomization / GetUICustomization): CSS limited to the classes
//! AWS lets one style, and a PNG or JPEG logo of at most 100 KB, for one app client or for the
//! whole pool (`ALL`). A client's own customization replaces the pool's; the hosted pages ask
//! `Directory::ui_customization` which one applies.

use gatehouse_store::UiCustomization as Stored;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::pool_domains::version_stamp;
use crate::Directory;

/// The client id that names the pool's default.
pub const ALL_CLIENTS: &str = "ALL";

/// AWS: "Your logo file can be no larger than 100 KB in size".
pub const MAX_IMAGE_BYTES: usize = 100 * 1024;

/// The classes (and their pseudo-classes) of the classic hosted UI one may style.
pub const CSS_CLASSES: &[&str] = &[
    "background-customizable",
    "banner-customizable",
    "errorMessage-customizable",
    "idpButton-customizable",
    "idpButton-customizable:hover",
    "idpDescription-customizable",
    "inputField-customizable",
    "inputField-customizable:focus",
    "label-customizable",
    "legalText-customizable",
    "logo-customizable",
    "passwordCheck-notValid-customizable",
    "passwordCheck-valid-customizable",
    "redirect-customizable",
    "socialButton-customizable",
    "submitButton-customizable",
    "submitButton-customizable:hover",
    "textDescription-customizable",
];

/// A logo, ready to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    pub bytes: Vec<u8>,
    /// `image/png` or `image/jpeg`.
    pub content_type: String,
    /// `png` or `jpg`: the file name the URL ends with.
    pub extension: &'static str,
    /// Changes with the bytes; the URL carries it so caches can keep a version forever.
    pub version: String,
    /// `<public-url>/<poolId>/ui/<clientId|ALL>/logo.<ext>?v=<version>`
    pub url: String,
}

/// The look of the hosted pages for a client: its own, or the pool's (`client_id` = `ALL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiCustomization {
    pub pool_id: String,
    pub client_id: String,
    pub css: Option<String>,
    pub css_version: Option<String>,
    pub logo: Option<Logo>,
    pub created: i64,
    pub modified: i64,
}

fn sniff(image: &[u8]) -> Option<(&'static str, &'static str)> {
    if image.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some(("image/png", "png"))
    } else if image.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("image/jpeg", "jpg"))
    } else {
        None
    }
}

fn extension_of(content_type: &str) -> &'static str {
    if content_type == "image/png" {
        "png"
    } else {
        "jpg"
    }
}

fn css_error(detail: impl std::fmt::Display) -> Error {
    Error::invalid(format!("Invalid CSS: {detail}"))
}

/// What AWS allows in the CSS: rules whose selectors are only the customizable classes, and no
/// HTML, at-rules (`@import`, `@media`, ...) or script anywhere.
pub fn check_css(css: &str) -> Result<()> {
    let lower = css.to_ascii_lowercase();
    // Backslash escapes could spell any of these; AWS's own template needs none.
    for banned in ["<", ">", "@", "javascript:", "expression(", "\\"] {
        if lower.contains(banned) {
            return Err(css_error(format!("'{banned}' is not allowed")));
        }
    }
    let mut rest = strip_comments(css)?;
    loop {
        let trimmed = rest.trim_start();
        if trimmed.is_empty() {
            return Ok(());
        }
        let Some(open) = trimmed.find('{') else {
            return Err(css_error("a rule has no declaration block"));
        };
        let Some(close_rel) = trimmed[open..].find('}') else {
            return Err(css_error("a declaration block is not closed"));
        };
        let close = open + close_rel;
        let block = &trimmed[open + 1..close];
        if block.contains('{') {
            return Err(css_error("nested blocks are not allowed"));
        }
        for selector in trimmed[..open].split(',') {
            let s = selector.trim();
            let class = s.strip_prefix('.').unwrap_or("");
            if !CSS_CLASSES.contains(&class) {
                return Err(css_error(format!(
                    "the selector '{}' is not one of the customizable classes",
                    s.chars().take(64).collect::<String>()
                )));
            }
        }
        rest = trimmed[close + 1..].to_string();
    }
}

/// The CSS as a browser tokenizes it, less what cannot carry structure: comments (a space, as
/// they separate tokens) and the contents of strings (kept as `""`). A `/*` or `}` inside a
/// string is text, not a comment or the end of a block, so the rules checked are the rules a
/// browser applies.
fn strip_comments(css: &str) -> Result<String> {
    let mut out = String::with_capacity(css.len());
    let mut chars = css.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                loop {
                    match chars.next() {
                        Some('/') if prev == '*' => break,
                        Some(x) => prev = x,
                        None => return Err(css_error("a comment is not closed")),
                    }
                }
                out.push(' ');
            }
            '"' | '\'' => {
                loop {
                    match chars.next() {
                        Some(x) if x == c => break,
                        Some('\n' | '\r' | '\x0c') | None => {
                            return Err(css_error("a string is not closed"))
                        }
                        Some(_) => {}
                    }
                }
                out.push(c);
                out.push(c);
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

impl Directory {
    /// SetUICustomization. Neither CSS nor image removes the customization (a client then
    /// falls back to the pool's).
    pub async fn set_ui_customization(
        &self,
        pool_id: &str,
        client_id: Option<&str>,
        css: Option<String>,
        image: Option<Vec<u8>>,
    ) -> Result<Option<UiCustomization>> {
        self.pool(pool_id).await?;
        let client_id = client_id.unwrap_or(ALL_CLIENTS);
        if client_id != ALL_CLIENTS {
            self.describe_client(pool_id, client_id).await?;
        }
        if self.store.pool_domains(pool_id).await?.is_empty() {
            return Err(Error::invalid(
                "There has to be an existing domain associated with this user pool",
            ));
        }
        let css = css.filter(|c| !c.trim().is_empty());
        let image = image.filter(|i| !i.is_empty());
        if let Some(c) = &css {
            check_css(c)?;
        }
        let image_type =
            match &image {
                Some(bytes) => {
                    if bytes.len() > MAX_IMAGE_BYTES {
                        return Err(Error::invalid(format!(
                            "The image file is {} bytes; it can be no larger than 100 KB.",
                            bytes.len()
                        )));
                    }
                    Some(sniff(bytes).ok_or_else(|| {
                        Error::invalid("The image file must be a PNG or JPEG image.")
                    })?)
                }
                None => None,
            };
        if css.is_none() && image.is_none() {
            self.store
                .delete_ui_customization(pool_id, client_id)
                .await?;
            return Ok(None);
        }
        let now = self.now();
        let created = self
            .store
            .get_ui_customization(pool_id, client_id)
            .await?
            .map_or(now, |u| u.created);
        let stored = Stored {
            pool_id: pool_id.to_string(),
            client_id: client_id.to_string(),
            css_version: css.as_ref().map(|_| version_stamp(now)),
            css,
            image_content_type: image_type.map(|(t, _)| t.to_string()),
            image_version: image.as_ref().map(|b| {
                let digest = Sha256::digest(b);
                hex::encode(&digest[..8])
            }),
            image,
            created,
            modified: now,
        };
        self.store.put_ui_customization(&stored).await?;
        Ok(Some(self.ui_view(stored)))
    }

    /// GetUICustomization: the client's own customization, else the pool's (`ALL`); `None`
    /// when neither exists. With no client, the pool's.
    pub async fn get_ui_customization(
        &self,
        pool_id: &str,
        client_id: Option<&str>,
    ) -> Result<Option<UiCustomization>> {
        self.pool(pool_id).await?;
        if let Some(c) = client_id.filter(|c| *c != ALL_CLIENTS) {
            self.describe_client(pool_id, c).await?;
        }
        self.applicable_ui(pool_id, client_id).await
    }

    /// The look the hosted pages give `client_id` (its own, else the pool's), with the logo's
    /// bytes and URL. For the hosted pages: no ownership checks beyond the pool's.
    pub async fn ui_customization(
        &self,
        pool_id: &str,
        client_id: &str,
    ) -> Result<Option<UiCustomization>> {
        self.applicable_ui(pool_id, Some(client_id)).await
    }

    async fn applicable_ui(
        &self,
        pool_id: &str,
        client_id: Option<&str>,
    ) -> Result<Option<UiCustomization>> {
        if let Some(c) = client_id.filter(|c| *c != ALL_CLIENTS) {
            if let Some(own) = self.store.get_ui_customization(pool_id, c).await? {
                return Ok(Some(self.ui_view(own)));
            }
        }
        Ok(self
            .store
            .get_ui_customization(pool_id, ALL_CLIENTS)
            .await?
            .map(|u| self.ui_view(u)))
    }

    /// The logo stored for exactly this client (or `ALL`), for serving its URL.
    pub async fn ui_logo(&self, pool_id: &str, client_id: &str) -> Result<Option<Logo>> {
        Ok(self
            .store
            .get_ui_customization(pool_id, client_id)
            .await?
            .and_then(|u| self.ui_view(u).logo))
    }

    fn ui_view(&self, u: Stored) -> UiCustomization {
        let logo = match (u.image, u.image_content_type) {
            (Some(bytes), Some(content_type)) => {
                let extension = extension_of(&content_type);
                let version = u.image_version.unwrap_or_default();
                let url = format!(
                    "{}/{}/ui/{}/logo.{extension}?v={version}",
                    self.config.public_url.trim_end_matches('/'),
                    u.pool_id,
                    u.client_id
                );
                Some(Logo {
                    bytes,
                    content_type,
                    extension,
                    version,
                    url,
                })
            }
            _ => None,
        };
        UiCustomization {
            pool_id: u.pool_id,
            client_id: u.client_id,
            css: u.css,
            css_version: u.css_version,
            logo,
            created: u.created,
            modified: u.modified,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn css_is_limited_to_the_customizable_classes() {
        let aws_template = ".logo-customizable {\n\tmax-width: 60%;\n\tmax-height: 30%;\n}\n.banner-customizable {\n\tpadding: 25px 0px 25px 0px;\n\tbackground-color: lightgray;\n}\n.submitButton-customizable:hover {\n\tcolor: #fff;\n}\n/* a comment */ .inputField-customizable:focus, .label-customizable { outline: 0; }";
        assert!(check_css(aws_template).is_ok());
        assert!(check_css("").is_ok());
        assert!(check_css(
            ".banner-customizable { font-family: \"Helvetica Neue\", 'Segoe UI'; content: \"}\"; }"
        )
        .is_ok());
        for bad in [
            "body { color: red; }",
            ".banner-customizable div { color: red; }",
            ".banner-customizable { color: red; ",
            "@import url(http://evil.example.com/x.css);",
            "@media (max-width: 1px) { .banner-customizable { color: red; } }",
            ".banner-customizable { background: url(javascript:alert(1)); }",
            ".banner-customizable { color: red; } </style><script>alert(1)</script>",
            ".banner-customizable { color: red; } /* unterminated",
            ".banner-customizable { color: { red } }",
            // A comment opener inside a string is text to a browser: the rule between the two
            // strings is a real rule, with a selector of the attacker's choosing.
            ".banner-customizable { content: \"/*\"; } input[value^=a] { background: url(https://evil.example/a); } .logo-customizable { content: \"*/\"; }",
            ".banner-customizable { content: '/*'; } input[value^=a] { color: red; } .logo-customizable { content: '*/'; }",
            ".banner-customizable { content: \"unterminated; }",
            ".banner/**/-customizable { color: red; }",
        ] {
            assert!(check_css(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn images_are_png_or_jpeg() {
        assert_eq!(
            sniff(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0]),
            Some(("image/png", "png"))
        );
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(("image/jpeg", "jpg"))
        );
        assert_eq!(sniff(b"GIF89a"), None);
    }
}
