//! Tags of REST APIs and their stages, addressed by ARN as the v1 TagResource / UntagResource /
//! GetTags do: `arn:aws:apigateway:{region}::/restapis/{id}[/stages/{name}]`.

use std::collections::BTreeMap;

use super::stages::stage_not_found;
use crate::apis::error::{ApiError, ApiResult};
use crate::apis::ApiService;

/// The REST API id and optional stage name of a `…::/restapis/…` ARN; `None` when the ARN
/// names something else (an HTTP API or a domain name).
pub fn rest_arn(arn: &str) -> ApiResult<Option<(String, Option<String>)>> {
    let Some((_, rest)) = arn
        .strip_prefix("arn:")
        .and_then(|r| r.split_once("::/restapis/"))
    else {
        return Ok(None);
    };
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [api] if !api.is_empty() => Ok(Some((api.to_string(), None))),
        [api, "stages", stage] if !api.is_empty() && !stage.is_empty() => {
            Ok(Some((api.to_string(), Some(stage.to_string()))))
        }
        _ => Err(ApiError::bad(format!("Invalid resource ARN: {arn}"))),
    }
}

pub fn check_tag_keys(tags: &BTreeMap<String, String>) -> ApiResult<()> {
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || k.starts_with("aws:") {
            return Err(ApiError::bad(format!("Invalid tag key: {k}")));
        }
        if v.chars().count() > 256 {
            return Err(ApiError::bad(format!(
                "Invalid tag value for key {k}: at most 256 characters"
            )));
        }
    }
    Ok(())
}

impl ApiService {
    /// The tags of a REST API or stage ARN; other ARNs go to the v2 tags.
    pub async fn get_tags_v1(&self, arn: &str) -> ApiResult<BTreeMap<String, String>> {
        if let Some(tagged) = crate::apis::keys::plans::TaggedArn::parse(arn) {
            return self.key_or_plan_tags(&tagged).await;
        }
        let Some((api_id, stage)) = rest_arn(arn)? else {
            return self.get_tags(arn).await;
        };
        let api = self.load_rest(&api_id).await?;
        match stage {
            None => Ok(api.tags),
            Some(name) => api
                .stages
                .into_iter()
                .find(|s| s.name == name)
                .map(|s| s.tags)
                .ok_or_else(stage_not_found),
        }
    }

    /// Adds or replaces tags; `remove` keys are dropped first.
    pub async fn tag_resource_v1(
        &self,
        arn: &str,
        add: BTreeMap<String, String>,
        remove: &[String],
    ) -> ApiResult<()> {
        if let Some(tagged) = crate::apis::keys::plans::TaggedArn::parse(arn) {
            return self.tag_key_or_plan(&tagged, add, remove).await;
        }
        let Some((api_id, stage)) = rest_arn(arn)? else {
            return self.tag_resource(arn, add, remove).await;
        };
        check_tag_keys(&add)?;
        self.edit_rest(&api_id, |e| {
            let tags = match &stage {
                None => &mut e.api.tags,
                Some(name) => {
                    &mut e
                        .api
                        .stages
                        .iter_mut()
                        .find(|s| &s.name == name)
                        .ok_or_else(stage_not_found)?
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
