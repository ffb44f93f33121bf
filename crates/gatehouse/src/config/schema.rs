//! The shape of a configuration file: every member it may hold, with its type, so unknown
//! members (typos) and wrong types are reported with their location before anything is
//! applied. Members mirror AWS's request members; the deeper rules (ranges, cross-member
//! rules) are the domain's, checked by applying the file (see `apply/`).

use serde_json::{Map, Value};

use super::Problem;

/// What a value must be.
#[derive(Clone, Copy)]
pub enum Shape {
    Str,
    Bool,
    Int,
    /// A string, or a number written without quotes (kept as its decimal text): AWS types
    /// some numeric settings as strings (`MinLength: "8"`), YAML authors write `8`.
    NumStr,
    /// A string, number or boolean, kept as text (user attribute values: `email_verified:
    /// true` means "true").
    Text,
    Num,
    Enum(&'static [&'static str]),
    /// One of these numbers-as-text (`payloadFormatVersion: 2.0` or `"2.0"`).
    NumEnum(&'static [&'static str]),
    List(&'static Shape),
    /// An object with keys of the author's choosing.
    Map(&'static Shape),
    Obj(&'static [Member]),
    Any,
    /// User attributes: AWS's `[{Name, Value}]` list, or a `name: value` mapping.
    Attributes,
    /// An OpenAPI 3 document inline (a mapping) or a path relative to the file (a string).
    OpenApi,
}

#[derive(Clone, Copy)]
pub struct Member {
    pub name: &'static str,
    pub shape: Shape,
    pub required: bool,
}

const fn opt(name: &'static str, shape: Shape) -> Member {
    Member {
        name,
        shape,
        required: false,
    }
}

const fn req(name: &'static str, shape: Shape) -> Member {
    Member {
        name,
        shape,
        required: true,
    }
}

const STRS: Shape = Shape::List(&Shape::Str);
const STR_MAP: Shape = Shape::Map(&Shape::Str);

// --- user pools (CreateUserPool's members) ---

const PASSWORD_POLICY: &[Member] = &[
    opt("MinimumLength", Shape::Int),
    opt("RequireUppercase", Shape::Bool),
    opt("RequireLowercase", Shape::Bool),
    opt("RequireNumbers", Shape::Bool),
    opt("RequireSymbols", Shape::Bool),
    opt("TemporaryPasswordValidityDays", Shape::Int),
    opt("PasswordHistorySize", Shape::Int),
];

const POLICIES: &[Member] = &[opt("PasswordPolicy", Shape::Obj(PASSWORD_POLICY))];

const SCHEMA_ATTRIBUTE: &[Member] = &[
    req("Name", Shape::Str),
    opt(
        "AttributeDataType",
        Shape::Enum(&["String", "Number", "DateTime", "Boolean"]),
    ),
    opt("DeveloperOnlyAttribute", Shape::Bool),
    opt("Mutable", Shape::Bool),
    opt("Required", Shape::Bool),
    opt(
        "NumberAttributeConstraints",
        Shape::Obj(&[
            opt("MinValue", Shape::NumStr),
            opt("MaxValue", Shape::NumStr),
        ]),
    ),
    opt(
        "StringAttributeConstraints",
        Shape::Obj(&[
            opt("MinLength", Shape::NumStr),
            opt("MaxLength", Shape::NumStr),
        ]),
    ),
];

const VERIFIABLE: &[&str] = &["email", "phone_number"];

const LAMBDA_VERSIONED: &[Member] = &[
    opt("LambdaVersion", Shape::Str),
    opt("LambdaArn", Shape::Str),
];

const LAMBDA_CONFIG: &[Member] = &[
    opt("PreSignUp", Shape::Str),
    opt("CustomMessage", Shape::Str),
    opt("PostConfirmation", Shape::Str),
    opt("PreAuthentication", Shape::Str),
    opt("PostAuthentication", Shape::Str),
    opt("DefineAuthChallenge", Shape::Str),
    opt("CreateAuthChallenge", Shape::Str),
    opt("VerifyAuthChallengeResponse", Shape::Str),
    opt("PreTokenGeneration", Shape::Str),
    opt("UserMigration", Shape::Str),
    opt("PreTokenGenerationConfig", Shape::Obj(LAMBDA_VERSIONED)),
    opt("CustomSMSSender", Shape::Obj(LAMBDA_VERSIONED)),
    opt("CustomEmailSender", Shape::Obj(LAMBDA_VERSIONED)),
    opt("KMSKeyID", Shape::Str),
];

pub const CLIENT: &[Member] = &[
    req("ClientName", Shape::Str),
    // The file's own: a fixed id and secret (reproducible tokens across data dirs).
    opt("ClientId", Shape::Str),
    opt("ClientSecret", Shape::Str),
    opt("GenerateSecret", Shape::Bool),
    opt("RefreshTokenValidity", Shape::Int),
    opt("AccessTokenValidity", Shape::Int),
    opt("IdTokenValidity", Shape::Int),
    opt(
        "TokenValidityUnits",
        Shape::Obj(&[
            opt("AccessToken", Shape::Enum(UNITS)),
            opt("IdToken", Shape::Enum(UNITS)),
            opt("RefreshToken", Shape::Enum(UNITS)),
        ]),
    ),
    opt("ReadAttributes", STRS),
    opt("WriteAttributes", STRS),
    opt(
        "ExplicitAuthFlows",
        Shape::List(&Shape::Enum(&[
            "ALLOW_ADMIN_USER_PASSWORD_AUTH",
            "ALLOW_CUSTOM_AUTH",
            "ALLOW_USER_PASSWORD_AUTH",
            "ALLOW_USER_SRP_AUTH",
            "ALLOW_REFRESH_TOKEN_AUTH",
            "ALLOW_USER_AUTH",
            "ADMIN_NO_SRP_AUTH",
            "CUSTOM_AUTH_FLOW_ONLY",
            "USER_PASSWORD_AUTH",
        ])),
    ),
    opt(
        "PreventUserExistenceErrors",
        Shape::Enum(&["LEGACY", "ENABLED"]),
    ),
    opt("EnableTokenRevocation", Shape::Bool),
    opt("AuthSessionValidity", Shape::Int),
    opt("SupportedIdentityProviders", STRS),
    opt("CallbackURLs", STRS),
    opt("LogoutURLs", STRS),
    opt("DefaultRedirectURI", Shape::Str),
    opt(
        "AllowedOAuthFlows",
        Shape::List(&Shape::Enum(&["code", "implicit", "client_credentials"])),
    ),
    opt("AllowedOAuthScopes", STRS),
    opt("AllowedOAuthFlowsUserPoolClient", Shape::Bool),
    opt(
        "AnalyticsConfiguration",
        Shape::Obj(&[
            opt("ApplicationId", Shape::Str),
            opt("ApplicationArn", Shape::Str),
            opt("RoleArn", Shape::Str),
            opt("ExternalId", Shape::Str),
            opt("UserDataShared", Shape::Bool),
        ]),
    ),
    opt("EnablePropagateAdditionalUserContextData", Shape::Bool),
    opt(
        "RefreshTokenRotation",
        Shape::Obj(&[
            opt("Feature", Shape::Enum(&["ENABLED", "DISABLED"])),
            opt("RetryGracePeriodSeconds", Shape::Int),
        ]),
    ),
    // The file's own: SetUICustomization for this client.
    opt("UICustomization", Shape::Obj(UI_CUSTOMIZATION)),
];

/// SetUICustomization's members: the CSS inline, the logo by its path relative to the file.
pub const UI_CUSTOMIZATION: &[Member] = &[opt("CSS", Shape::Str), opt("ImageFile", Shape::Str)];

/// CreateResourceServer's members.
pub const RESOURCE_SERVER: &[Member] = &[
    req("Identifier", Shape::Str),
    req("Name", Shape::Str),
    opt(
        "Scopes",
        Shape::List(&Shape::Obj(&[
            req("ScopeName", Shape::Str),
            req("ScopeDescription", Shape::Str),
        ])),
    ),
];

const UNITS: &[&str] = &["seconds", "minutes", "hours", "days"];

pub const GROUP: &[Member] = &[
    req("GroupName", Shape::Str),
    opt("Description", Shape::Str),
    opt("Precedence", Shape::Int),
    opt("RoleArn", Shape::Str),
];

pub const USER: &[Member] = &[
    req("Username", Shape::Str),
    // Set as the user's permanent password (AdminSetUserPassword --permanent).
    opt("Password", Shape::Str),
    opt("UserAttributes", Shape::Attributes),
    opt("Enabled", Shape::Bool),
    // Names of groups of the same pool, declared in the file.
    opt("Groups", STRS),
];

pub const POOL: &[Member] = &[
    req("PoolName", Shape::Str),
    opt("Id", Shape::Str),
    opt("Policies", Shape::Obj(POLICIES)),
    opt("DeletionProtection", Shape::Enum(&["ACTIVE", "INACTIVE"])),
    opt("LambdaConfig", Shape::Obj(LAMBDA_CONFIG)),
    opt(
        "AutoVerifiedAttributes",
        Shape::List(&Shape::Enum(VERIFIABLE)),
    ),
    opt(
        "AliasAttributes",
        Shape::List(&Shape::Enum(&[
            "email",
            "phone_number",
            "preferred_username",
        ])),
    ),
    opt("UsernameAttributes", Shape::List(&Shape::Enum(VERIFIABLE))),
    opt("SmsVerificationMessage", Shape::Str),
    opt("EmailVerificationMessage", Shape::Str),
    opt("EmailVerificationSubject", Shape::Str),
    opt(
        "VerificationMessageTemplate",
        Shape::Obj(&[
            opt("SmsMessage", Shape::Str),
            opt("EmailMessage", Shape::Str),
            opt("EmailSubject", Shape::Str),
            opt("EmailMessageByLink", Shape::Str),
            opt("EmailSubjectByLink", Shape::Str),
            opt(
                "DefaultEmailOption",
                Shape::Enum(&["CONFIRM_WITH_LINK", "CONFIRM_WITH_CODE"]),
            ),
        ]),
    ),
    opt("SmsAuthenticationMessage", Shape::Str),
    opt("MfaConfiguration", Shape::Enum(&["OFF", "ON", "OPTIONAL"])),
    opt(
        "UserAttributeUpdateSettings",
        Shape::Obj(&[opt(
            "AttributesRequireVerificationBeforeUpdate",
            Shape::List(&Shape::Enum(VERIFIABLE)),
        )]),
    ),
    opt(
        "DeviceConfiguration",
        Shape::Obj(&[
            opt("ChallengeRequiredOnNewDevice", Shape::Bool),
            opt("DeviceOnlyRememberedOnUserPrompt", Shape::Bool),
        ]),
    ),
    opt(
        "EmailConfiguration",
        Shape::Obj(&[
            opt("SourceArn", Shape::Str),
            opt("ReplyToEmailAddress", Shape::Str),
            opt(
                "EmailSendingAccount",
                Shape::Enum(&["COGNITO_DEFAULT", "DEVELOPER"]),
            ),
            opt("From", Shape::Str),
            opt("ConfigurationSet", Shape::Str),
        ]),
    ),
    opt(
        "SmsConfiguration",
        Shape::Obj(&[
            opt("SnsCallerArn", Shape::Str),
            opt("ExternalId", Shape::Str),
            opt("SnsRegion", Shape::Str),
        ]),
    ),
    opt("UserPoolTags", STR_MAP),
    opt(
        "AdminCreateUserConfig",
        Shape::Obj(&[
            opt("AllowAdminCreateUserOnly", Shape::Bool),
            opt("UnusedAccountValidityDays", Shape::Int),
            opt(
                "InviteMessageTemplate",
                Shape::Obj(&[
                    opt("SMSMessage", Shape::Str),
                    opt("EmailMessage", Shape::Str),
                    opt("EmailSubject", Shape::Str),
                ]),
            ),
        ]),
    ),
    opt("Schema", Shape::List(&Shape::Obj(SCHEMA_ATTRIBUTE))),
    opt(
        "UserPoolAddOns",
        Shape::Obj(&[
            opt(
                "AdvancedSecurityMode",
                Shape::Enum(&["OFF", "AUDIT", "ENFORCED"]),
            ),
            opt(
                "AdvancedSecurityAdditionalFlows",
                Shape::Obj(&[opt("CustomAuthMode", Shape::Enum(&["AUDIT", "ENFORCED"]))]),
            ),
        ]),
    ),
    opt(
        "UsernameConfiguration",
        Shape::Obj(&[opt("CaseSensitive", Shape::Bool)]),
    ),
    opt(
        "AccountRecoverySetting",
        Shape::Obj(&[opt(
            "RecoveryMechanisms",
            Shape::List(&Shape::Obj(&[
                req("Priority", Shape::Int),
                req(
                    "Name",
                    Shape::Enum(&["verified_email", "verified_phone_number", "admin_only"]),
                ),
            ])),
        )]),
    ),
    opt("UserPoolTier", Shape::Enum(&["LITE", "ESSENTIALS", "PLUS"])),
    // SetUserPoolMfaConfig's members: the MFA factors the pool offers.
    opt(
        "SoftwareTokenMfaConfiguration",
        Shape::Obj(&[opt("Enabled", Shape::Bool)]),
    ),
    opt(
        "SmsMfaConfiguration",
        Shape::Obj(&[
            opt("SmsAuthenticationMessage", Shape::Str),
            opt(
                "SmsConfiguration",
                Shape::Obj(&[
                    opt("SnsCallerArn", Shape::Str),
                    opt("ExternalId", Shape::Str),
                    opt("SnsRegion", Shape::Str),
                ]),
            ),
        ]),
    ),
    opt(
        "EmailMfaConfiguration",
        Shape::Obj(&[opt("Message", Shape::Str), opt("Subject", Shape::Str)]),
    ),
    // The pool's OAuth set-up: CreateUserPoolDomain's prefix domain, CreateResourceServer's
    // servers (created before the clients whose scopes name them), SetUICustomization's
    // look for every client.
    opt("Domain", Shape::Str),
    opt("ResourceServers", Shape::List(&Shape::Obj(RESOURCE_SERVER))),
    opt("UICustomization", Shape::Obj(UI_CUSTOMIZATION)),
    // The file's own: what lives in the pool.
    opt("clients", Shape::List(&Shape::Obj(CLIENT))),
    opt("groups", Shape::List(&Shape::Obj(GROUP))),
    opt("users", Shape::List(&Shape::Obj(USER))),
];

/// Members of a pool that are not CreateUserPool's: the file's own, and SetUserPoolMfaConfig's.
pub const POOL_FILE_MEMBERS: &[&str] = &[
    "Id",
    "Domain",
    "ResourceServers",
    "UICustomization",
    "clients",
    "groups",
    "users",
    "SoftwareTokenMfaConfiguration",
    "SmsMfaConfiguration",
    "EmailMfaConfiguration",
];

/// SetUserPoolMfaConfig's members of a pool.
pub const POOL_MFA_MEMBERS: &[&str] = &[
    "SoftwareTokenMfaConfiguration",
    "SmsMfaConfiguration",
    "EmailMfaConfiguration",
];

// --- APIs (apigatewayv2's members, camelCase) ---

const ROUTE_SETTINGS: &[Member] = &[
    opt("throttlingBurstLimit", Shape::Int),
    opt("throttlingRateLimit", Shape::Num),
    opt("detailedMetricsEnabled", Shape::Bool),
    opt("loggingLevel", Shape::Enum(&["ERROR", "INFO", "OFF"])),
    opt("dataTraceEnabled", Shape::Bool),
];

pub const INTEGRATION: &[Member] = &[
    // The file's own: what routes name it by.
    req("name", Shape::Str),
    req("integrationType", Shape::Enum(&["HTTP_PROXY", "AWS_PROXY"])),
    opt("integrationUri", Shape::Str),
    opt("integrationMethod", Shape::Str),
    opt("payloadFormatVersion", Shape::NumEnum(&["1.0", "2.0"])),
    opt("timeoutInMillis", Shape::Int),
    opt("connectionType", Shape::Enum(&["INTERNET", "VPC_LINK"])),
    opt("description", Shape::Str),
    opt("requestParameters", STR_MAP),
    opt("responseParameters", Shape::Map(&STR_MAP)),
    opt(
        "tlsConfig",
        Shape::Obj(&[opt("serverNameToVerify", Shape::Str)]),
    ),
];

pub const AUTHORIZER: &[Member] = &[
    req("name", Shape::Str),
    req("authorizerType", Shape::Enum(&["JWT"])),
    opt("identitySource", STRS),
    opt(
        "jwtConfiguration",
        Shape::Obj(&[opt("issuer", Shape::Str), opt("audience", STRS)]),
    ),
];

pub const ROUTE: &[Member] = &[
    req("routeKey", Shape::Str),
    // The file's own: the integration and authorizer by their names in this API.
    opt("integration", Shape::Str),
    opt("authorizer", Shape::Str),
    opt(
        "authorizationType",
        Shape::Enum(&["NONE", "JWT", "AWS_IAM"]),
    ),
    opt("authorizationScopes", STRS),
    opt("operationName", Shape::Str),
    opt("apiKeyRequired", Shape::Bool),
    opt("requestParameters", Shape::Map(&Shape::Any)),
];

pub const STAGE: &[Member] = &[
    req("stageName", Shape::Str),
    opt("description", Shape::Str),
    opt("autoDeploy", Shape::Bool),
    opt("defaultRouteSettings", Shape::Obj(ROUTE_SETTINGS)),
    opt("routeSettings", Shape::Map(&Shape::Obj(ROUTE_SETTINGS))),
    opt("stageVariables", STR_MAP),
    opt(
        "accessLogSettings",
        Shape::Obj(&[opt("destinationArn", Shape::Str), opt("format", Shape::Str)]),
    ),
    opt("tags", STR_MAP),
];

pub const API: &[Member] = &[
    req("name", Shape::Str),
    opt("apiId", Shape::Str),
    opt("description", Shape::Str),
    opt("version", Shape::Str),
    opt(
        "corsConfiguration",
        Shape::Obj(&[
            opt("allowOrigins", STRS),
            opt("allowMethods", STRS),
            opt("allowHeaders", STRS),
            opt("exposeHeaders", STRS),
            opt("allowCredentials", Shape::Bool),
            opt("maxAge", Shape::Int),
        ]),
    ),
    opt("disableExecuteApiEndpoint", Shape::Bool),
    opt("tags", STR_MAP),
    opt("integrations", Shape::List(&Shape::Obj(INTEGRATION))),
    opt("authorizers", Shape::List(&Shape::Obj(AUTHORIZER))),
    opt("routes", Shape::List(&Shape::Obj(ROUTE))),
    opt("openapi", Shape::OpenApi),
    opt("stages", Shape::List(&Shape::Obj(STAGE))),
];

pub const ADMIN_CREDENTIAL: &[Member] = &[
    req("AccessKeyId", Shape::Str),
    req("SecretAccessKey", Shape::Str),
];

/// CreateDomainName's members, and the domain's API mappings (naming APIs of the file).
pub const DOMAIN_NAME: &[Member] = &[
    req("domainName", Shape::Str),
    opt(
        "domainNameConfigurations",
        Shape::List(&Shape::Obj(&[
            opt("certificateArn", Shape::Str),
            opt("certificateName", Shape::Str),
            opt("endpointType", Shape::Enum(&["REGIONAL", "EDGE"])),
            opt("securityPolicy", Shape::Enum(&["TLS_1_2", "TLS_1_0"])),
            opt("ipAddressType", Shape::Enum(&["ipv4", "dualstack"])),
            opt("ownershipVerificationCertificateArn", Shape::Str),
        ])),
    ),
    opt(
        "mutualTlsAuthentication",
        Shape::Obj(&[
            opt("truststoreUri", Shape::Str),
            opt("truststoreVersion", Shape::Str),
        ]),
    ),
    opt("routingMode", Shape::Enum(&["API_MAPPING_ONLY"])),
    opt("tags", STR_MAP),
    opt("apiMappings", Shape::List(&Shape::Obj(API_MAPPING))),
];

/// CreateApiMapping's members, with `api` (the name of an API of the file) for `apiId`.
pub const API_MAPPING: &[Member] = &[
    req("api", Shape::Str),
    req("stage", Shape::Str),
    opt("apiMappingKey", Shape::Str),
];

pub const FILE: &[Member] = &[
    opt("version", Shape::NumEnum(&["1"])),
    opt(
        "adminCredentials",
        Shape::List(&Shape::Obj(ADMIN_CREDENTIAL)),
    ),
    opt("userPools", Shape::List(&Shape::Obj(POOL))),
    opt("apis", Shape::List(&Shape::Obj(API))),
    opt("domainNames", Shape::List(&Shape::Obj(DOMAIN_NAME))),
];

/// `a.b` / `a[0]` paths.
pub fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Checks `v` against `shape`, normalizing numbers written for text members, and collects
/// every problem.
pub fn check(v: &mut Value, shape: Shape, path: &str, out: &mut Vec<Problem>) {
    let mut wrong = |expected: &str, v: &Value| {
        out.push(Problem::new(
            path,
            format!("expected {expected}, found {}", kind(v)),
        ))
    };
    match shape {
        Shape::Any => {}
        Shape::Str => {
            if !v.is_string() {
                wrong("a string", v);
            }
        }
        Shape::Bool => {
            if !v.is_boolean() {
                wrong("true or false", v);
            }
        }
        Shape::Int => {
            if !(v.is_i64() || v.is_u64()) {
                wrong("a whole number", v);
            }
        }
        Shape::Num => {
            if !v.is_number() {
                wrong("a number", v);
            }
        }
        Shape::Text => match v {
            Value::String(_) => {}
            Value::Number(_) | Value::Bool(_) => *v = Value::String(v.to_string()),
            _ => wrong("a string", v),
        },
        Shape::NumStr => match v {
            Value::String(_) => {}
            Value::Number(n) => *v = Value::String(n.to_string()),
            _ => wrong("a number or a string", v),
        },
        Shape::Enum(allowed) | Shape::NumEnum(allowed) => {
            if let (Shape::NumEnum(_), Value::Number(n)) = (shape, &*v) {
                *v = Value::String(n.to_string());
            }
            match v.as_str() {
                Some(s) if allowed.contains(&s) => {}
                Some(s) => out.push(Problem::new(
                    path,
                    format!("'{s}' is not one of: {}", allowed.join(", ")),
                )),
                None => wrong(&format!("one of: {}", allowed.join(", ")), v),
            }
        }
        Shape::List(item) => match v.as_array_mut() {
            Some(items) => {
                for (i, x) in items.iter_mut().enumerate() {
                    check(x, *item, &index(path, i), out);
                }
            }
            None => wrong("a list", v),
        },
        Shape::Map(item) => match v.as_object_mut() {
            Some(m) => {
                for (k, x) in m.iter_mut() {
                    check(x, *item, &child(path, k), out);
                }
            }
            None => wrong("a mapping", v),
        },
        Shape::Obj(members) => match v.as_object_mut() {
            Some(m) => check_members(m, members, path, out),
            None => wrong("a mapping", v),
        },
        Shape::Attributes => match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    check(x, Shape::Text, &child(path, k), out);
                }
            }
            Value::Array(items) => {
                const PAIR: &[Member] = &[req("Name", Shape::Str), opt("Value", Shape::Text)];
                for (i, x) in items.iter_mut().enumerate() {
                    check(x, Shape::Obj(PAIR), &index(path, i), out);
                }
            }
            _ => wrong("a list of {Name, Value} or a mapping of names to values", v),
        },
        Shape::OpenApi => {
            if !(v.is_object() || v.is_string()) {
                wrong("an OpenAPI document (a mapping) or a path to one", v);
            }
        }
    }
}

fn check_members(
    m: &mut Map<String, Value>,
    members: &[Member],
    path: &str,
    out: &mut Vec<Problem>,
) {
    for (k, v) in m.iter_mut() {
        match members.iter().find(|x| x.name == k) {
            Some(member) => check(v, member.shape, &child(path, k), out),
            None => {
                let names = |n: &str| members.iter().any(|x| x.name == n);
                let hint = match closest(k, members.iter().map(|x| x.name)) {
                    // A route names its integration and authorizer, not their ids.
                    _ if k == "target" && names("integration") => {
                        "; a route names its integration with 'integration: <name>'".to_string()
                    }
                    _ if k == "authorizerId" && names("authorizer") => {
                        "; a route names its authorizer with 'authorizer: <name>'".to_string()
                    }
                    _ if k == "apiId" && names("api") => {
                        "; an API mapping names its API with 'api: <name>'".to_string()
                    }
                    Some(s) => format!("; did you mean '{s}'?"),
                    None => {
                        let known: Vec<&str> = members.iter().map(|x| x.name).collect();
                        format!(" (members here: {})", known.join(", "))
                    }
                };
                out.push(Problem::new(
                    &child(path, k),
                    format!("unknown member '{k}'{hint}"),
                ));
            }
        }
    }
    for member in members.iter().filter(|x| x.required) {
        if m.get(member.name).is_none_or(Value::is_null) {
            out.push(Problem::new(path, format!("'{}' is required", member.name)));
        }
    }
}

/// The known name nearest to a misspelt one, when it is near enough to be the intent.
fn closest<'a>(typo: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = typo.to_lowercase();
    known
        .map(|k| (edit_distance(&lower, &k.to_lowercase()), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let v = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            cur.push(v);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problems(mut v: Value) -> Vec<String> {
        let mut out = Vec::new();
        check(&mut v, Shape::Obj(FILE), "", &mut out);
        out.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn unknown_members_are_reported_with_a_suggestion() {
        let p = problems(json!({"userPools": [{"PoolName": "p", "clients": [
            {"ClientName": "c", "ExplicitAuthFlow": ["ALLOW_USER_SRP_AUTH"]}
        ]}]}));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("userPools[0].clients[0].ExplicitAuthFlow: unknown member 'ExplicitAuthFlow'; did you mean 'ExplicitAuthFlows'?"), "{p:?}");
    }

    #[test]
    fn enums_types_and_required_members() {
        let p = problems(json!({"userPools": [{"MfaConfiguration": "SOMETIMES",
            "clients": [{"ClientName": 3}]}]}));
        assert!(
            p.contains(&"userPools[0]: 'PoolName' is required".to_string()),
            "{p:?}"
        );
        assert!(
            p.iter().any(|m| m.starts_with(
                "userPools[0].MfaConfiguration: 'SOMETIMES' is not one of: OFF, ON, OPTIONAL"
            )),
            "{p:?}"
        );
        assert!(
            p.contains(
                &"userPools[0].clients[0].ClientName: expected a string, found a number"
                    .to_string()
            ),
            "{p:?}"
        );
    }

    #[test]
    fn numbers_written_for_text_members_become_text() {
        let mut v = json!({"apis": [{"name": "a", "integrations": [
            {"name": "i", "integrationType": "HTTP_PROXY", "payloadFormatVersion": 1.0}
        ]}]});
        let mut out = Vec::new();
        check(&mut v, Shape::Obj(FILE), "", &mut out);
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(
            v["apis"][0]["integrations"][0]["payloadFormatVersion"],
            "1.0"
        );
    }

    #[test]
    fn routes_name_what_they_use() {
        let p = problems(json!({"apis": [{"name": "a", "routes": [
            {"routeKey": "GET /", "target": "integrations/abc", "authorizerId": "x"}
        ]}]}));
        assert!(p.contains(&"apis[0].routes[0].target: unknown member 'target'; a route names its integration with 'integration: <name>'".to_string()), "{p:?}");
        assert!(p.contains(&"apis[0].routes[0].authorizerId: unknown member 'authorizerId'; a route names its authorizer with 'authorizer: <name>'".to_string()), "{p:?}");
    }

    #[test]
    fn near_misses_only() {
        assert_eq!(
            closest("PoolNme", ["PoolName", "Id"].into_iter()),
            Some("PoolName")
        );
        assert_eq!(closest("zzzzzz", ["PoolName", "Id"].into_iter()), None);
    }
}
