//! Tags of APIs, stages and domain names, addressed by ARN as TagResource / UntagResource /
//! GetTags do: `arn:aws:apigateway:{region}::/apis/{apiId}[/stages/{stageName}]` and
//! `arn:aws:apigateway:{region}::/domainnames/{domainName}`.

use std::collections::BTreeMap;

use super::error::{ApiError, ApiResult};
use super::ApiService;

/// The API id and optional stage name an ARN names.
fn parse_arn(arn: &str) -> ApiResult<(String, Option<String>)> {
    let invalid = || ApiError::bad(format!("Invalid resource ARN: {arn}"));
    let rest = arn
        .strip_prefix("arn:")
        .and_then(|r| r.split_once("/apis/"))
        .map(|(_, r)| r)
        .ok_or_else(invalid)?;
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [api] if !api.is_empty() => Ok((api.to_string(), None)),
        [api, "stages", stage] if !api.is_empty() && !stage.is_empty() => {
            Ok((api.to_string(), Some(stage.to_string())))
        }
        _ => Err(invalid()),
    }
}

fn stage_not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("Invalid stage identifier specified {name}"))
}

/// The domain name a `…::/domainnames/{name}` ARN names.
fn domain_of_arn(arn: &str) -> Option<&str> {
    let (_, name) = arn.strip_prefix("arn:")?.split_once("::/domainnames/")?;
    (!name.is_empty() && !name.contains('/')).then_some(name)
}

impl ApiService {
    pub async fn get_tags(&self, arn: &str) -> ApiResult<BTreeMap<String, String>> {
        if let Some(name) = domain_of_arn(arn) {
            return Ok(self.get_domain_name(name).await?.tags);
        }
        let (api_id, stage) = parse_arn(arn)?;
        let api = self.load(&api_id).await?;
        match stage {
            None => Ok(api.tags),
            Some(name) => api
                .stages
                .into_iter()
                .find(|s| s.name == name)
                .map(|s| s.tags)
                .ok_or_else(|| stage_not_found(&name)),
        }
    }

    /// Adds or replaces tags; `remove` keys are dropped first.
    pub async fn tag_resource(
        &self,
        arn: &str,
        add: BTreeMap<String, String>,
        remove: &[String],
    ) -> ApiResult<()> {
        if let Some(name) = domain_of_arn(arn) {
            return self.tag_domain_name(name, add, remove).await;
        }
        let (api_id, stage) = parse_arn(arn)?;
        for k in add.keys() {
            if k.is_empty() || k.chars().count() > 128 || k.starts_with("aws:") {
                return Err(ApiError::bad(format!("Invalid tag key: {k}")));
            }
        }
        self.edit(&api_id, |e| {
            let tags = match &stage {
                None => &mut e.api.tags,
                Some(name) => {
                    &mut e
                        .api
                        .stages
                        .iter_mut()
                        .find(|s| &s.name == name)
                        .ok_or_else(|| stage_not_found(name))?
                        .tags
                }
            };
            for k in remove {
                tags.remove(k);
            }
            tags.extend(add);
            Ok(())
        })
        .await
    }
}
