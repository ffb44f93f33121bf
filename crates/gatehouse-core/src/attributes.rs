//! User attributes: the standard OIDC schema every pool has, custom attributes, validation of
//! writes against the schema, and Cognito's ListUsers filter syntax.

use std::collections::BTreeMap;

use gatehouse_store::{SchemaAttribute, UserFilter, UserPool};

use crate::error::{Error, Result};

const STANDARD: &[(&str, &str)] = &[
    ("sub", "String"),
    ("name", "String"),
    ("given_name", "String"),
    ("family_name", "String"),
    ("middle_name", "String"),
    ("nickname", "String"),
    ("preferred_username", "String"),
    ("profile", "String"),
    ("picture", "String"),
    ("website", "String"),
    ("email", "String"),
    ("email_verified", "Boolean"),
    ("gender", "String"),
    ("birthdate", "String"),
    ("zoneinfo", "String"),
    ("locale", "String"),
    ("phone_number", "String"),
    ("phone_number_verified", "Boolean"),
    ("address", "String"),
    ("updated_at", "Number"),
];

/// The schema of a new pool before its own attributes are merged in.
pub fn standard_schema() -> Vec<SchemaAttribute> {
    STANDARD
        .iter()
        .map(|(name, ty)| {
            let string = *ty == "String";
            SchemaAttribute {
                name: (*name).to_string(),
                data_type: (*ty).to_string(),
                developer_only: false,
                mutable: *name != "sub",
                required: *name == "sub",
                custom: false,
                min_length: string.then_some(if *name == "sub" { 1 } else { 0 }),
                max_length: string.then_some(2048),
                min_value: (*ty == "Number").then_some(0),
                max_value: None,
            }
        })
        .collect()
}

pub fn is_standard(name: &str) -> bool {
    STANDARD.iter().any(|(n, _)| *n == name)
}

/// The schema entry for a full attribute name (`email`, `custom:tier`, `dev:custom:x`).
pub fn find<'a>(pool: &'a UserPool, name: &str) -> Option<&'a SchemaAttribute> {
    let (custom, bare) = match name.strip_prefix("custom:") {
        Some(b) => (true, b),
        None => match name.strip_prefix("dev:custom:") {
            Some(b) => (true, b),
            None => (false, name),
        },
    };
    pool.schema
        .iter()
        .find(|a| a.custom == custom && a.name == bare)
}

/// The full name of a schema attribute as users see it.
pub fn full_name(a: &SchemaAttribute) -> String {
    if a.custom {
        if a.developer_only {
            format!("dev:custom:{}", a.name)
        } else {
            format!("custom:{}", a.name)
        }
    } else {
        a.name.clone()
    }
}

fn schema_error(name: &str, why: &str) -> Error {
    Error::invalid(format!(
        "Attributes did not conform to the schema: {name}: {why}"
    ))
}

/// Who is writing: admins may set developer-only and `*_verified` attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    Admin,
    User,
}

/// Validates attribute writes. `existing` is `None` when the user is being created (immutable
/// attributes may be set then, and only then).
pub fn validate_writes(
    pool: &UserPool,
    writes: &[(String, String)],
    existing: Option<&BTreeMap<String, String>>,
    writer: Writer,
) -> Result<()> {
    for (name, value) in writes {
        let attr = find(pool, name)
            .ok_or_else(|| schema_error(name, "Attribute does not exist in the schema."))?;
        if attr.name == "sub" && !attr.custom {
            return Err(schema_error(name, "Attribute cannot be updated."));
        }
        if attr.developer_only && writer == Writer::User {
            return Err(Error::not_authorized(
                "A client attempted to write unauthorized attribute",
            ));
        }
        if let Some(current) = existing {
            if !attr.mutable && current.contains_key(name) {
                return Err(schema_error(
                    name,
                    "Attribute cannot be updated. (changing an immutable attribute)",
                ));
            }
        }
        check_value(attr, name, value)?;
    }
    Ok(())
}

fn check_value(attr: &SchemaAttribute, name: &str, value: &str) -> Result<()> {
    let len = value.chars().count() as u64;
    match attr.data_type.as_str() {
        "String" => {
            if let Some(max) = attr.max_length {
                if len > max {
                    return Err(schema_error(
                        name,
                        &format!("String must be no longer than {max} characters"),
                    ));
                }
            }
            if let Some(min) = attr.min_length {
                if len < min {
                    return Err(schema_error(
                        name,
                        &format!("String must be no shorter than {min} characters"),
                    ));
                }
            }
        }
        "Number" => {
            let n: i64 = value
                .parse()
                .map_err(|_| schema_error(name, "Number must be a valid integer"))?;
            if attr.min_value.is_some_and(|m| n < m) || attr.max_value.is_some_and(|m| n > m) {
                return Err(schema_error(name, "Number is out of the allowed range"));
            }
        }
        "Boolean" if value != "true" && value != "false" => {
            return Err(schema_error(name, "Boolean must be true or false"));
        }
        "DateTime" if value.is_empty() => {
            return Err(schema_error(name, "DateTime must not be empty"));
        }
        _ => {}
    }
    if !attr.custom {
        match attr.name.as_str() {
            "email" if !valid_email(value) => {
                return Err(Error::invalid("Invalid email address format."))
            }
            "phone_number" if !valid_phone(value) => {
                return Err(Error::invalid("Invalid phone number format."))
            }
            _ => {}
        }
    }
    Ok(())
}

pub fn valid_email(v: &str) -> bool {
    let Some((local, domain)) = v.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !v.chars().any(|c| c.is_whitespace() || c.is_control())
        && v.len() <= 254
}

/// E.164: a plus and up to 15 digits.
pub fn valid_phone(v: &str) -> bool {
    v.strip_prefix('+')
        .is_some_and(|d| (4..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Required attributes that a new user lacks, in schema order.
pub fn missing_required(pool: &UserPool, attrs: &BTreeMap<String, String>) -> Option<String> {
    pool.schema
        .iter()
        .filter(|a| a.required && (a.custom || a.name != "sub"))
        .map(full_name)
        .find(|n| !attrs.contains_key(n))
}

/// Whether `name` is readable through `read_attributes` (None = every attribute).
pub fn readable(read_attributes: Option<&[String]>, name: &str) -> bool {
    name == "sub" || read_attributes.is_none_or(|r| r.iter().any(|a| a == name))
}

/// Whether `name` is writable through `write_attributes` (None = every mutable attribute).
pub fn writable(write_attributes: Option<&[String]>, name: &str) -> bool {
    write_attributes.is_none_or(|w| w.iter().any(|a| a == name))
}

const FILTERABLE: &[&str] = &[
    "username",
    "email",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "cognito:user_status",
    "status",
    "sub",
];

/// Parses Cognito's ListUsers filter: `attribute = "value"` or `attribute ^= "value"`.
pub fn parse_filter(filter: &str) -> Result<Option<UserFilter>> {
    let f = filter.trim();
    if f.is_empty() {
        return Ok(None);
    }
    let bad = || Error::invalid(format!("Error while parsing filter: {filter}"));
    let (attribute, op_and_value) =
        match f.find(|c: char| c == '=' || c == '^' || c.is_whitespace()) {
            Some(i) => (f[..i].trim(), f[i..].trim_start()),
            None => return Err(bad()),
        };
    let (prefix, rest) = if let Some(r) = op_and_value.strip_prefix("^=") {
        (true, r)
    } else if let Some(r) = op_and_value.strip_prefix('=') {
        (false, r)
    } else {
        return Err(bad());
    };
    let rest = rest.trim();
    let value = rest
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))
        .ok_or_else(bad)?;
    let value = value.replace("\\\"", "\"");
    let attribute = attribute.trim_matches('"');
    if !FILTERABLE.contains(&attribute) {
        return Err(Error::invalid(format!(
            "Invalid search attribute: {attribute}"
        )));
    }
    Ok(Some(if prefix {
        UserFilter::StartsWith {
            attribute: attribute.to_string(),
            prefix: value,
        }
    } else {
        UserFilter::Equals {
            attribute: attribute.to_string(),
            value,
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        assert_eq!(
            parse_filter("email = \"a@b.c\"").unwrap(),
            Some(UserFilter::Equals {
                attribute: "email".into(),
                value: "a@b.c".into()
            })
        );
        assert_eq!(
            parse_filter("given_name ^= \"Jo\"").unwrap(),
            Some(UserFilter::StartsWith {
                attribute: "given_name".into(),
                prefix: "Jo".into()
            })
        );
        assert_eq!(
            parse_filter("cognito:user_status=\"CONFIRMED\"").unwrap(),
            Some(UserFilter::Equals {
                attribute: "cognito:user_status".into(),
                value: "CONFIRMED".into()
            })
        );
        assert_eq!(parse_filter("").unwrap(), None);
        for bad in [
            "email",
            "email = a",
            "email ~ \"x\"",
            "custom:x = \"1\"",
            "= \"x\"",
            "email = \"x",
        ] {
            assert!(parse_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones_and_emails() {
        assert!(valid_phone("+14155550100"));
        assert!(!valid_phone("14155550100"));
        assert!(!valid_phone("+1415555x100"));
        assert!(valid_email("a.b@example.com"));
        assert!(!valid_email("a@b"));
        assert!(!valid_email("a b@example.com"));
    }
}
