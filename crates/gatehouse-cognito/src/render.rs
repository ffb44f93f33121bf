//! Domain values in AWS's JSON shapes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse_core::auth::{AuthOutcome, Tokens};
use gatehouse_core::store::{AppClient, Group, SchemaAttribute, User, UserPool};
use gatehouse_core::users::CodeDelivery;
use gatehouse_core::{attributes, DirectoryConfig};
use serde_json::{json, Map, Value};

/// Pagination tokens are opaque to clients.
pub fn encode_token(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

pub fn decode_token(token: &str) -> Option<String> {
    String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()
}

pub fn put_token(out: &mut Value, field: &str, next: Option<String>) {
    if let (Some(next), Some(obj)) = (next, out.as_object_mut()) {
        obj.insert(field.to_string(), json!(encode_token(&next)));
    }
}

pub fn attribute_list(user: &User) -> Value {
    Value::Array(
        user.attributes
            .iter()
            .map(|(k, v)| json!({ "Name": k, "Value": v }))
            .collect(),
    )
}

/// The `UserType` of ListUsers, AdminCreateUser, ListUsersInGroup.
pub fn user_type(user: &User) -> Value {
    json!({
        "Username": user.username,
        "Attributes": attribute_list(user),
        "UserCreateDate": user.created,
        "UserLastModifiedDate": user.modified,
        "Enabled": user.enabled,
        "UserStatus": user.status.as_aws(),
    })
}

pub fn admin_get_user(user: &User) -> Value {
    let mut v = json!({
        "Username": user.username,
        "UserAttributes": attribute_list(user),
        "UserCreateDate": user.created,
        "UserLastModifiedDate": user.modified,
        "Enabled": user.enabled,
        "UserStatus": user.status.as_aws(),
    });
    user_mfa(&mut v, user);
    v
}

pub fn get_user(user: &User) -> Value {
    let mut v = json!({
        "Username": user.username,
        "UserAttributes": attribute_list(user),
    });
    user_mfa(&mut v, user);
    v
}

/// UserMFASettingList, PreferredMfaSetting and the legacy MFAOptions, when the user has them.
fn user_mfa(v: &mut Value, user: &User) {
    let mfa = gatehouse_core::mfa::user_mfa_view(user);
    if let Some(obj) = v.as_object_mut() {
        if !mfa.enabled.is_empty() {
            obj.insert("UserMFASettingList".into(), json!(mfa.enabled));
        }
        if let Some(p) = mfa.preferred {
            obj.insert("PreferredMfaSetting".into(), json!(p));
        }
        if mfa.sms_option {
            obj.insert(
                "MFAOptions".into(),
                json!([{ "DeliveryMedium": "SMS", "AttributeName": "phone_number" }]),
            );
        }
    }
}

pub fn schema_attribute(a: &SchemaAttribute) -> Value {
    let mut v = json!({
        "Name": attributes::full_name(a),
        "AttributeDataType": a.data_type,
        "DeveloperOnlyAttribute": a.developer_only,
        "Mutable": a.mutable,
        "Required": a.required,
    });
    if let Some(obj) = v.as_object_mut() {
        if a.data_type == "String" {
            let mut c = Map::new();
            if let Some(m) = a.min_length {
                c.insert("MinLength".into(), json!(m.to_string()));
            }
            if let Some(m) = a.max_length {
                c.insert("MaxLength".into(), json!(m.to_string()));
            }
            obj.insert("StringAttributeConstraints".into(), Value::Object(c));
        }
        if a.data_type == "Number" {
            let mut c = Map::new();
            if let Some(m) = a.min_value {
                c.insert("MinValue".into(), json!(m.to_string()));
            }
            if let Some(m) = a.max_value {
                c.insert("MaxValue".into(), json!(m.to_string()));
            }
            obj.insert("NumberAttributeConstraints".into(), Value::Object(c));
        }
    }
    v
}

pub fn pool(p: &UserPool, users: u64, config: &DirectoryConfig) -> Value {
    let pp = &p.password_policy;
    let mut policy = json!({
        "MinimumLength": pp.minimum_length,
        "RequireUppercase": pp.require_uppercase,
        "RequireLowercase": pp.require_lowercase,
        "RequireNumbers": pp.require_numbers,
        "RequireSymbols": pp.require_symbols,
        "TemporaryPasswordValidityDays": pp.temporary_password_validity_days,
    });
    if let (Some(h), Some(obj)) = (pp.password_history_size, policy.as_object_mut()) {
        obj.insert("PasswordHistorySize".into(), json!(h));
    }
    let mut admin =
        json!({ "AllowAdminCreateUserOnly": p.admin_create_user.allow_admin_create_user_only });
    if let Some(obj) = admin.as_object_mut() {
        if let Some(d) = p.admin_create_user.unused_account_validity_days {
            obj.insert("UnusedAccountValidityDays".into(), json!(d));
        }
        if let Some(t) = &p.admin_create_user.invite_message_template {
            obj.insert("InviteMessageTemplate".into(), t.clone());
        }
    }
    let mut v = json!({
        "Id": p.id,
        "Name": p.name,
        "Arn": config.pool_arn(&p.id),
        "Policies": { "PasswordPolicy": policy, "SignInPolicy": { "AllowedFirstAuthFactors": ["PASSWORD"] } },
        "DeletionProtection": if p.deletion_protection { "ACTIVE" } else { "INACTIVE" },
        "LambdaConfig": {},
        "LastModifiedDate": p.modified,
        "CreationDate": p.created,
        "SchemaAttributes": p.schema.iter().map(schema_attribute).collect::<Vec<_>>(),
        "AutoVerifiedAttributes": p.auto_verified_attributes,
        "MfaConfiguration": p.mfa_configuration,
        "EstimatedNumberOfUsers": users,
        "AdminCreateUserConfig": admin,
        "UsernameConfiguration": { "CaseSensitive": p.username_case_sensitive },
        "UserAttributeUpdateSettings": {
            "AttributesRequireVerificationBeforeUpdate": p.attributes_require_verification_before_update
        },
        "VerificationMessageTemplate": { "DefaultEmailOption": "CONFIRM_WITH_CODE" },
        "AccountRecoverySetting": { "RecoveryMechanisms": [
            { "Priority": 1, "Name": "verified_email" },
            { "Priority": 2, "Name": "verified_phone_number" }
        ] },
        "UserPoolTier": "ESSENTIALS",
    });
    if let Some(obj) = v.as_object_mut() {
        if !p.username_attributes.is_empty() {
            obj.insert("UsernameAttributes".into(), json!(p.username_attributes));
        }
        if !p.alias_attributes.is_empty() {
            obj.insert("AliasAttributes".into(), json!(p.alias_attributes));
        }
        // Keys starting with `_` are the domain's own (e.g. the MFA factors), not AWS members.
        for (k, val) in p.settings.iter().filter(|(k, _)| !k.starts_with('_')) {
            obj.insert(k.clone(), val.clone());
        }
    }
    v
}

pub fn pool_summary(p: &UserPool) -> Value {
    json!({
        "Id": p.id,
        "Name": p.name,
        "LambdaConfig": p.settings.get("LambdaConfig").cloned().unwrap_or_else(|| json!({})),
        "LastModifiedDate": p.modified,
        "CreationDate": p.created,
    })
}

pub fn client(c: &AppClient) -> Value {
    let mut v = json!({
        "UserPoolId": c.pool_id,
        "ClientName": c.client_name,
        "ClientId": c.client_id,
        "LastModifiedDate": c.modified,
        "CreationDate": c.created,
        "RefreshTokenValidity": c.refresh_token_validity,
        "AccessTokenValidity": c.access_token_validity,
        "IdTokenValidity": c.id_token_validity,
        "TokenValidityUnits": {
            "AccessToken": c.token_validity_units.access_token,
            "IdToken": c.token_validity_units.id_token,
            "RefreshToken": c.token_validity_units.refresh_token,
        },
        "ExplicitAuthFlows": c.explicit_auth_flows,
        "PreventUserExistenceErrors": c.prevent_user_existence_errors,
        "EnableTokenRevocation": c.enable_token_revocation,
        "EnablePropagateAdditionalUserContextData": false,
        "AuthSessionValidity": c.auth_session_validity_minutes,
        "AllowedOAuthFlowsUserPoolClient": false,
    });
    if let Some(obj) = v.as_object_mut() {
        if let Some(s) = &c.client_secret {
            obj.insert("ClientSecret".into(), json!(s));
        }
        if let Some(r) = &c.read_attributes {
            obj.insert("ReadAttributes".into(), json!(r));
        }
        if let Some(w) = &c.write_attributes {
            obj.insert("WriteAttributes".into(), json!(w));
        }
        for (k, val) in &c.settings {
            obj.insert(k.clone(), val.clone());
        }
    }
    v
}

pub fn group(g: &Group) -> Value {
    let mut v = json!({
        "GroupName": g.name,
        "UserPoolId": g.pool_id,
        "LastModifiedDate": g.modified,
        "CreationDate": g.created,
    });
    if let Some(obj) = v.as_object_mut() {
        if let Some(d) = &g.description {
            obj.insert("Description".into(), json!(d));
        }
        if let Some(r) = &g.role_arn {
            obj.insert("RoleArn".into(), json!(r));
        }
        if let Some(p) = g.precedence {
            obj.insert("Precedence".into(), json!(p));
        }
    }
    v
}

pub fn delivery(d: &CodeDelivery) -> Value {
    json!({
        "Destination": d.destination,
        "DeliveryMedium": d.medium.as_aws(),
        "AttributeName": d.attribute,
    })
}

fn tokens(t: &Tokens) -> Value {
    let mut v = json!({
        "AccessToken": t.access_token,
        "ExpiresIn": t.expires_in,
        "TokenType": "Bearer",
    });
    if let Some(obj) = v.as_object_mut() {
        if let Some(id) = &t.id_token {
            obj.insert("IdToken".into(), json!(id));
        }
        if let Some(r) = &t.refresh_token {
            obj.insert("RefreshToken".into(), json!(r));
        }
        if let Some(d) = &t.new_device {
            obj.insert(
                "NewDeviceMetadata".into(),
                json!({ "DeviceKey": d.device_key, "DeviceGroupKey": d.device_group_key }),
            );
        }
    }
    v
}

pub fn auth_outcome(o: &AuthOutcome) -> Result<Value, crate::WireError> {
    Ok(match o {
        AuthOutcome::Authenticated(t) => json!({
            "ChallengeParameters": {},
            "AuthenticationResult": tokens(t),
        }),
        AuthOutcome::Challenge(c) => json!({
            "ChallengeName": c.name,
            "Session": c.session,
            "ChallengeParameters": c.parameters,
        }),
        // Only the hosted pages' sign-ins end this way, and the API never runs one.
        AuthOutcome::SignedIn { .. } => {
            return Err(crate::WireError::Domain(gatehouse_core::Error::Internal(
                "a hosted sign-in reached the API".into(),
            )))
        }
    })
}
