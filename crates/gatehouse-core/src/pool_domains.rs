//! User pool domains (Create/Describe/Update/DeleteUserPoolDomain): the prefix domain
//! (`myapp` → `myapp.auth.<region>.amazoncognito.com` on AWS) or custom domain
//! (`auth.example.com`, with a certificate) under which a pool's hosted pages are served.
//! Names are globally unique; a pool holds at most one of each kind.

use gatehouse_store::{StoreError, UserPoolDomain};
use serde_json::Value;

use crate::env::random_lower_alnum;
use crate::error::{Error, Result};
use crate::Directory;

/// Words AWS refuses anywhere in a prefix domain.
const RESERVED_WORDS: &[&str] = &["aws", "amazon", "cognito"];

/// CustomDomainConfig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomDomainConfig {
    pub certificate_arn: String,
    pub security_policy: Option<String>,
}

/// What CreateUserPoolDomain / UpdateUserPoolDomain ask for.
#[derive(Debug, Clone, Default)]
pub struct DomainRequest {
    pub domain: String,
    pub custom_domain_config: Option<CustomDomainConfig>,
    pub managed_login_version: Option<i64>,
    pub routing: Option<Value>,
}

const PREFIX_FORMAT: &str = "^[a-z0-9](?:[a-z0-9\\-]{0,61}[a-z0-9])?$";

/// `^[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?$`
fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (1..=63).contains(&b.len())
        && b.first().is_some_and(ok)
        && b.last().is_some_and(ok)
        && b.iter().all(|c| ok(c) || *c == b'-')
}

fn check_prefix(domain: &str) -> Result<()> {
    if !is_label(domain) {
        return Err(Error::invalid(format!(
            "The domain name contains an invalid character. Domain names can only contain lower-case letters, numbers, and hyphens. Please enter a different name that follows this format: {PREFIX_FORMAT}"
        )));
    }
    if let Some(word) = RESERVED_WORDS.iter().find(|w| domain.contains(*w)) {
        return Err(Error::invalid(format!(
            "Domain cannot contain reserved word: {word}"
        )));
    }
    Ok(())
}

/// A fully-qualified name under a parent domain: AWS refuses top-level domains (and checks the
/// parent's DNS, which a self-hosted server cannot do meaningfully).
fn check_custom(domain: &str) -> Result<()> {
    let labels: Vec<&str> = domain.split('.').collect();
    let ok = labels.len() >= 2
        && labels.iter().all(|l| {
            let b = l.as_bytes();
            let c = |c: &u8| c.is_ascii_alphanumeric();
            (1..=63).contains(&b.len())
                && b.first().is_some_and(c)
                && b.last().is_some_and(c)
                && b.iter().all(|x| c(x) || *x == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "Custom domain is not a valid subdomain: {domain}"
        )))
    }
}

fn check_version(v: Option<i64>) -> Result<i64> {
    match v.unwrap_or(1) {
        v @ (1 | 2) => Ok(v),
        other => Err(Error::invalid(format!(
            "Invalid ManagedLoginVersion {other}: it must be 1 (hosted UI classic) or 2 (managed login)."
        ))),
    }
}

fn routing_needs_custom() -> Error {
    Error::invalid("Routing configuration is only supported for custom domains.")
}

fn not_owned() -> Error {
    Error::invalid("No such domain or user pool exists.")
}

/// `yyyyMMddHHmmss`, the shape of AWS's domain and CSS versions.
pub(crate) fn version_stamp(secs: i64) -> String {
    let fmt = time::macros::format_description!("[year][month][day][hour][minute][second]");
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| secs.to_string())
}

impl Directory {
    pub async fn create_pool_domain(
        &self,
        pool_id: &str,
        req: DomainRequest,
    ) -> Result<UserPoolDomain> {
        self.pool(pool_id).await?;
        let custom = req.custom_domain_config.is_some();
        if custom {
            check_custom(&req.domain)?;
        } else {
            check_prefix(&req.domain)?;
        }
        let version = check_version(req.managed_login_version)?;
        if !custom && req.routing.is_some() {
            return Err(routing_needs_custom());
        }
        let existing = self.store.pool_domains(pool_id).await?;
        if existing.iter().any(|d| d.custom == custom) {
            return Err(Error::invalid("User pool already has a domain configured."));
        }
        let taken = || Error::invalid("Domain already associated with another user pool.");
        if self.store.get_domain(&req.domain).await?.is_some() {
            return Err(taken());
        }
        let now = self.now();
        let (certificate_arn, security_policy) = match req.custom_domain_config {
            Some(c) => (Some(c.certificate_arn), c.security_policy),
            None => (None, None),
        };
        let domain = UserPoolDomain {
            domain: req.domain,
            pool_id: pool_id.to_string(),
            custom,
            certificate_arn,
            security_policy,
            managed_login_version: version,
            routing: req.routing,
            cloudfront_distribution: format!(
                "d{}.cloudfront.net",
                random_lower_alnum(&*self.rng, 13)
            ),
            version: version_stamp(now),
            created: now,
            modified: now,
        };
        match self.store.insert_domain(&domain).await {
            Ok(()) => {}
            // Lost a race for the name (or for the pool's slot).
            Err(StoreError::Conflict(_)) => return Err(taken()),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(%pool_id, domain = %domain.domain, custom, "user pool domain created");
        Ok(domain)
    }

    /// `None` for a domain nobody has (AWS answers with an empty description, not an error).
    pub async fn describe_pool_domain(&self, domain: &str) -> Result<Option<UserPoolDomain>> {
        Ok(self.store.get_domain(domain).await?)
    }

    /// The pool's domains, prefix first (DescribeUserPool's `Domain` and `CustomDomain`).
    pub async fn pool_domains(&self, pool_id: &str) -> Result<Vec<UserPoolDomain>> {
        Ok(self.store.pool_domains(pool_id).await?)
    }

    /// Changes the branding version and, for a custom domain, its certificate. The name never
    /// changes (delete and create for that).
    pub async fn update_pool_domain(
        &self,
        pool_id: &str,
        req: DomainRequest,
    ) -> Result<UserPoolDomain> {
        self.pool(pool_id).await?;
        let mut domain = match self.store.get_domain(&req.domain).await? {
            Some(d) if d.pool_id == pool_id => d,
            _ => return Err(not_owned()),
        };
        // Left out, the branding version stays (a certificate renewal must not reset it).
        if req.managed_login_version.is_some() {
            domain.managed_login_version = check_version(req.managed_login_version)?;
        }
        match (domain.custom, req.custom_domain_config) {
            (true, Some(c)) => {
                domain.certificate_arn = Some(c.certificate_arn);
                domain.security_policy = c.security_policy;
            }
            (true, None) => {}
            (false, Some(_)) => {
                return Err(Error::invalid(
                    "CustomDomainConfig can only be set for a custom domain.",
                ))
            }
            (false, None) => {}
        }
        if req.routing.is_some() {
            if !domain.custom {
                return Err(routing_needs_custom());
            }
            domain.routing = req.routing;
        }
        let now = self.now();
        domain.modified = now;
        domain.version = version_stamp(now);
        match self.store.update_domain(&domain).await {
            Ok(()) => Ok(domain),
            Err(StoreError::NotFound) => Err(not_owned()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete_pool_domain(&self, pool_id: &str, domain: &str) -> Result<()> {
        self.pool(pool_id).await?;
        match self.store.delete_domain(pool_id, domain).await {
            Ok(()) => {
                tracing::info!(%pool_id, %domain, "user pool domain deleted");
                Ok(())
            }
            Err(StoreError::NotFound) => Err(not_owned()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_follow_aws_pattern_and_reserved_words() {
        assert!(check_prefix("my-app-1").is_ok());
        assert!(check_prefix("a").is_ok());
        for bad in ["-a", "a-", "My", "a.b", "", "a_b"] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
        assert!(check_prefix(&"a".repeat(63)).is_ok());
        assert!(check_prefix(&"a".repeat(64)).is_err());
        let e = check_prefix("newcognito").unwrap_err().to_string();
        assert_eq!(e, "Domain cannot contain reserved word: cognito");
        assert!(check_prefix("myaws").is_err());
    }

    #[test]
    fn custom_domains_need_a_parent() {
        assert!(check_custom("auth.example.com").is_ok());
        assert!(check_custom("localhost").is_err());
        assert!(check_custom("a..b").is_err());
        assert!(check_custom("-a.example.com").is_err());
    }

    #[test]
    fn version_stamps_look_like_aws() {
        assert_eq!(version_stamp(1_548_698_042), "20190128175402");
    }
}
