//! Devices: ConfirmDevice, GetDevice, ListDevices, ForgetDevice, UpdateDeviceStatus and their
//! Admin variants.

use gatehouse_core::devices::{device_attributes, DevicePage};
use gatehouse_core::store::Device;
use gatehouse_core::Directory;
use serde::Deserialize;
use serde_json::{json, Value};

use super::empty;
use crate::validate::{self, parse};
use crate::WireError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeviceIn {
    user_pool_id: Option<String>,
    username: Option<String>,
    access_token: Option<String>,
    device_key: Option<String>,
    device_name: Option<String>,
    device_secret_verifier_config: Option<VerifierConfig>,
    device_remembered_status: Option<String>,
    limit: Option<i64>,
    pagination_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VerifierConfig {
    password_verifier: Option<String>,
    salt: Option<String>,
}

fn device_key(r: &DeviceIn) -> Result<&str, WireError> {
    let v = validate::required(&r.device_key, "deviceKey")?;
    validate::length("deviceKey", v, 1, 55)?;
    Ok(v)
}

fn access_token(r: &DeviceIn) -> Result<String, WireError> {
    validate::token("accessToken", &r.access_token)
}

fn admin(r: &DeviceIn) -> Result<(&str, String), WireError> {
    Ok((
        validate::pool_id(&r.user_pool_id)?,
        validate::name("username", &r.username)?,
    ))
}

fn render_device(d: &Device) -> Value {
    let attrs: Vec<Value> = device_attributes(d)
        .into_iter()
        .map(|(n, v)| json!({ "Name": n, "Value": v }))
        .collect();
    let mut v = json!({
        "DeviceKey": d.device_key,
        "DeviceAttributes": attrs,
        "DeviceCreateDate": d.created,
        "DeviceLastModifiedDate": d.modified,
    });
    if let (Some(t), Some(obj)) = (d.last_authenticated, v.as_object_mut()) {
        obj.insert("DeviceLastAuthenticatedDate".into(), json!(t));
    }
    v
}

fn render_page(p: &DevicePage) -> Value {
    let mut v = json!({ "Devices": p.devices.iter().map(render_device).collect::<Vec<_>>() });
    if let (Some(t), Some(obj)) = (&p.pagination_token, v.as_object_mut()) {
        obj.insert("PaginationToken".into(), json!(t));
    }
    v
}

pub async fn confirm(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: DeviceIn = parse(input)?;
    let token = access_token(&r)?;
    let key = device_key(&r)?;
    if let Some(name) = &r.device_name {
        validate::length("deviceName", name, 1, 1024)?;
    }
    let cfg = r.device_secret_verifier_config.as_ref();
    let verifier = cfg
        .and_then(|c| c.password_verifier.clone())
        .unwrap_or_default();
    let salt = cfg.and_then(|c| c.salt.clone()).unwrap_or_default();
    let necessary = dir
        .confirm_device(&token, key, &verifier, &salt, r.device_name.as_deref())
        .await?;
    Ok(json!({ "UserConfirmationNecessary": necessary }))
}

pub async fn get(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: DeviceIn = parse(input)?;
    let d = dir.get_device(&access_token(&r)?, device_key(&r)?).await?;
    Ok(json!({ "Device": render_device(&d) }))
}

pub async fn admin_get(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: DeviceIn = parse(input)?;
    let (pool_id, username) = admin(&r)?;
    let d = dir
        .admin_get_device(pool_id, &username, device_key(&r)?)
        .await?;
    Ok(json!({ "Device": render_device(&d) }))
}

pub async fn list(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: DeviceIn = parse(input)?;
    let page = dir
        .list_devices(&access_token(&r)?, r.limit, r.pagination_token.as_deref())
        .await?;
    Ok(render_page(&page))
}

pub async fn admin_list(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: DeviceIn = parse(input)?;
    let (pool_id, username) = admin(&r)?;
    let page = dir
        .admin_list_devices(pool_id, &username, r.limit, r.pagination_token.as_deref())
        .await?;
    Ok(render_page(&page))
}

pub async fn forget(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: DeviceIn = parse(input)?;
    dir.forget_device(&access_token(&r)?, device_key(&r)?)
        .await?;
    Ok(empty())
}

pub async fn admin_forget(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: DeviceIn = parse(input)?;
    let (pool_id, username) = admin(&r)?;
    dir.admin_forget_device(pool_id, &username, device_key(&r)?)
        .await?;
    Ok(empty())
}

pub async fn update_status(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: DeviceIn = parse(input)?;
    dir.update_device_status(
        &access_token(&r)?,
        device_key(&r)?,
        r.device_remembered_status.as_deref(),
    )
    .await?;
    Ok(empty())
}

pub async fn admin_update_status(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: DeviceIn = parse(input)?;
    let (pool_id, username) = admin(&r)?;
    dir.admin_update_device_status(
        pool_id,
        &username,
        device_key(&r)?,
        r.device_remembered_status.as_deref(),
    )
    .await?;
    Ok(empty())
}
