//! Users: sign-up, confirmation, admin management, self-service with an access token,
//! attribute verification, password reset, ListUsers.

use gatehouse_core::users::NewUser;
use gatehouse_core::Directory;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{attribute_pairs, empty, AttributeType};
use crate::render;
use crate::validate::{self, parse};
use crate::WireError;

/// The members the user operations take; each operation reads the ones it needs.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UserIn {
    user_pool_id: Option<String>,
    client_id: Option<String>,
    username: Option<String>,
    password: Option<String>,
    secret_hash: Option<String>,
    user_attributes: Option<Vec<AttributeType>>,
    user_attribute_names: Option<Vec<String>>,
    confirmation_code: Option<String>,
    force_alias_creation: Option<bool>,
    temporary_password: Option<String>,
    message_action: Option<String>,
    desired_delivery_mediums: Option<Vec<String>>,
    permanent: Option<bool>,
    access_token: Option<String>,
    previous_password: Option<String>,
    proposed_password: Option<String>,
    attribute_name: Option<String>,
    code: Option<String>,
    filter: Option<String>,
    limit: Option<i64>,
    pagination_token: Option<String>,
    attributes_to_get: Option<Vec<String>>,
}

fn username(r: &UserIn) -> Result<String, WireError> {
    validate::name("username", &r.username)
}

pub async fn sign_up(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: UserIn = parse(input)?;
    let client_id = validate::client_id(&r.client_id)?;
    let username = username(&r)?;
    let password = validate::password("password", &r.password)?;
    let secret = validate::optional_secret_hash(&r.secret_hash)?;
    let attrs = attribute_pairs("userAttributes", r.user_attributes)?;
    let out = dir
        .sign_up(client_id, &username, &password, attrs, secret)
        .await?;
    let mut v = json!({ "UserConfirmed": out.confirmed, "UserSub": out.user_sub });
    if let (Some(d), Some(obj)) = (&out.delivery, v.as_object_mut()) {
        obj.insert("CodeDeliveryDetails".into(), render::delivery(d));
    }
    Ok(v)
}

pub async fn confirm_sign_up(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: UserIn = parse(input)?;
    let client_id = validate::client_id(&r.client_id)?;
    let username = username(&r)?;
    let code = validate::code("confirmationCode", &r.confirmation_code)?;
    let secret = validate::optional_secret_hash(&r.secret_hash)?;
    dir.confirm_sign_up(
        client_id,
        &username,
        &code,
        secret,
        r.force_alias_creation.unwrap_or(false),
    )
    .await?;
    Ok(empty())
}

pub async fn resend_confirmation_code(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: UserIn = parse(input)?;
    let client_id = validate::client_id(&r.client_id)?;
    let username = username(&r)?;
    let secret = validate::optional_secret_hash(&r.secret_hash)?;
    let d = dir
        .resend_confirmation_code(client_id, &username, secret)
        .await?;
    Ok(match d {
        Some(d) => json!({ "CodeDeliveryDetails": render::delivery(&d) }),
        None => empty(),
    })
}

pub async fn admin_create_user(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: UserIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let username = username(&r)?;
    if let Some(tp) = &r.temporary_password {
        validate::length("temporaryPassword", tp, 0, 256)?;
    }
    let user = dir
        .admin_create_user(
            pool_id,
            NewUser {
                username,
                attributes: attribute_pairs("userAttributes", r.user_attributes)?,
                temporary_password: r.temporary_password.filter(|t| !t.is_empty()),
                message_action: r.message_action,
                desired_delivery_mediums: r.desired_delivery_mediums.unwrap_or_default(),
                force_alias_creation: r.force_alias_creation.unwrap_or(false),
            },
        )
        .await?;
    Ok(json!({ "User": render::user_type(&user) }))
}

pub async fn admin_get_user(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: UserIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let user = dir.admin_get_user(pool_id, &username(&r)?).await?;
    Ok(render::admin_get_user(&user))
}

pub async fn admin_delete_user(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: UserIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    dir.admin_delete_user(pool_id, &username(&r)?).await?;
    Ok(empty())
}

pub async fn admin_set_enabled(
    dir: &Directory,
    input: Value,
    enabled: bool,
) -> Result<Value, WireError> {
    let r: UserIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    dir.admin_set_enabled(pool_id, &username(&r)?, enabled)
        .await?;
    Ok(empty())
}

pub async fn admin_confirm_sign_up(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: UserIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    dir.admin_confirm_sign_up(pool_id, &username(&r)?).await?;
    Ok(empty())
}

pub async fn admin_set_user_password(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: UserIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let password = validate::password("password", &r.password)?;
    dir.admin_set_user_password(
        pool_id,
        &username(&r)?,
        &password,
        r.permanent.unwrap_or(false),
    )
    .await?;
    Ok(empty())
}

pub async fn admin_reset_user_password(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: UserIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    dir.admin_reset_user_password(pool_id, &username(&r)?)
        .await?;
    Ok(empty())
}

pub async fn admin_update_user_attributes(
    dir: &Directory,
    input: Value,
) -> Result<Value, WireError> {
    let r: UserIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let username = username(&r)?;
    validate::required(&r.user_attributes, "userAttributes")?;
    let attrs = attribute_pairs("userAttributes", r.user_attributes)?;
    dir.admin_update_user_attributes(pool_id, &username, attrs)
        .await?;
    Ok(empty())
}

fn attribute_names(r: &UserIn) -> Result<Vec<String>, WireError> {
    let names = validate::required(&r.user_attribute_names, "userAttributeNames")?;
    for n in names {
        validate::length("userAttributeNames.member", n, 1, 32)?;
    }
    Ok(names.clone())
}

pub async fn admin_delete_user_attributes(
    dir: &Directory,
    input: Value,
) -> Result<Value, WireError> {
    let r: UserIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let names = attribute_names(&r)?;
    dir.admin_delete_user_attributes(pool_id, &username(&r)?, names)
        .await?;
    Ok(empty())
}

pub async fn forgot_password(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: UserIn = parse(input)?;
    let client_id = validate::client_id(&r.client_id)?;
    let secret = validate::optional_secret_hash(&r.secret_hash)?;
    let d = dir
        .forgot_password(client_id, &username(&r)?, secret)
        .await?;
    Ok(json!({ "CodeDeliveryDetails": render::delivery(&d) }))
}

pub async fn confirm_forgot_password(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: UserIn = parse(input)?;
    let client_id = validate::client_id(&r.client_id)?;
    let code = validate::code("confirmationCode", &r.confirmation_code)?;
    let password = validate::password("password", &r.password)?;
    let secret = validate::optional_secret_hash(&r.secret_hash)?;
    dir.confirm_forgot_password(client_id, &username(&r)?, &code, &password, secret)
        .await?;
    Ok(empty())
}

fn access_token(r: &UserIn) -> Result<String, WireError> {
    validate::token("accessToken", &r.access_token)
}

pub async fn change_password(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: UserIn = parse(input)?;
    let token = access_token(&r)?;
    let previous = validate::password("previousPassword", &r.previous_password)?;
    let proposed = validate::password("proposedPassword", &r.proposed_password)?;
    dir.change_password(&token, &previous, &proposed).await?;
    Ok(empty())
}

pub async fn get_user(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: UserIn = parse(input)?;
    let user = dir.get_user(&access_token(&r)?).await?;
    Ok(render::get_user(&user))
}

pub async fn delete_user(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: UserIn = parse(input)?;
    dir.delete_self(&access_token(&r)?).await?;
    Ok(empty())
}

pub async fn update_user_attributes(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: UserIn = parse(input)?;
    let token = access_token(&r)?;
    validate::required(&r.user_attributes, "userAttributes")?;
    let attrs = attribute_pairs("userAttributes", r.user_attributes)?;
    let deliveries = dir.update_user_attributes(&token, attrs).await?;
    Ok(json!({
        "CodeDeliveryDetailsList": deliveries.iter().map(render::delivery).collect::<Vec<_>>()
    }))
}

pub async fn delete_user_attributes(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: UserIn = parse(input)?;
    let token = access_token(&r)?;
    let names = attribute_names(&r)?;
    dir.delete_user_attributes(&token, names).await?;
    Ok(empty())
}

pub async fn get_verification_code(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: UserIn = parse(input)?;
    let token = access_token(&r)?;
    let attr = validate::required(&r.attribute_name, "attributeName")?;
    validate::length("attributeName", attr, 1, 32)?;
    let d = dir
        .get_user_attribute_verification_code(&token, attr)
        .await?;
    Ok(json!({ "CodeDeliveryDetails": render::delivery(&d) }))
}

pub async fn verify_user_attribute(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: UserIn = parse(input)?;
    let token = access_token(&r)?;
    let attr = validate::required(&r.attribute_name, "attributeName")?;
    validate::length("attributeName", attr, 1, 32)?;
    let code = validate::code("code", &r.code)?;
    dir.verify_user_attribute(&token, attr, &code).await?;
    Ok(empty())
}

pub async fn list_users(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: UserIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let limit = validate::limit("limit", r.limit, 0, 60, 60)?;
    let limit = if limit == 0 { 60 } else { limit };
    if let Some(f) = &r.filter {
        validate::length("filter", f, 0, 256)?;
    }
    let token = validate::pagination_token("paginationToken", &r.pagination_token)?;
    let (users, next) = dir
        .list_users(pool_id, r.filter.as_deref(), limit, token)
        .await?;
    let wanted = r.attributes_to_get;
    let rendered: Vec<Value> = users
        .iter()
        .map(|u| {
            let mut v = render::user_type(u);
            if let (Some(w), Some(attrs)) = (
                &wanted,
                v.get_mut("Attributes").and_then(Value::as_array_mut),
            ) {
                attrs.retain(|a| {
                    a.get("Name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| w.iter().any(|x| x == n))
                });
            }
            v
        })
        .collect();
    let mut out = json!({ "Users": rendered });
    render::put_token(&mut out, "PaginationToken", next);
    Ok(out)
}
