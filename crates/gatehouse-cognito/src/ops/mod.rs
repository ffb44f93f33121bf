//! The operation table: each Cognito operation by name.

mod auth;
pub(crate) mod clients;
mod devices;
mod groups;
mod mfa;
mod oauth;
pub(crate) mod pools;
mod signout;
mod users;

use gatehouse_core::Directory;
use serde::Deserialize;
use serde_json::Value;

use crate::WireError;

/// Every operation `dispatch` serves; anything else is an UnknownOperationException, answered
/// before the signature check so a typo is reported as what it is.
pub const OPERATIONS: &[&str] = &[
    "CreateUserPool",
    "DescribeUserPool",
    "UpdateUserPool",
    "DeleteUserPool",
    "ListUserPools",
    "AddCustomAttributes",
    "CreateUserPoolClient",
    "DescribeUserPoolClient",
    "UpdateUserPoolClient",
    "DeleteUserPoolClient",
    "ListUserPoolClients",
    "SignUp",
    "ConfirmSignUp",
    "ResendConfirmationCode",
    "AdminCreateUser",
    "AdminGetUser",
    "AdminDeleteUser",
    "AdminEnableUser",
    "AdminDisableUser",
    "AdminConfirmSignUp",
    "AdminSetUserPassword",
    "AdminResetUserPassword",
    "AdminUpdateUserAttributes",
    "AdminDeleteUserAttributes",
    "ForgotPassword",
    "ConfirmForgotPassword",
    "ChangePassword",
    "GetUser",
    "DeleteUser",
    "UpdateUserAttributes",
    "DeleteUserAttributes",
    "GetUserAttributeVerificationCode",
    "VerifyUserAttribute",
    "ListUsers",
    "CreateGroup",
    "GetGroup",
    "UpdateGroup",
    "DeleteGroup",
    "ListGroups",
    "AdminAddUserToGroup",
    "AdminRemoveUserFromGroup",
    "AdminListGroupsForUser",
    "ListUsersInGroup",
    "InitiateAuth",
    "AdminInitiateAuth",
    "RespondToAuthChallenge",
    "AdminRespondToAuthChallenge",
    "ConfirmDevice",
    "GetDevice",
    "ListDevices",
    "ForgetDevice",
    "UpdateDeviceStatus",
    "AdminGetDevice",
    "AdminListDevices",
    "AdminForgetDevice",
    "AdminUpdateDeviceStatus",
    "SetUserPoolMfaConfig",
    "GetUserPoolMfaConfig",
    "AssociateSoftwareToken",
    "VerifySoftwareToken",
    "SetUserMFAPreference",
    "AdminSetUserMFAPreference",
    "SetUserSettings",
    "AdminSetUserSettings",
    "GlobalSignOut",
    "AdminUserGlobalSignOut",
    "RevokeToken",
    "CreateUserPoolDomain",
    "DescribeUserPoolDomain",
    "UpdateUserPoolDomain",
    "DeleteUserPoolDomain",
    "CreateResourceServer",
    "DescribeResourceServer",
    "UpdateResourceServer",
    "DeleteResourceServer",
    "ListResourceServers",
    "SetUICustomization",
    "GetUICustomization",
    "GatehouseRotateSigningKey",
];

pub fn is_known(op: &str) -> bool {
    OPERATIONS.contains(&op)
}

pub async fn dispatch(dir: &Directory, op: &str, input: Value) -> Result<Value, WireError> {
    match op {
        "CreateUserPool" => pools::create(dir, input).await,
        "DescribeUserPool" => pools::describe(dir, input).await,
        "UpdateUserPool" => pools::update(dir, input).await,
        "DeleteUserPool" => pools::delete(dir, input).await,
        "ListUserPools" => pools::list(dir, input).await,
        "AddCustomAttributes" => pools::add_custom_attributes(dir, input).await,

        "CreateUserPoolClient" => clients::create(dir, input).await,
        "DescribeUserPoolClient" => clients::describe(dir, input).await,
        "UpdateUserPoolClient" => clients::update(dir, input).await,
        "DeleteUserPoolClient" => clients::delete(dir, input).await,
        "ListUserPoolClients" => clients::list(dir, input).await,

        "SignUp" => users::sign_up(dir, input).await,
        "ConfirmSignUp" => users::confirm_sign_up(dir, input).await,
        "ResendConfirmationCode" => users::resend_confirmation_code(dir, input).await,
        "AdminCreateUser" => users::admin_create_user(dir, input).await,
        "AdminGetUser" => users::admin_get_user(dir, input).await,
        "AdminDeleteUser" => users::admin_delete_user(dir, input).await,
        "AdminEnableUser" => users::admin_set_enabled(dir, input, true).await,
        "AdminDisableUser" => users::admin_set_enabled(dir, input, false).await,
        "AdminConfirmSignUp" => users::admin_confirm_sign_up(dir, input).await,
        "AdminSetUserPassword" => users::admin_set_user_password(dir, input).await,
        "AdminResetUserPassword" => users::admin_reset_user_password(dir, input).await,
        "AdminUpdateUserAttributes" => users::admin_update_user_attributes(dir, input).await,
        "AdminDeleteUserAttributes" => users::admin_delete_user_attributes(dir, input).await,
        "ForgotPassword" => users::forgot_password(dir, input).await,
        "ConfirmForgotPassword" => users::confirm_forgot_password(dir, input).await,
        "ChangePassword" => users::change_password(dir, input).await,
        "GetUser" => users::get_user(dir, input).await,
        "DeleteUser" => users::delete_user(dir, input).await,
        "UpdateUserAttributes" => users::update_user_attributes(dir, input).await,
        "DeleteUserAttributes" => users::delete_user_attributes(dir, input).await,
        "GetUserAttributeVerificationCode" => users::get_verification_code(dir, input).await,
        "VerifyUserAttribute" => users::verify_user_attribute(dir, input).await,
        "ListUsers" => users::list_users(dir, input).await,

        "CreateGroup" => groups::create(dir, input).await,
        "GetGroup" => groups::get(dir, input).await,
        "UpdateGroup" => groups::update(dir, input).await,
        "DeleteGroup" => groups::delete(dir, input).await,
        "ListGroups" => groups::list(dir, input).await,
        "AdminAddUserToGroup" => groups::add_user(dir, input).await,
        "AdminRemoveUserFromGroup" => groups::remove_user(dir, input).await,
        "AdminListGroupsForUser" => groups::groups_for_user(dir, input).await,
        "ListUsersInGroup" => groups::users_in_group(dir, input).await,

        "InitiateAuth" => auth::initiate(dir, input, false).await,
        "AdminInitiateAuth" => auth::initiate(dir, input, true).await,
        "RespondToAuthChallenge" => auth::respond(dir, input, false).await,
        "AdminRespondToAuthChallenge" => auth::respond(dir, input, true).await,

        "ConfirmDevice" => devices::confirm(dir, input).await,
        "GetDevice" => devices::get(dir, input).await,
        "ListDevices" => devices::list(dir, input).await,
        "ForgetDevice" => devices::forget(dir, input).await,
        "UpdateDeviceStatus" => devices::update_status(dir, input).await,
        "AdminGetDevice" => devices::admin_get(dir, input).await,
        "AdminListDevices" => devices::admin_list(dir, input).await,
        "AdminForgetDevice" => devices::admin_forget(dir, input).await,
        "AdminUpdateDeviceStatus" => devices::admin_update_status(dir, input).await,
        "SetUserPoolMfaConfig" => mfa::set_pool_config(dir, input).await,
        "GetUserPoolMfaConfig" => mfa::get_pool_config(dir, input).await,
        "AssociateSoftwareToken" => mfa::associate_software_token(dir, input).await,
        "VerifySoftwareToken" => mfa::verify_software_token(dir, input).await,
        "SetUserMFAPreference" => mfa::set_user_mfa_preference(dir, input).await,
        "AdminSetUserMFAPreference" => mfa::admin_set_user_mfa_preference(dir, input).await,
        "SetUserSettings" => mfa::set_user_settings(dir, input).await,
        "AdminSetUserSettings" => mfa::admin_set_user_settings(dir, input).await,
        "GlobalSignOut" => signout::global_sign_out(dir, input).await,
        "AdminUserGlobalSignOut" => signout::admin_user_global_sign_out(dir, input).await,
        "RevokeToken" => signout::revoke_token(dir, input).await,

        "CreateUserPoolDomain" => oauth::create_domain(dir, input).await,
        "DescribeUserPoolDomain" => oauth::describe_domain(dir, input).await,
        "UpdateUserPoolDomain" => oauth::update_domain(dir, input).await,
        "DeleteUserPoolDomain" => oauth::delete_domain(dir, input).await,
        "CreateResourceServer" => oauth::create_resource_server(dir, input).await,
        "DescribeResourceServer" => oauth::describe_resource_server(dir, input).await,
        "UpdateResourceServer" => oauth::update_resource_server(dir, input).await,
        "DeleteResourceServer" => oauth::delete_resource_server(dir, input).await,
        "ListResourceServers" => oauth::list_resource_servers(dir, input).await,
        "SetUICustomization" => oauth::set_ui_customization(dir, input).await,
        "GetUICustomization" => oauth::get_ui_customization(dir, input).await,
        "GatehouseRotateSigningKey" => pools::rotate_signing_key(dir, input).await,

        other => Err(WireError::UnknownOperation(other.to_string())),
    }
}

/// `[{"Name": .., "Value": ..}]` as AWS sends attribute lists.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeType {
    pub name: Option<String>,
    pub value: Option<String>,
}

pub fn attribute_pairs(
    field: &str,
    attrs: Option<Vec<AttributeType>>,
) -> Result<Vec<(String, String)>, WireError> {
    let attrs = attrs.unwrap_or_default();
    let mut out = Vec::with_capacity(attrs.len());
    for a in attrs {
        let name = crate::validate::required(&a.name, &format!("{field}.member.name"))?;
        crate::validate::length(&format!("{field}.member.name"), name, 1, 32)?;
        let value = a.value.unwrap_or_default();
        crate::validate::length(&format!("{field}.member.value"), &value, 0, 2048)?;
        out.push((name.clone(), value));
    }
    Ok(out)
}

pub fn empty() -> Value {
    Value::Object(Default::default())
}

#[cfg(test)]
mod tests {
    /// `OPERATIONS` and the match in `dispatch` list the same names.
    #[test]
    fn operation_list_matches_dispatch() {
        let src = include_str!("mod.rs");
        let body = src
            .split("pub async fn dispatch(")
            .nth(1)
            .and_then(|s| s.split("other => Err").next())
            .unwrap_or_default();
        let arms: Vec<&str> = body
            .lines()
            .filter_map(|l| l.trim().strip_prefix('"'))
            .filter_map(|l| l.split('"').next())
            .collect();
        assert_eq!(arms, super::OPERATIONS);
    }
}
