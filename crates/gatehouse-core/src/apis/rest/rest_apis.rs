//! The REST API resource itself: CreateRestApi (with its root resource `/`, or a copy of
//! another API's resources and authorizers with `cloneFrom`), GetRestApi(s), UpdateRestApi
//! by patch, DeleteRestApi. REST API ids share the `{apiId}.execute-api` namespace with HTTP
//! APIs, so a new id is free of both kinds.

use std::collections::{BTreeMap, HashMap};

use gatehouse_store::rest_apis::{Resource, RestApi};
use gatehouse_store::{Page, StoreError};

use super::edit::{RestPage, ACCOUNT_ID};
use super::patch::{self, need_value, PatchKind, PatchOp, Patchable};
use crate::apis::error::{ApiError, ApiResult};
use crate::apis::http_apis::check_api_id;
use crate::apis::ApiService;
use crate::env::random_lower_alnum;

const API_ID_LEN: usize = 10;
const MAX_COMPRESSION: i64 = 10_485_760;

/// Members of CreateRestApi.
#[derive(Debug, Clone, Default)]
pub struct RestApiInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub version: Option<String>,
    pub clone_from: Option<String>,
    pub binary_media_types: Option<Vec<String>>,
    pub minimum_compression_size: Option<i64>,
    pub api_key_source: Option<String>,
    pub endpoint_types: Option<Vec<String>>,
    pub policy: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
    pub disable_execute_api_endpoint: Option<bool>,
}

fn check_name(name: &str) -> ApiResult<()> {
    if name.trim().is_empty() {
        return Err(ApiError::bad(
            "Invalid REST API name specified: the name must be non-empty",
        ));
    }
    if name.chars().count() > 1024 {
        return Err(ApiError::bad(
            "Invalid REST API name specified: at most 1024 characters",
        ));
    }
    Ok(())
}

fn check_compression(size: i64) -> ApiResult<()> {
    if (0..=MAX_COMPRESSION).contains(&size) {
        Ok(())
    } else {
        Err(ApiError::bad(
            "Invalid minimum compression size, must be between 0 and 10485760",
        ))
    }
}

fn check_key_source(source: &str) -> ApiResult<()> {
    match source {
        "HEADER" | "AUTHORIZER" => Ok(()),
        other => Err(ApiError::bad(format!(
            "Invalid API Key source specified: {other}. Valid values are HEADER and AUTHORIZER"
        ))),
    }
}

fn check_endpoint_types(types: &[String]) -> ApiResult<()> {
    if types.len() != 1 {
        return Err(ApiError::bad(
            "Exactly one endpoint type must be specified: EDGE, REGIONAL or PRIVATE",
        ));
    }
    for t in types {
        if !matches!(t.as_str(), "EDGE" | "REGIONAL" | "PRIVATE") {
            return Err(ApiError::bad(format!(
                "Invalid endpoint type specified: {t}. Valid values are EDGE, REGIONAL and PRIVATE"
            )));
        }
    }
    Ok(())
}

fn check_media_type(t: &str) -> ApiResult<()> {
    let ok = t.split_once('/').is_some_and(|(a, b)| {
        !a.is_empty() && !b.is_empty() && !t.chars().any(|c| c.is_whitespace() || c == ',')
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad(format!(
            "Invalid binary media type specified: {t}"
        )))
    }
}

/// The root resource of an API.
pub fn root(api: &RestApi) -> Option<&Resource> {
    api.resources.iter().find(|r| r.parent_id.is_none())
}

/// A copy of `src`'s resources and authorizers under fresh ids (CreateRestApi `cloneFrom`).
fn clone_routing(
    src: &RestApi,
    mut fresh_id: impl FnMut() -> String,
) -> (
    Vec<Resource>,
    Vec<gatehouse_store::rest_apis::RestAuthorizer>,
) {
    let mut ids: HashMap<String, String> = HashMap::new();
    for r in &src.resources {
        ids.insert(r.id.clone(), fresh_id());
    }
    let mut auth_ids: HashMap<String, String> = HashMap::new();
    for a in &src.authorizers {
        auth_ids.insert(a.id.clone(), fresh_id());
    }
    let authorizers = src
        .authorizers
        .iter()
        .map(|a| {
            let mut a = a.clone();
            a.id = auth_ids.get(&a.id).cloned().unwrap_or_default();
            a
        })
        .collect();
    let resources = src
        .resources
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.id = ids.get(&r.id).cloned().unwrap_or_default();
            r.parent_id = r.parent_id.as_ref().and_then(|p| ids.get(p).cloned());
            for m in r.methods.values_mut() {
                if let Some(a) = &m.authorizer_id {
                    m.authorizer_id = auth_ids.get(a).cloned();
                }
                if let Some(i) = &mut m.integration {
                    if i.cache_namespace
                        .as_ref()
                        .is_some_and(|n| ids.contains_key(n))
                    {
                        i.cache_namespace = Some(r.id.clone());
                    }
                }
            }
            r
        })
        .collect();
    (resources, authorizers)
}

impl Patchable for RestApi {
    fn patch_paths(&self) -> &'static str {
        "/name, /description, /version, /policy, /apiKeySource, /binaryMediaTypes/{type}, /minimumCompressionSize, /disableExecuteApiEndpoint, /endpointConfiguration/types/{type}"
    }

    fn read(&self, path: &[String], raw: &str) -> ApiResult<Option<String>> {
        let one = |s: &str| path.len() == 1 && path[0] == s;
        Ok(if one("name") {
            Some(self.name.clone())
        } else if one("description") {
            self.description.clone()
        } else if one("version") {
            self.version.clone()
        } else if one("policy") {
            self.policy.clone()
        } else if one("apiKeySource") {
            Some(self.api_key_source.clone())
        } else if one("minimumCompressionSize") {
            self.minimum_compression_size.map(|n| n.to_string())
        } else if one("disableExecuteApiEndpoint") {
            Some(self.disable_execute_api_endpoint.to_string())
        } else if path.len() == 2 && path[0] == "binaryMediaTypes" {
            self.binary_media_types
                .iter()
                .find(|t| **t == path[1])
                .cloned()
        } else if path.len() == 3 && path[0] == "endpointConfiguration" && path[1] == "types" {
            self.endpoint_types.iter().find(|t| **t == path[2]).cloned()
        } else {
            return Err(patch::invalid_path(
                PatchKind::Test,
                raw,
                self.patch_paths(),
            ));
        })
    }

    fn write(
        &mut self,
        op: PatchKind,
        path: &[String],
        raw: &str,
        value: Option<&str>,
    ) -> ApiResult<()> {
        use PatchKind::*;
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        match (p.as_slice(), op) {
            (["name"], Replace) => {
                let v = need_value(op, raw, value)?;
                check_name(v)?;
                self.name = v.to_string();
            }
            (["description"], Add | Replace) => {
                self.description = value.filter(|v| !v.is_empty()).map(str::to_string)
            }
            (["description"], Remove) => self.description = None,
            (["version"], Add | Replace) => {
                self.version = value.filter(|v| !v.is_empty()).map(str::to_string)
            }
            (["version"], Remove) => self.version = None,
            (["policy"], Add | Replace) => {
                self.policy = value.filter(|v| !v.is_empty()).map(str::to_string)
            }
            (["policy"], Remove) => self.policy = None,
            (["apiKeySource"], Replace) => {
                let v = need_value(op, raw, value)?;
                check_key_source(v)?;
                self.api_key_source = v.to_string();
            }
            (["minimumCompressionSize"], Replace) => {
                // An empty value switches compression off.
                match value.filter(|v| !v.is_empty()) {
                    None => self.minimum_compression_size = None,
                    Some(v) => {
                        let n = v.trim().parse::<i64>().map_err(|_| {
                            ApiError::bad(
                                "Invalid minimum compression size, must be between 0 and 10485760",
                            )
                        })?;
                        check_compression(n)?;
                        self.minimum_compression_size = Some(n);
                    }
                }
            }
            (["disableExecuteApiEndpoint"], Replace) => {
                self.disable_execute_api_endpoint =
                    patch::parse_bool(raw, need_value(op, raw, value)?)?;
            }
            // The media type is in the path (`/binaryMediaTypes/image~1png`), as AWS takes it.
            (["binaryMediaTypes", t], Add) => {
                check_media_type(t)?;
                if !self.binary_media_types.iter().any(|x| x == t) {
                    self.binary_media_types.push(t.to_string());
                }
            }
            (["binaryMediaTypes", t], Remove) => {
                let before = self.binary_media_types.len();
                self.binary_media_types.retain(|x| x != t);
                if before == self.binary_media_types.len() {
                    return Err(ApiError::bad(format!(
                        "Invalid patch path {raw}: the API has no binary media type {t}"
                    )));
                }
            }
            // AWS replaces by removing the old type and appending the new one.
            (["binaryMediaTypes", t], Replace) => {
                let v = need_value(op, raw, value)?;
                check_media_type(v)?;
                let before = self.binary_media_types.len();
                self.binary_media_types.retain(|x| x != t);
                if before == self.binary_media_types.len() {
                    return Err(ApiError::bad(format!(
                        "Invalid patch path {raw}: the API has no binary media type {t}"
                    )));
                }
                if !self.binary_media_types.iter().any(|x| x == v) {
                    self.binary_media_types.push(v.to_string());
                }
            }
            (["endpointConfiguration", "types", t], Replace) => {
                let v = need_value(op, raw, value)?;
                // The path names the current type (or its index, `/types/0`).
                let i = self
                    .endpoint_types
                    .iter()
                    .position(|x| x == t)
                    .or_else(|| {
                        t.parse::<usize>()
                            .ok()
                            .filter(|i| *i < self.endpoint_types.len())
                    })
                    .ok_or_else(|| {
                        ApiError::bad(format!(
                            "Invalid patch path {raw}: the API's endpoint type is not {t}"
                        ))
                    })?;
                let mut types = self.endpoint_types.clone();
                types[i] = v.to_string();
                check_endpoint_types(&types)?;
                self.endpoint_types = types;
            }
            (
                ["name" | "apiKeySource" | "minimumCompressionSize" | "disableExecuteApiEndpoint"]
                | ["binaryMediaTypes", _]
                | ["endpointConfiguration", "types", _],
                _,
            ) => return Err(patch::unsupported_op(op, raw)),
            _ => return Err(patch::invalid_path(op, raw, self.patch_paths())),
        }
        Ok(())
    }
}

impl ApiService {
    pub async fn create_rest_api(&self, input: RestApiInput) -> ApiResult<RestApi> {
        self.insert_new_rest_api(input, None).await
    }

    /// CreateRestApi with an id chosen by the caller (the declarative configuration).
    pub async fn create_rest_api_with_id(
        &self,
        api_id: &str,
        input: RestApiInput,
    ) -> ApiResult<RestApi> {
        check_api_id(api_id)?;
        self.insert_new_rest_api(input, Some(api_id)).await
    }

    /// The document of a new REST API (without resources) from CreateRestApi's members.
    pub(crate) fn new_rest_api_doc(&self, input: RestApiInput) -> ApiResult<RestApi> {
        let name = input.name.ok_or_else(|| {
            ApiError::bad("Invalid REST API name specified: the name is required")
        })?;
        check_name(&name)?;
        if input.description.as_deref() == Some("") {
            return Err(ApiError::bad("Description cannot be an empty string"));
        }
        if let Some(size) = input.minimum_compression_size {
            check_compression(size)?;
        }
        let api_key_source = input.api_key_source.unwrap_or_else(|| "HEADER".into());
        check_key_source(&api_key_source)?;
        let endpoint_types = input.endpoint_types.unwrap_or_else(|| vec!["EDGE".into()]);
        check_endpoint_types(&endpoint_types)?;
        let binary_media_types = input.binary_media_types.unwrap_or_default();
        for t in &binary_media_types {
            check_media_type(t)?;
        }
        let tags = input.tags.unwrap_or_default();
        super::tags::check_tag_keys(&tags)?;
        let now = self.clock.now();
        Ok(RestApi {
            id: String::new(),
            name,
            description: input.description,
            version: input.version,
            created: now,
            api_key_source,
            binary_media_types,
            minimum_compression_size: input.minimum_compression_size,
            endpoint_types,
            disable_execute_api_endpoint: input.disable_execute_api_endpoint.unwrap_or(false),
            policy: input.policy,
            tags,
            ..RestApi::default()
        })
    }

    async fn insert_new_rest_api(
        &self,
        input: RestApiInput,
        given_id: Option<&str>,
    ) -> ApiResult<RestApi> {
        let clone_from = input.clone_from.clone();
        let mut api = self.new_rest_api_doc(input)?;
        let _guard = self.edit_lock.lock().await;
        let rng = self.rng.as_ref();
        match &clone_from {
            Some(src) => {
                let src = self.load_rest(src).await.map_err(|_| {
                    ApiError::not_found(format!(
                        "Invalid API identifier specified {ACCOUNT_ID}:{src}"
                    ))
                })?;
                let mut used: Vec<String> = Vec::new();
                let (resources, authorizers) = clone_routing(&src, || loop {
                    let id = random_lower_alnum(rng, 6);
                    if !used.contains(&id) {
                        used.push(id.clone());
                        return id;
                    }
                });
                api.resources = resources;
                api.authorizers = authorizers;
            }
            None => api.resources.push(Resource {
                id: random_lower_alnum(rng, API_ID_LEN),
                parent_id: None,
                path_part: String::new(),
                path: "/".into(),
                methods: BTreeMap::new(),
            }),
        }
        self.insert_rest_api_doc(api, given_id).await
    }

    /// Inserts a new REST API document under a fresh id free of both kinds (retrying on the
    /// unlikely collision), or under `given_id` (tried once). The caller holds the edit lock.
    pub(crate) async fn insert_rest_api_doc(
        &self,
        mut api: RestApi,
        given_id: Option<&str>,
    ) -> ApiResult<RestApi> {
        let rng = self.rng.as_ref();
        for _ in 0..8 {
            api.id = match given_id {
                Some(id) => id.to_string(),
                None => random_lower_alnum(rng, API_ID_LEN),
            };
            let taken_by_http = self.store.get_api(&api.id).await?.is_some();
            let result = if taken_by_http {
                Err(StoreError::Conflict(api.id.clone()))
            } else {
                self.store.insert_rest_api(&api).await
            };
            match result {
                Ok(()) => {
                    self.bump();
                    return Ok(api);
                }
                Err(StoreError::Conflict(_)) if given_id.is_some() => {
                    return Err(ApiError::conflict(format!(
                        "An API with id {} already exists",
                        api.id
                    )))
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::Internal("could not find a free API id".into()))
    }

    pub async fn get_rest_api(&self, api_id: &str) -> ApiResult<RestApi> {
        self.load_rest(api_id).await
    }

    /// REST APIs ordered by id; the position is the last id of the previous page.
    pub async fn list_rest_apis(
        &self,
        page: &RestPage,
    ) -> ApiResult<(Vec<RestApi>, Option<String>)> {
        let max = page.limit()?;
        let mut apis = self
            .store
            .list_rest_apis(&Page {
                limit: max + 1,
                after: page.position.clone(),
            })
            .await?;
        let next = if apis.len() > max {
            apis.truncate(max);
            apis.last().map(|a| a.id.clone())
        } else {
            None
        };
        Ok((apis, next))
    }

    pub async fn update_rest_api(&self, api_id: &str, ops: &[PatchOp]) -> ApiResult<RestApi> {
        self.edit_rest(api_id, |e| {
            patch::apply(&mut e.api, ops)?;
            Ok(e.api.clone())
        })
        .await
    }

    pub async fn delete_rest_api(&self, api_id: &str) -> ApiResult<()> {
        let _guard = self.edit_lock.lock().await;
        self.check_unmapped(api_id, None).await?;
        match self.store.delete_rest_api(api_id).await {
            Ok(()) => {
                self.bump();
                Ok(())
            }
            Err(StoreError::NotFound) => Err(Self::rest_api_not_found(api_id)),
            Err(e) => Err(e.into()),
        }
    }
}
