//! Custom domain names and API mappings: a domain name routes the requests whose Host is that
//! name, each mapping sends the ones under its key (a path prefix of whole segments; empty for
//! the root) to one stage of an API. The rules are AWS's: mapping keys of letters, digits and
//! `$-_.+!*'()/` up to 300 characters, unique per domain; the stage must exist; HTTP APIs only
//! on REGIONAL domains with the TLS_1_2 policy; an API or stage with mappings cannot be deleted.

use std::collections::BTreeMap;

use gatehouse_store::domains::{ApiMapping, DomainName, DomainNameConfiguration, MutualTls};
use gatehouse_store::{Page, StoreError};

use super::edit::{check_max_results, paginate};
use super::error::{ApiError, ApiResult};
use super::ApiService;
use crate::env::random_lower_alnum;

/// Members of CreateDomainName / UpdateDomainName; `None` leaves a member as it is.
#[derive(Debug, Clone, Default)]
pub struct DomainNameInput {
    pub domain_name: Option<String>,
    pub configurations: Option<Vec<DomainNameConfigurationInput>>,
    /// (truststoreUri, truststoreVersion).
    pub mutual_tls: Option<(Option<String>, Option<String>)>,
    pub routing_mode: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default)]
pub struct DomainNameConfigurationInput {
    pub certificate_arn: Option<String>,
    pub certificate_name: Option<String>,
    pub endpoint_type: Option<String>,
    pub security_policy: Option<String>,
    pub ip_address_type: Option<String>,
    pub ownership_verification_certificate_arn: Option<String>,
}

/// Members of CreateApiMapping / UpdateApiMapping.
#[derive(Debug, Clone, Default)]
pub struct ApiMappingInput {
    pub api_id: Option<String>,
    pub api_mapping_key: Option<String>,
    pub stage: Option<String>,
}

/// The only routing mode served: requests are routed by their API mappings.
pub const API_MAPPING_ONLY: &str = "API_MAPPING_ONLY";
/// Longest mapping key, as AWS's.
const MAX_KEY_LEN: usize = 300;
const MAPPING_ID_LEN: usize = 6;
/// The hosted zone of every edge-optimized endpoint (CloudFront).
const EDGE_HOSTED_ZONE: &str = "Z2FDTNDATAQYW2";

/// Route 53 hosted zones of API Gateway's regional endpoints, as AWS publishes them.
fn regional_hosted_zone(region: &str) -> Option<&'static str> {
    Some(match region {
        "us-east-1" => "Z1UJRXOUMOOFQ8",
        "us-east-2" => "ZOJJZC49E0EPZ",
        "us-west-1" => "Z2MUQ32089INYE",
        "us-west-2" => "Z2OJLYMUO9EFXC",
        "ap-south-1" => "Z3VO1THU9YC4UR",
        "ap-northeast-1" => "Z1YSHQZHG15GKL",
        "ap-northeast-2" => "Z20JF4UZKIW1U8",
        "ap-northeast-3" => "Z2YQB5RD63NC85",
        "ap-southeast-1" => "ZL327KTPIQFUL",
        "ap-southeast-2" => "Z2RPCDW04V8134",
        "ca-central-1" => "Z19DQILCV0OWEC",
        "eu-central-1" => "Z1U9ULNL0V5AJ3",
        "eu-west-1" => "ZLY8HYME6SFDD",
        "eu-west-2" => "ZJ5UAJN8Y3Z2Q",
        "eu-west-3" => "Z3KY65QIEKYHQQ",
        "sa-east-1" => "ZCMLWB8V5SYIT",
        _ => return None,
    })
}

fn domain_not_found() -> ApiError {
    ApiError::not_found("Invalid domain name identifier specified")
}

fn mapping_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Invalid ApiMapping identifier specified {id}"))
}

fn key_taken() -> ApiError {
    ApiError::conflict("ApiMapping key already exists for this domain name")
}

/// A domain name as it is stored and looked up: lower case, without a trailing dot. A host
/// name of labels of letters, digits and hyphens, optionally `*.` in front (a wildcard name).
pub fn normalize_domain_name(name: &str) -> ApiResult<String> {
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    let invalid = || {
        ApiError::bad(format!(
            "Invalid domain name: {name}. Use a host name such as api.example.com"
        ))
    };
    let host = name.strip_prefix("*.").unwrap_or(&name);
    let labels: Vec<&str> = host.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if name.len() > 253 || labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err(invalid());
    }
    Ok(name)
}

/// AWS's rules for an API mapping key: empty (the root), or segments of letters, digits and
/// `$-_.+!*'()` separated by single slashes, at most 300 characters.
pub fn check_mapping_key(key: &str) -> ApiResult<()> {
    if key.is_empty() {
        return Ok(());
    }
    if key.len() > MAX_KEY_LEN {
        return Err(ApiError::bad(format!(
            "Invalid API mapping key: it must be at most {MAX_KEY_LEN} characters"
        )));
    }
    if let Some(c) = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "$-_.+!*'()/".contains(*c)))
    {
        return Err(ApiError::bad(format!(
            "Invalid API mapping key {key}: '{c}' is not allowed. Use letters, numbers and $-_.+!*'()/"
        )));
    }
    if key.starts_with('/') || key.ends_with('/') || key.contains("//") {
        return Err(ApiError::bad(format!(
            "Invalid API mapping key {key}: it cannot begin or end with '/' or contain '//'"
        )));
    }
    Ok(())
}

fn one_of(member: &str, value: Option<String>, allowed: &[&str]) -> ApiResult<String> {
    let value = value.unwrap_or_else(|| allowed.first().copied().unwrap_or("").to_string());
    if allowed.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(ApiError::bad(format!(
            "Invalid {member}: {value}. Use one of {}",
            allowed.join(", ")
        )))
    }
}

fn check_routing_mode(mode: Option<String>) -> ApiResult<String> {
    match mode {
        None => Ok(API_MAPPING_ONLY.into()),
        Some(m) if m == API_MAPPING_ONLY => Ok(m),
        Some(m) if m == "ROUTING_RULE_ONLY" || m == "ROUTING_RULE_THEN_API_MAPPING" => {
            Err(ApiError::bad(format!(
                "routingMode {m} is not supported by Gatehouse: routing rules are not built; use API_MAPPING_ONLY"
            )))
        }
        Some(m) => Err(ApiError::bad(format!(
            "Invalid routingMode: {m}. Use API_MAPPING_ONLY"
        ))),
    }
}

fn check_mutual_tls(input: (Option<String>, Option<String>)) -> ApiResult<Option<MutualTls>> {
    match input {
        (None, None) => Ok(None),
        (Some(uri), version) if uri.starts_with("s3://") && uri.len() <= 2048 => {
            Ok(Some(MutualTls {
                truststore_uri: uri,
                truststore_version: version,
            }))
        }
        (Some(uri), _) => Err(ApiError::bad(format!(
            "Invalid truststoreUri: {uri}. Use an s3:// URL"
        ))),
        (None, Some(_)) => Err(ApiError::bad(
            "truststoreUri is required with truststoreVersion",
        )),
    }
}

fn check_tags(tags: &BTreeMap<String, String>) -> ApiResult<()> {
    for k in tags.keys() {
        if k.is_empty() || k.chars().count() > 128 || k.starts_with("aws:") {
            return Err(ApiError::bad(format!("Invalid tag key: {k}")));
        }
    }
    Ok(())
}

/// Whether HTTP APIs may be mapped to the domain (AWS: REGIONAL and TLS_1_2 only).
fn serves_http_apis(domain: &DomainName) -> bool {
    domain
        .configurations
        .iter()
        .all(|c| c.endpoint_type == "REGIONAL" && c.security_policy == "TLS_1_2")
}

impl ApiService {
    /// `arn:aws:apigateway:{region}::/domainnames/{name}`.
    pub fn domain_name_arn(&self, name: &str) -> String {
        format!("arn:aws:apigateway:{}::/domainnames/{name}", self.region)
    }

    /// One configuration from its input; `previous` keeps the DNS target of the same endpoint
    /// type across an update.
    fn configuration(
        &self,
        input: DomainNameConfigurationInput,
        previous: &[DomainNameConfiguration],
    ) -> ApiResult<DomainNameConfiguration> {
        let endpoint_type = one_of("endpointType", input.endpoint_type, &["REGIONAL", "EDGE"])?;
        let security_policy = one_of(
            "securityPolicy",
            input.security_policy,
            &["TLS_1_2", "TLS_1_0"],
        )?;
        let ip_address_type = one_of(
            "ipAddressType",
            input.ip_address_type,
            &["ipv4", "dualstack"],
        )?;
        let target = previous
            .iter()
            .find(|c| c.endpoint_type == endpoint_type)
            .map(|c| c.api_gateway_domain_name.clone())
            .unwrap_or_else(|| {
                // Where a DNS record of the domain would point: this gateway's listener (any
                // `*.localhost` name reaches loopback), shaped like AWS's `d-…` targets.
                let host = self
                    .endpoint_suffix
                    .split(':')
                    .next()
                    .unwrap_or("localhost");
                format!(
                    "d-{}.execute-api.{host}",
                    random_lower_alnum(self.rng.as_ref(), 10)
                )
            });
        let hosted_zone_id = if endpoint_type == "EDGE" {
            Some(EDGE_HOSTED_ZONE.to_string())
        } else {
            regional_hosted_zone(&self.region).map(str::to_string)
        };
        Ok(DomainNameConfiguration {
            api_gateway_domain_name: target,
            certificate_arn: input.certificate_arn,
            certificate_name: input.certificate_name,
            certificate_upload_date: None,
            endpoint_type,
            hosted_zone_id,
            ip_address_type,
            security_policy,
            ownership_verification_certificate_arn: input.ownership_verification_certificate_arn,
        })
    }

    fn configurations(
        &self,
        input: Vec<DomainNameConfigurationInput>,
        previous: &[DomainNameConfiguration],
    ) -> ApiResult<Vec<DomainNameConfiguration>> {
        let configs = if input.is_empty() {
            vec![DomainNameConfigurationInput::default()]
        } else {
            input
        };
        let configs: Vec<DomainNameConfiguration> = configs
            .into_iter()
            .map(|c| self.configuration(c, previous))
            .collect::<ApiResult<_>>()?;
        let regional = configs.iter().filter(|c| c.endpoint_type == "REGIONAL");
        let edge = configs.iter().filter(|c| c.endpoint_type == "EDGE");
        if regional.count() > 1 || edge.count() > 1 {
            return Err(ApiError::bad(
                "At most one domain name configuration per endpoint type",
            ));
        }
        Ok(configs)
    }

    async fn load_domain(&self, name: &str) -> ApiResult<DomainName> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.store
            .get_domain_name(&name)
            .await?
            .ok_or_else(domain_not_found)
    }

    pub async fn create_domain_name(&self, input: DomainNameInput) -> ApiResult<DomainName> {
        let name = input
            .domain_name
            .as_deref()
            .ok_or_else(|| ApiError::bad("DomainName is required"))?;
        let name = normalize_domain_name(name)?;
        let tags = input.tags.unwrap_or_default();
        check_tags(&tags)?;
        let domain = DomainName {
            configurations: self.configurations(input.configurations.unwrap_or_default(), &[])?,
            mutual_tls: input
                .mutual_tls
                .map(check_mutual_tls)
                .transpose()?
                .flatten(),
            routing_mode: check_routing_mode(input.routing_mode)?,
            tags,
            created: self.clock.now(),
            name,
        };
        match self.store.insert_domain_name(&domain).await {
            Ok(()) => Ok(domain),
            Err(StoreError::Conflict(_)) => Err(ApiError::conflict(
                "The domain name you provided already exists.",
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_domain_name(&self, name: &str) -> ApiResult<DomainName> {
        self.load_domain(name).await
    }

    /// Domain names ordered by name; the token is the last name of the previous page.
    pub async fn list_domain_names(
        &self,
        max_results: Option<usize>,
        next_token: Option<String>,
    ) -> ApiResult<(Vec<DomainName>, Option<String>)> {
        let max = check_max_results(max_results)?;
        let mut items = self
            .store
            .list_domain_names(&Page {
                limit: max + 1,
                after: next_token,
            })
            .await?;
        let next = if items.len() > max {
            items.truncate(max);
            items.last().map(|d| d.name.clone())
        } else {
            None
        };
        Ok((items, next))
    }

    pub async fn update_domain_name(
        &self,
        name: &str,
        input: DomainNameInput,
    ) -> ApiResult<DomainName> {
        let _guard = self.edit_lock.lock().await;
        let mut domain = self.load_domain(name).await?;
        if let Some(configs) = input.configurations {
            domain.configurations = self.configurations(configs, &domain.configurations)?;
            if !serves_http_apis(&domain) {
                let mappings = self.store.list_api_mappings(&domain.name).await?;
                if !mappings.is_empty() {
                    return Err(ApiError::bad(
                        "HTTP APIs are mapped to this domain name: it must stay REGIONAL with the TLS_1_2 security policy",
                    ));
                }
            }
        }
        if let Some(m) = input.mutual_tls {
            domain.mutual_tls = check_mutual_tls(m)?;
        }
        if input.routing_mode.is_some() {
            domain.routing_mode = check_routing_mode(input.routing_mode)?;
        }
        if let Some(tags) = input.tags {
            check_tags(&tags)?;
            domain.tags.extend(tags);
        }
        match self.store.update_domain_name(&domain).await {
            Ok(()) => Ok(domain),
            Err(StoreError::NotFound) => Err(domain_not_found()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the domain name with its API mappings.
    pub async fn delete_domain_name(&self, name: &str) -> ApiResult<()> {
        let _guard = self.edit_lock.lock().await;
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        match self.store.delete_domain_name(&name).await {
            Ok(()) => {
                self.bump();
                Ok(())
            }
            Err(StoreError::NotFound) => Err(domain_not_found()),
            Err(e) => Err(e.into()),
        }
    }

    /// Tags of a domain name: `remove` keys dropped, then `add` merged.
    pub(crate) async fn tag_domain_name(
        &self,
        name: &str,
        add: BTreeMap<String, String>,
        remove: &[String],
    ) -> ApiResult<()> {
        check_tags(&add)?;
        let _guard = self.edit_lock.lock().await;
        let mut domain = self.load_domain(name).await?;
        for k in remove {
            domain.tags.remove(k);
        }
        domain.tags.extend(add);
        self.store.update_domain_name(&domain).await?;
        Ok(())
    }

    /// Checks a mapping against the domain, the API and its stage (under the edit lock).
    async fn check_mapping(&self, domain: &DomainName, mapping: &ApiMapping) -> ApiResult<()> {
        check_mapping_key(&mapping.key)?;
        let Some(api) = self.store.get_api(&mapping.api_id).await? else {
            // A REST API (v1) of the same id namespace: its stages are mapped the same way.
            let rest = self
                .store
                .get_rest_api(&mapping.api_id)
                .await?
                .ok_or_else(|| Self::api_not_found(&mapping.api_id))?;
            if !rest.stages.iter().any(|s| s.name == mapping.stage) {
                return Err(ApiError::bad(format!(
                    "Invalid stage identifier specified {}",
                    mapping.stage
                )));
            }
            return Ok(());
        };
        if !api.stages.iter().any(|s| s.name == mapping.stage) {
            return Err(ApiError::bad(format!(
                "Invalid stage identifier specified {}",
                mapping.stage
            )));
        }
        if api.protocol_type == "HTTP" && !serves_http_apis(domain) {
            return Err(ApiError::bad(
                "HTTP APIs can only be mapped to a REGIONAL domain name with the TLS_1_2 security policy",
            ));
        }
        Ok(())
    }

    pub async fn create_api_mapping(
        &self,
        domain_name: &str,
        input: ApiMappingInput,
    ) -> ApiResult<ApiMapping> {
        let api_id = input
            .api_id
            .ok_or_else(|| ApiError::bad("ApiId is required"))?;
        let stage = input
            .stage
            .ok_or_else(|| ApiError::bad("Stage is required"))?;
        let _guard = self.edit_lock.lock().await;
        let domain = self.load_domain(domain_name).await?;
        let existing = self.store.list_api_mappings(&domain.name).await?;
        let mut mapping = ApiMapping {
            id: String::new(),
            domain_name: domain.name.clone(),
            api_id,
            stage,
            key: input.api_mapping_key.unwrap_or_default(),
        };
        self.check_mapping(&domain, &mapping).await?;
        if existing.iter().any(|m| m.key == mapping.key) {
            return Err(key_taken());
        }
        mapping.id = loop {
            let id = random_lower_alnum(self.rng.as_ref(), MAPPING_ID_LEN);
            if !existing.iter().any(|m| m.id == id) {
                break id;
            }
        };
        match self.store.insert_api_mapping(&mapping).await {
            Ok(()) => {
                self.bump();
                Ok(mapping)
            }
            Err(StoreError::Conflict(_)) => Err(key_taken()),
            Err(StoreError::NotFound) => Err(domain_not_found()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_api_mapping(&self, domain_name: &str, id: &str) -> ApiResult<ApiMapping> {
        let domain = self.load_domain(domain_name).await?;
        self.store
            .get_api_mapping(&domain.name, id)
            .await?
            .ok_or_else(|| mapping_not_found(id))
    }

    pub async fn list_api_mappings(
        &self,
        domain_name: &str,
        max_results: Option<usize>,
        next_token: Option<&str>,
    ) -> ApiResult<(Vec<ApiMapping>, Option<String>)> {
        let domain = self.load_domain(domain_name).await?;
        let items = self.store.list_api_mappings(&domain.name).await?;
        paginate(&items, max_results, next_token)
    }

    pub async fn update_api_mapping(
        &self,
        domain_name: &str,
        id: &str,
        input: ApiMappingInput,
    ) -> ApiResult<ApiMapping> {
        let _guard = self.edit_lock.lock().await;
        let domain = self.load_domain(domain_name).await?;
        let existing = self.store.list_api_mappings(&domain.name).await?;
        let mut mapping = existing
            .iter()
            .find(|m| m.id == id)
            .cloned()
            .ok_or_else(|| mapping_not_found(id))?;
        if let Some(api_id) = input.api_id {
            mapping.api_id = api_id;
        }
        if let Some(stage) = input.stage {
            mapping.stage = stage;
        }
        if let Some(key) = input.api_mapping_key {
            mapping.key = key;
        }
        self.check_mapping(&domain, &mapping).await?;
        if existing.iter().any(|m| m.key == mapping.key && m.id != id) {
            return Err(key_taken());
        }
        match self.store.update_api_mapping(&mapping).await {
            Ok(()) => {
                self.bump();
                Ok(mapping)
            }
            Err(StoreError::Conflict(_)) => Err(key_taken()),
            Err(StoreError::NotFound) => Err(mapping_not_found(id)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete_api_mapping(&self, domain_name: &str, id: &str) -> ApiResult<()> {
        let _guard = self.edit_lock.lock().await;
        let domain = self.load_domain(domain_name).await?;
        match self.store.delete_api_mapping(&domain.name, id).await {
            Ok(()) => {
                self.bump();
                Ok(())
            }
            Err(StoreError::NotFound) => Err(mapping_not_found(id)),
            Err(e) => Err(e.into()),
        }
    }

    /// Refuses while a custom domain maps to the API (or to that stage of it), as AWS does:
    /// the mappings must be removed first. Called under the edit lock.
    pub(crate) async fn check_unmapped(&self, api_id: &str, stage: Option<&str>) -> ApiResult<()> {
        let mappings = self.store.api_mappings_to(api_id, stage).await?;
        if mappings.is_empty() {
            return Ok(());
        }
        Err(ApiError::bad(match stage {
            None => format!(
                "Deleting API {api_id} failed. Please remove all API mappings for the API from your custom domain names."
            ),
            Some(stage) => format!(
                "Deleting stage {stage} failed. Please remove all API mappings for the stage from your custom domain names."
            ),
        }))
    }

    /// Every API mapping of every domain name: what the gateway routes custom domains by.
    pub async fn served_api_mappings(&self) -> crate::error::Result<Vec<ApiMapping>> {
        Ok(self.store.all_api_mappings().await?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use gatehouse_store::sqlite::SqliteStore;

    use super::*;
    use crate::apis::{ApiInput, StageInput};
    use crate::env::{ManualClock, OsRandom};

    fn service(dir: &tempfile::TempDir) -> ApiService {
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        ApiService::new(
            Arc::new(store),
            Arc::new(ManualClock::new(1_700_000_000)),
            Arc::new(OsRandom),
            "localhost:8080".into(),
        )
    }

    fn domain(name: &str) -> DomainNameInput {
        DomainNameInput {
            domain_name: Some(name.into()),
            ..DomainNameInput::default()
        }
    }

    fn mapping(api: &str, stage: &str, key: &str) -> ApiMappingInput {
        ApiMappingInput {
            api_id: Some(api.into()),
            stage: Some(stage.into()),
            api_mapping_key: Some(key.into()),
        }
    }

    /// An API quick-created (so with an auto-deploying `$default` stage) plus stage `prod`.
    async fn api_with_stages(svc: &ApiService) -> String {
        let api = svc
            .create_api(ApiInput {
                name: Some("a".into()),
                protocol_type: Some("HTTP".into()),
                target: Some("https://example.com".into()),
                ..ApiInput::default()
            })
            .await
            .unwrap();
        svc.create_stage(
            &api.id,
            StageInput {
                stage_name: Some("prod".into()),
                auto_deploy: Some(true),
                ..StageInput::default()
            },
        )
        .await
        .unwrap();
        api.id
    }

    #[test]
    fn domain_names_are_host_names_compared_in_lower_case() {
        assert_eq!(
            normalize_domain_name("API.Example.COM.").unwrap(),
            "api.example.com"
        );
        assert_eq!(
            normalize_domain_name("*.example.com").unwrap(),
            "*.example.com"
        );
        for bad in [
            "",
            "localhost",
            "a..b",
            "-a.b",
            "a_b.com",
            "api.example.com/x",
            "a.*.com",
        ] {
            assert!(normalize_domain_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mapping_keys_follow_aws_rules() {
        for ok in ["", "v1", "v1/orders", "orders/v2/items", "a$-_.+!*'()b"] {
            check_mapping_key(ok).unwrap();
        }
        for bad in ["/", "/v1", "v1/", "v1//x", "v 1", "v1?x", "ü"] {
            assert!(
                matches!(check_mapping_key(bad), Err(ApiError::BadRequest(_))),
                "{bad}"
            );
        }
        assert!(check_mapping_key(&"a".repeat(300)).is_ok());
        assert!(check_mapping_key(&"a".repeat(301)).is_err());
    }

    #[tokio::test]
    async fn domain_names_are_created_once_with_aws_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let svc = service(&dir);
        let d = svc
            .create_domain_name(domain("Api.Example.Test"))
            .await
            .unwrap();
        assert_eq!(d.name, "api.example.test");
        let c = &d.configurations[0];
        assert_eq!(
            (c.endpoint_type.as_str(), c.security_policy.as_str()),
            ("REGIONAL", "TLS_1_2")
        );
        assert_eq!(c.hosted_zone_id.as_deref(), Some("Z1UJRXOUMOOFQ8"));
        assert!(c.api_gateway_domain_name.starts_with("d-"));
        assert!(matches!(
            svc.create_domain_name(domain("api.example.test")).await,
            Err(ApiError::Conflict(_))
        ));
        assert!(matches!(
            svc.get_domain_name("nope.example.test").await,
            Err(ApiError::NotFound(_))
        ));
        // An update keeps the DNS target of the endpoint type.
        let u = svc
            .update_domain_name(
                "api.example.test",
                DomainNameInput {
                    configurations: Some(vec![DomainNameConfigurationInput {
                        certificate_arn: Some("arn:aws:acm:us-east-1:1:certificate/x".into()),
                        ..Default::default()
                    }]),
                    ..DomainNameInput::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            u.configurations[0].api_gateway_domain_name,
            c.api_gateway_domain_name
        );
    }

    #[tokio::test]
    async fn mappings_need_the_stage_and_a_free_key_and_reload_the_gateway() {
        let dir = tempfile::tempdir().unwrap();
        let svc = service(&dir);
        let api = api_with_stages(&svc).await;
        svc.create_domain_name(domain("api.example.test"))
            .await
            .unwrap();
        let mut changes = svc.changes();
        changes.borrow_and_update();
        let root = svc
            .create_api_mapping("api.example.test", mapping(&api, "$default", ""))
            .await
            .unwrap();
        assert!(changes.has_changed().unwrap());
        svc.create_api_mapping("api.example.test", mapping(&api, "prod", "v1/orders"))
            .await
            .unwrap();
        assert!(matches!(
            svc.create_api_mapping("api.example.test", mapping(&api, "prod", "v1/orders"))
                .await,
            Err(ApiError::Conflict(_))
        ));
        assert!(matches!(
            svc.create_api_mapping("api.example.test", mapping(&api, "nope", "x"))
                .await,
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            svc.create_api_mapping("api.example.test", mapping("zzzzzzzzzz", "prod", "y"))
                .await,
            Err(ApiError::NotFound(_))
        ));
        assert!(matches!(
            svc.create_api_mapping("nope.example.test", mapping(&api, "prod", "z"))
                .await,
            Err(ApiError::NotFound(_))
        ));
        // Moving the root mapping onto a taken key conflicts; onto a free one works.
        assert!(matches!(
            svc.update_api_mapping(
                "api.example.test",
                &root.id,
                ApiMappingInput {
                    api_mapping_key: Some("v1/orders".into()),
                    ..ApiMappingInput::default()
                }
            )
            .await,
            Err(ApiError::Conflict(_))
        ));
        let moved = svc
            .update_api_mapping(
                "api.example.test",
                &root.id,
                ApiMappingInput {
                    api_mapping_key: Some("v2".into()),
                    ..ApiMappingInput::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(moved.key, "v2");
        assert_eq!(svc.served_api_mappings().await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn mapped_apis_and_stages_cannot_be_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let svc = service(&dir);
        let api = api_with_stages(&svc).await;
        svc.create_domain_name(domain("api.example.test"))
            .await
            .unwrap();
        let m = svc
            .create_api_mapping("api.example.test", mapping(&api, "prod", ""))
            .await
            .unwrap();
        assert!(matches!(
            svc.delete_api(&api).await,
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            svc.delete_stage(&api, "prod").await,
            Err(ApiError::BadRequest(_))
        ));
        // Another stage of the API is not held.
        svc.delete_stage(&api, "$default").await.unwrap();
        svc.delete_api_mapping("api.example.test", &m.id)
            .await
            .unwrap();
        assert!(matches!(
            svc.delete_api_mapping("api.example.test", &m.id).await,
            Err(ApiError::NotFound(_))
        ));
        svc.delete_stage(&api, "prod").await.unwrap();
        svc.delete_api(&api).await.unwrap();
    }

    #[tokio::test]
    async fn deleting_a_domain_name_drops_its_mappings() {
        let dir = tempfile::tempdir().unwrap();
        let svc = service(&dir);
        let api = api_with_stages(&svc).await;
        svc.create_domain_name(domain("api.example.test"))
            .await
            .unwrap();
        svc.create_api_mapping("api.example.test", mapping(&api, "prod", ""))
            .await
            .unwrap();
        svc.delete_domain_name("api.example.test").await.unwrap();
        assert!(svc.served_api_mappings().await.unwrap().is_empty());
        svc.delete_api(&api).await.unwrap();
    }

    #[tokio::test]
    async fn http_apis_map_only_to_regional_tls12_domains() {
        let dir = tempfile::tempdir().unwrap();
        let svc = service(&dir);
        let api = api_with_stages(&svc).await;
        svc.create_domain_name(DomainNameInput {
            configurations: Some(vec![DomainNameConfigurationInput {
                endpoint_type: Some("EDGE".into()),
                ..Default::default()
            }]),
            ..domain("edge.example.test")
        })
        .await
        .unwrap();
        assert!(matches!(
            svc.create_api_mapping("edge.example.test", mapping(&api, "prod", ""))
                .await,
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            svc.create_domain_name(DomainNameInput {
                configurations: Some(vec![DomainNameConfigurationInput {
                    security_policy: Some("TLS_9".into()),
                    ..Default::default()
                }]),
                ..domain("bad.example.test")
            })
            .await,
            Err(ApiError::BadRequest(_))
        ));
    }

    #[tokio::test]
    async fn domain_names_are_tagged_by_arn() {
        let dir = tempfile::tempdir().unwrap();
        let svc = service(&dir);
        svc.create_domain_name(domain("api.example.test"))
            .await
            .unwrap();
        let arn = svc.domain_name_arn("api.example.test");
        let mut add = BTreeMap::new();
        add.insert("team".to_string(), "edge".to_string());
        svc.tag_resource(&arn, add, &[]).await.unwrap();
        assert_eq!(svc.get_tags(&arn).await.unwrap()["team"], "edge");
        svc.tag_resource(&arn, BTreeMap::new(), &["team".to_string()])
            .await
            .unwrap();
        assert!(svc.get_tags(&arn).await.unwrap().is_empty());
    }
}
