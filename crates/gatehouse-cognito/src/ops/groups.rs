//! Groups and memberships.

use gatehouse_core::groups::GroupSettings;
use gatehouse_core::Directory;
use serde::Deserialize;
use serde_json::{json, Value};

use super::empty;
use crate::render;
use crate::validate::{self, parse};
use crate::WireError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GroupIn {
    user_pool_id: Option<String>,
    group_name: Option<String>,
    username: Option<String>,
    description: Option<String>,
    role_arn: Option<String>,
    precedence: Option<i64>,
    limit: Option<i64>,
    next_token: Option<String>,
}

fn settings(r: &GroupIn) -> Result<GroupSettings, WireError> {
    if let Some(d) = &r.description {
        validate::length("description", d, 0, 2048)?;
    }
    if let Some(a) = &r.role_arn {
        validate::arn("roleArn", a)?;
    }
    if let Some(p) = r.precedence {
        validate::range("precedence", p, 0, i64::from(i32::MAX))?;
    }
    Ok(GroupSettings {
        description: r.description.clone(),
        role_arn: r.role_arn.clone(),
        precedence: r.precedence,
    })
}

fn ids(r: &GroupIn) -> Result<(&str, String), WireError> {
    Ok((
        validate::pool_id(&r.user_pool_id)?,
        validate::name("groupName", &r.group_name)?,
    ))
}

pub async fn create(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: GroupIn = parse(input)?;
    let (pool_id, name) = ids(&r)?;
    let g = dir.create_group(pool_id, &name, settings(&r)?).await?;
    Ok(json!({ "Group": render::group(&g) }))
}

pub async fn get(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: GroupIn = parse(input)?;
    let (pool_id, name) = ids(&r)?;
    let g = dir.get_group(pool_id, &name).await?;
    Ok(json!({ "Group": render::group(&g) }))
}

pub async fn update(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: GroupIn = parse(input)?;
    let (pool_id, name) = ids(&r)?;
    let g = dir.update_group(pool_id, &name, settings(&r)?).await?;
    Ok(json!({ "Group": render::group(&g) }))
}

pub async fn delete(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: GroupIn = parse(input)?;
    let (pool_id, name) = ids(&r)?;
    dir.delete_group(pool_id, &name).await?;
    Ok(empty())
}

pub async fn list(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: GroupIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let limit = validate::limit("limit", r.limit, 0, 60, 60)?.max(1);
    let token = validate::pagination_token("nextToken", &r.next_token)?;
    let (groups, next) = dir.list_groups(pool_id, limit, token).await?;
    let mut out = json!({ "Groups": groups.iter().map(render::group).collect::<Vec<_>>() });
    render::put_token(&mut out, "NextToken", next);
    Ok(out)
}

pub async fn add_user(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: GroupIn = parse(input)?;
    let (pool_id, name) = ids(&r)?;
    let username = validate::name("username", &r.username)?;
    dir.add_user_to_group(pool_id, &username, &name).await?;
    Ok(empty())
}

pub async fn remove_user(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: GroupIn = parse(input)?;
    let (pool_id, name) = ids(&r)?;
    let username = validate::name("username", &r.username)?;
    dir.remove_user_from_group(pool_id, &username, &name)
        .await?;
    Ok(empty())
}

pub async fn groups_for_user(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: GroupIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let username = validate::name("username", &r.username)?;
    let limit = validate::limit("limit", r.limit, 0, 60, 60)?.max(1);
    let token = validate::pagination_token("nextToken", &r.next_token)?;
    let (groups, next) = dir
        .groups_for_user(pool_id, &username, limit, token)
        .await?;
    let mut out = json!({ "Groups": groups.iter().map(render::group).collect::<Vec<_>>() });
    render::put_token(&mut out, "NextToken", next);
    Ok(out)
}

pub async fn users_in_group(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: GroupIn = parse(input)?;
    let (pool_id, name) = ids(&r)?;
    let limit = validate::limit("limit", r.limit, 0, 60, 60)?.max(1);
    let token = validate::pagination_token("nextToken", &r.next_token)?;
    let (users, next) = dir.users_in_group(pool_id, &name, limit, token).await?;
    let mut out = json!({ "Users": users.iter().map(render::user_type).collect::<Vec<_>>() });
    render::put_token(&mut out, "NextToken", next);
    Ok(out)
}
