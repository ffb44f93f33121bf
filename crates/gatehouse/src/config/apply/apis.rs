//! HTTP APIs: planned with the management API's own parsers, built piece by piece on the
//! throwaway store (which names each refused piece), then created, reimported, staged and
//! deployed on the real API service when they differ.

use std::collections::BTreeMap;

use gatehouse_core::apis::{
    ApiDefinition, ApiError, ApiInput, ApiService, ImportedRoute, RouteInput, StageInput,
};
use gatehouse_core::store::apis::{Authorizer, Cors, HttpApi, Integration, Route, Stage};
use serde_json::{json, Value};
use tracing::instrument::WithSubscriber;
use tracing::subscriber::NoSubscriber;

use super::{api_problem, first, without, Summary};
use crate::config::refs::Values;
use crate::config::schema::{child, index};
use crate::config::{list, str_of, ConfigFile, EnvLookup, Problem, Target};

pub(super) struct ApiPlan {
    pub name: String,
    pub api_id: Option<String>,
    /// CreateApi's members (name, description, version, CORS, tags, disableExecuteApiEndpoint).
    pub input: ApiInput,
    pub def: ApiDefinition,
    pub from_openapi: bool,
    pub stages: Vec<StageInput>,
    pub warnings: Vec<String>,
}

pub(super) fn plan_api(
    file: &ConfigFile,
    api: &Value,
    at: &str,
    env: &EnvLookup,
    values: &Values,
) -> Result<ApiPlan, Vec<Problem>> {
    let api = file
        .resolve_tree(api, at, env, Some(values))
        .map_err(|p| vec![p])?;
    let mut problems = Vec::new();
    let base = without(
        &api,
        &[
            "apiId",
            "integrations",
            "authorizers",
            "routes",
            "openapi",
            "stages",
        ],
    );
    let mut input = gatehouse_mgmt::inproc::api(&base).map_err(|e| vec![api_problem(at, e)])?;
    input.protocol_type = Some("HTTP".into());
    let mut def = ApiDefinition::default();
    let mut warnings = Vec::new();
    let from_openapi = api.get("openapi").is_some();
    if let Some(doc) = api.get("openapi") {
        let oat = child(at, "openapi");
        let text = doc.to_string();
        match gatehouse_mgmt::inproc::openapi(&text) {
            Ok((d, w)) => {
                def = d;
                warnings.extend(w.into_iter().map(|w| format!("{oat}: {w}")));
            }
            Err(e) => problems.push(api_problem(&oat, e)),
        }
    } else {
        for (k, x) in list(&api, "integrations").iter().enumerate() {
            let m = without(x, &["name"]);
            match gatehouse_mgmt::inproc::integration(&m) {
                Ok(i) => def.integrations.push(i),
                Err(e) => problems.push(api_problem(&index(&child(at, "integrations"), k), e)),
            }
        }
        for (k, x) in list(&api, "authorizers").iter().enumerate() {
            match gatehouse_mgmt::inproc::authorizer(&without(x, &[])) {
                Ok(a) => def.authorizers.push(a),
                Err(e) => problems.push(api_problem(&index(&child(at, "authorizers"), k), e)),
            }
        }
        let integration_names: Vec<&str> = list(&api, "integrations")
            .iter()
            .map(|x| str_of(x, "name"))
            .collect();
        for (k, x) in list(&api, "routes").iter().enumerate() {
            match gatehouse_mgmt::inproc::route(&without(x, &["integration", "authorizer"])) {
                Ok(route) => def.routes.push(ImportedRoute {
                    route,
                    integration: x
                        .get("integration")
                        .and_then(Value::as_str)
                        .and_then(|n| integration_names.iter().position(|i| *i == n)),
                    authorizer: x
                        .get("authorizer")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                }),
                Err(e) => problems.push(api_problem(&index(&child(at, "routes"), k), e)),
            }
        }
    }
    // The file's members win over the document's.
    def.api.name = input.name.clone();
    if input.description.is_some() {
        def.api.description = input.description.clone();
    }
    if input.version.is_some() {
        def.api.version = input.version.clone();
    }
    if input.cors.is_some() || !from_openapi {
        def.api.cors = input.cors.clone();
    }
    input.cors = def.api.cors.clone();
    let default_stage = [json!({ "stageName": "$default", "autoDeploy": true })];
    let stages: &[Value] = match api.get("stages") {
        Some(_) => list(&api, "stages"),
        None => &default_stage,
    };
    let mut stage_inputs = Vec::new();
    for (k, s) in stages.iter().enumerate() {
        match gatehouse_mgmt::inproc::stage(&without(s, &[])) {
            Ok(s) => stage_inputs.push(s),
            Err(e) => problems.push(api_problem(&index(&child(at, "stages"), k), e)),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(ApiPlan {
        name: str_of(&api, "name").to_string(),
        api_id: api.get("apiId").and_then(Value::as_str).map(str::to_string),
        input,
        def,
        from_openapi,
        stages: stage_inputs,
        warnings,
    })
}

/// Builds the planned API from scratch, piece by piece so a refusal names its piece. Used on
/// the sandbox: for the rehearsal, and to learn what the file makes of an API before
/// comparing it with the real one.
pub(super) async fn build_api(
    apis: &ApiService,
    plan: &ApiPlan,
    at: &str,
) -> Result<HttpApi, Vec<Problem>> {
    let api = apis
        .create_api(plan.input.clone())
        .await
        .map_err(|e| vec![api_problem(at, e)])?;
    let id = api.id.clone();
    let mut problems = Vec::new();
    if plan.from_openapi {
        if let Err(e) = apis.reimport_api(&id, plan.def.clone()).await {
            problems.push(api_problem(&child(at, "openapi"), e));
        }
    } else {
        // Each piece on its own, so every refusal is reported; a route whose integration or
        // authorizer was refused is not tried (its own problem is already reported).
        let mut integration_ids = Vec::new();
        for (k, i) in plan.def.integrations.iter().enumerate() {
            match apis.create_integration(&id, i.clone()).await {
                Ok(created) => integration_ids.push(Some(created.id)),
                Err(e) => {
                    problems.push(api_problem(&index(&child(at, "integrations"), k), e));
                    integration_ids.push(None);
                }
            }
        }
        let mut authorizer_ids = BTreeMap::new();
        for (k, a) in plan.def.authorizers.iter().enumerate() {
            match apis.create_authorizer(&id, a.clone()).await {
                Ok(created) => {
                    authorizer_ids.insert(created.name.clone(), created.id);
                }
                Err(e) => problems.push(api_problem(&index(&child(at, "authorizers"), k), e)),
            }
        }
        for (k, r) in plan.def.routes.iter().enumerate() {
            let mut input: RouteInput = r.route.clone();
            if let Some(i) = r.integration {
                match integration_ids.get(i) {
                    Some(Some(i)) => input.target = Some(format!("integrations/{i}")),
                    _ => continue,
                }
            }
            if let Some(name) = &r.authorizer {
                match authorizer_ids.get(name) {
                    Some(a) => {
                        input.authorizer_id = Some(a.clone());
                        input.authorization_type = Some("JWT".into());
                    }
                    None => continue,
                }
            }
            if let Err(e) = apis.create_route(&id, input).await {
                problems.push(api_problem(&index(&child(at, "routes"), k), e));
            }
        }
    }
    for (k, s) in plan.stages.iter().enumerate() {
        if let Err(e) = create_stage(apis, &id, s).await {
            problems.push(api_problem(&index(&child(at, "stages"), k), e));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    apis.get_api(&id)
        .await
        .map_err(|e| vec![api_problem(at, e)])
}

/// CreateStage, then a deployment for a stage that does not deploy itself.
async fn create_stage(apis: &ApiService, api_id: &str, s: &StageInput) -> Result<(), ApiError> {
    let stage = apis.create_stage(api_id, s.clone()).await?;
    if !stage.auto_deploy {
        let api = apis.get_api(api_id).await?;
        if !api.routes.is_empty() {
            apis.create_deployment(api_id, Some(DEPLOYMENT_NOTE.into()), Some(stage.name))
                .await?;
        }
    }
    Ok(())
}

const DEPLOYMENT_NOTE: &str = "Deployed by the configuration file";

/// An API's routing with the generated ids replaced by what they point at, so two APIs built
/// from the same definition compare equal.
fn routing_view(
    cors: &Option<Cors>,
    routes: &[Route],
    integrations: &[Integration],
    authorizers: &[Authorizer],
) -> Value {
    let strip = |v: Value| -> Value {
        let mut m = v.as_object().cloned().unwrap_or_default();
        m.remove("id");
        Value::Object(m)
    };
    let integration = |id: &str| {
        integrations
            .iter()
            .find(|i| i.id == id)
            .map(|i| strip(serde_json::to_value(i).unwrap_or_default()))
    };
    let mut route_views: Vec<(String, Value)> = routes
        .iter()
        .map(|r| {
            let mut v = strip(serde_json::to_value(r).unwrap_or_default());
            if let Some(m) = v.as_object_mut() {
                let target = r
                    .target
                    .as_deref()
                    .and_then(|t| t.strip_prefix("integrations/"))
                    .and_then(integration);
                m.insert("target".into(), target.unwrap_or(Value::Null));
                let auth = r
                    .authorizer_id
                    .as_deref()
                    .and_then(|id| authorizers.iter().find(|a| a.id == id))
                    .map(|a| Value::String(a.name.clone()));
                m.insert("authorizer_id".into(), auth.unwrap_or(Value::Null));
            }
            (r.route_key.clone(), v)
        })
        .collect();
    route_views.sort_by(|a, b| a.0.cmp(&b.0));
    let mut integration_views: Vec<String> = integrations
        .iter()
        .map(|i| strip(serde_json::to_value(i).unwrap_or_default()).to_string())
        .collect();
    integration_views.sort();
    let mut authorizer_views: Vec<(String, Value)> = authorizers
        .iter()
        .map(|a| {
            (
                a.name.clone(),
                strip(serde_json::to_value(a).unwrap_or_default()),
            )
        })
        .collect();
    authorizer_views.sort_by(|a, b| a.0.cmp(&b.0));
    json!({
        "cors": cors,
        "routes": route_views.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        "integrations": integration_views,
        "authorizers": authorizer_views.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
    })
}

pub(super) fn api_routing(api: &HttpApi) -> Value {
    routing_view(&api.cors, &api.routes, &api.integrations, &api.authorizers)
}

/// A stage's declared settings (not its deployment or dates).
fn stage_view(s: &Stage) -> Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        for k in [
            "deployment_id",
            "created",
            "last_updated",
            "last_deployment_status_message",
        ] {
            m.remove(k);
        }
    }
    v
}

async fn find_api(apis: &ApiService, plan: &ApiPlan) -> Result<Option<String>, String> {
    if let Some(id) = &plan.api_id {
        return match apis.get_api(id).await {
            Ok(_) => Ok(Some(id.clone())),
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.to_string()),
        };
    }
    let mut matching = Vec::new();
    let mut token = None;
    loop {
        let (page, next) = apis
            .list_apis(Some(500), token)
            .await
            .map_err(|e| e.to_string())?;
        matching.extend(
            page.into_iter()
                .filter(|a| a.name == plan.name)
                .map(|a| a.id),
        );
        token = next;
        if token.is_none() {
            break;
        }
    }
    match matching.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        many => Err(format!(
            "{} APIs are named '{}' ({}): give the API's apiId in the file to say which",
            many.len(),
            plan.name,
            many.join(", ")
        )),
    }
}

pub(super) async fn reconcile_api(
    plan: &ApiPlan,
    sandbox: &Target,
    real: &Target,
    at: &str,
    summary: &mut Summary,
) -> Result<String, Problem> {
    let apis = &*real.apis;
    let fail = |e: ApiError| api_problem(at, e);
    // What the file makes of this API, built where it harms nothing.
    let want = build_api(&sandbox.apis, plan, at)
        .with_subscriber(NoSubscriber::default())
        .await
        .map_err(first)?;
    let what = |id: &str| format!("API {} ({id})", plan.name);
    let id = match find_api(apis, plan)
        .await
        .map_err(|m| Problem::new(at, m))?
    {
        None => {
            let mut input = plan.input.clone();
            input.cors = None;
            let api = match &plan.api_id {
                Some(id) => apis.create_api_with_id(id, input).await,
                None => apis.create_api(input).await,
            }
            .map_err(fail)?;
            apis.reimport_api(&api.id, plan.def.clone())
                .await
                .map_err(fail)?;
            for (k, s) in plan.stages.iter().enumerate() {
                create_stage(apis, &api.id, s)
                    .await
                    .map_err(|e| api_problem(&index(&child(at, "stages"), k), e))?;
            }
            summary.created(what(&api.id));
            api.id
        }
        Some(id) => {
            let have = apis.get_api(&id).await.map_err(fail)?;
            let mut changed = false;
            // Description and version are compared only when the file gives them:
            // UpdateApi cannot clear them.
            let differs = want.name != have.name
                || want.disable_execute_api_endpoint != have.disable_execute_api_endpoint
                || (want.description.is_some() && want.description != have.description)
                || (want.version.is_some() && want.version != have.version);
            if differs {
                let input = ApiInput {
                    name: Some(want.name.clone()),
                    description: want.description.clone(),
                    version: want.version.clone(),
                    disable_execute_api_endpoint: Some(want.disable_execute_api_endpoint),
                    ..ApiInput::default()
                };
                apis.update_api(&id, input).await.map_err(fail)?;
                changed = true;
            }
            if plan.input.tags.is_some() && want.tags != have.tags {
                let arn = format!(
                    "arn:aws:apigateway:{}::/apis/{id}",
                    real.dir.config().region
                );
                let removed: Vec<String> = have
                    .tags
                    .keys()
                    .filter(|k| !want.tags.contains_key(*k))
                    .cloned()
                    .collect();
                apis.tag_resource(&arn, want.tags.clone(), &removed)
                    .await
                    .map_err(fail)?;
                changed = true;
            }
            if api_routing(&want) != api_routing(&have) {
                apis.reimport_api(&id, plan.def.clone())
                    .await
                    .map_err(fail)?;
                changed = true;
            }
            for (k, s) in plan.stages.iter().enumerate() {
                let sat = index(&child(at, "stages"), k);
                let sfail = |e: ApiError| api_problem(&sat, e);
                let name = s.stage_name.clone().unwrap_or_default();
                let want_stage = want.stages.iter().find(|x| x.name == name);
                let have_api = apis.get_api(&id).await.map_err(fail)?;
                match have_api.stages.iter().find(|x| x.name == name) {
                    None => {
                        create_stage(apis, &id, s).await.map_err(sfail)?;
                        changed = true;
                    }
                    Some(have_stage) => {
                        let want_view = want_stage.map(stage_view);
                        if want_view.as_ref() != Some(&stage_view(have_stage)) {
                            let updated = apis
                                .update_stage(&id, &name, s.clone())
                                .await
                                .map_err(sfail)?;
                            if want_view.as_ref() != Some(&stage_view(&updated)) {
                                // Something was removed from the stage: UpdateStage only adds.
                                apis.delete_stage(&id, &name).await.map_err(sfail)?;
                                create_stage(apis, &id, s).await.map_err(sfail)?;
                            }
                            changed = true;
                        }
                    }
                }
            }
            if changed {
                summary.updated(what(&id));
            } else {
                summary.unchanged += 1;
            }
            id
        }
    };
    deploy_declared_stages(apis, &id, plan, at).await?;
    Ok(id)
}

/// Every declared stage serves the API as it now is: a stage that does not deploy itself
/// gets a deployment when its own is missing or out of date.
async fn deploy_declared_stages(
    apis: &ApiService,
    id: &str,
    plan: &ApiPlan,
    at: &str,
) -> Result<(), Problem> {
    let fail = |e: ApiError| api_problem(at, e);
    let api = apis.get_api(id).await.map_err(fail)?;
    if api.routes.is_empty() {
        return Ok(());
    }
    let current = api_routing(&api);
    let mut redeploy_auto = false;
    for s in &plan.stages {
        let name = s.stage_name.clone().unwrap_or_default();
        let Some(stage) = api.stages.iter().find(|x| x.name == name) else {
            continue;
        };
        let fresh = match stage.deployment_id {
            Some(_) => apis
                .api_as_deployed(id, Some(&name))
                .await
                .map(|d| api_routing(&d) == current)
                .unwrap_or(false),
            None => false,
        };
        if fresh {
            continue;
        }
        if stage.auto_deploy {
            redeploy_auto = true;
        } else {
            apis.create_deployment(id, Some(DEPLOYMENT_NOTE.into()), Some(name))
                .await
                .map_err(fail)?;
        }
    }
    if redeploy_auto {
        // Auto-deploying stages follow changes: re-applying the definition deploys them.
        apis.reimport_api(id, plan.def.clone())
            .await
            .map_err(fail)?;
    }
    Ok(())
}
