//! AWS's input constraints (lengths, patterns, ranges), with AWS's message shape:
//! `1 validation error detected: Value 'x' at 'field' failed to satisfy constraint: ...`.

use std::sync::OnceLock;

use regex::Regex;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::WireError;

fn invalid(msg: String) -> WireError {
    WireError::Domain(gatehouse_core::Error::InvalidParameter(msg))
}

fn shown(v: &str) -> String {
    let mut s: String = v.chars().take(64).collect();
    if v.chars().count() > 64 {
        s.push_str("...");
    }
    s
}

/// Deserializes an operation's input; a wrong type is a SerializationException naming the
/// member that has it.
pub fn parse<T: DeserializeOwned>(input: Value) -> Result<T, WireError> {
    serde_json::from_value::<T>(input.clone()).map_err(|e| {
        WireError::Serialization(match culprit::<T>(&input) {
            Some(member) => format!("Unexpected value type at '{}': {e}", shown(&member)),
            None => e.to_string(),
        })
    })
}

/// The top-level member whose value alone fails to deserialize. Every input member is
/// optional, so an object holding just that one member fails only if its value is wrong.
/// Runs only on the error path.
fn culprit<T: DeserializeOwned>(input: &Value) -> Option<String> {
    input.as_object()?.iter().find_map(|(k, v)| {
        let mut one = serde_json::Map::new();
        one.insert(k.clone(), v.clone());
        serde_json::from_value::<T>(Value::Object(one))
            .is_err()
            .then(|| k.clone())
    })
}

pub fn required<'a, T>(v: &'a Option<T>, field: &str) -> Result<&'a T, WireError> {
    v.as_ref().ok_or_else(|| {
        invalid(format!(
            "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

pub fn length(field: &str, v: &str, min: usize, max: usize) -> Result<(), WireError> {
    let n = v.chars().count();
    if n < min {
        return Err(invalid(format!(
            "1 validation error detected: Value '{}' at '{field}' failed to satisfy constraint: Member must have length greater than or equal to {min}",
            shown(v)
        )));
    }
    if n > max {
        return Err(invalid(format!(
            "1 validation error detected: Value '{}' at '{field}' failed to satisfy constraint: Member must have length less than or equal to {max}",
            shown(v)
        )));
    }
    Ok(())
}

pub fn range(field: &str, v: i64, min: i64, max: i64) -> Result<(), WireError> {
    if v < min {
        return Err(invalid(format!(
            "1 validation error detected: Value '{v}' at '{field}' failed to satisfy constraint: Member must have value greater than or equal to {min}"
        )));
    }
    if v > max {
        return Err(invalid(format!(
            "1 validation error detected: Value '{v}' at '{field}' failed to satisfy constraint: Member must have value less than or equal to {max}"
        )));
    }
    Ok(())
}

fn pattern(field: &str, v: &str, re: &Regex, shown_pattern: &str) -> Result<(), WireError> {
    if re.is_match(v) {
        Ok(())
    } else {
        Err(invalid(format!(
            "1 validation error detected: Value '{}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: {shown_pattern}",
            shown(v)
        )))
    }
}

macro_rules! regex {
    ($re:literal) => {{
        static RE: OnceLock<Option<Regex>> = OnceLock::new();
        RE.get_or_init(|| Regex::new($re).ok())
    }};
}

fn matches(field: &str, v: &str, re: &Option<Regex>, shown_pattern: &str) -> Result<(), WireError> {
    match re {
        Some(re) => pattern(field, v, re, shown_pattern),
        None => Err(WireError::Domain(gatehouse_core::Error::Internal(format!(
            "bad pattern for {field}"
        )))),
    }
}

pub fn pool_id(v: &Option<String>) -> Result<&str, WireError> {
    let v = required(v, "userPoolId")?;
    length("userPoolId", v, 1, 55)?;
    matches(
        "userPoolId",
        v,
        regex!(r"^[\w-]+_[0-9a-zA-Z]+$"),
        r"[\w-]+_[0-9a-zA-Z]+",
    )?;
    Ok(v)
}

pub fn client_id(v: &Option<String>) -> Result<&str, WireError> {
    let v = required(v, "clientId")?;
    length("clientId", v, 1, 128)?;
    matches("clientId", v, regex!(r"^[\w+]+$"), r"[\w+]+")?;
    Ok(v)
}

/// Usernames, group names: letters, marks, symbols, numbers, punctuation.
pub fn name(field: &str, v: &Option<String>) -> Result<String, WireError> {
    let v = required(v, field)?;
    length(field, v, 1, 128)?;
    matches(
        field,
        v,
        regex!(r"^[\p{L}\p{M}\p{S}\p{N}\p{P}]+$"),
        r"[\p{L}\p{M}\p{S}\p{N}\p{P}]+",
    )?;
    Ok(v.clone())
}

/// Pool and client names.
pub fn display_name(field: &str, v: &Option<String>) -> Result<String, WireError> {
    let v = required(v, field)?;
    length(field, v, 1, 128)?;
    matches(field, v, regex!(r"^[\w\s+=,.@-]+$"), r"[\w\s+=,.@-]+")?;
    Ok(v.clone())
}

/// An IAM ARN, as AWS's `ArnType` pattern has it.
pub fn arn(field: &str, v: &str) -> Result<(), WireError> {
    length(field, v, 20, 2048)?;
    matches(
        field,
        v,
        regex!(
            r"^arn:[\w+=/,.@-]+:[\w+=/,.@-]+:([\w+=/,.@-]*)?:[0-9]+:[\w+=/,.@-]+(:[\w+=/,.@-]+)?(:[\w+=/,.@-]+)?$"
        ),
        r"arn:[\w+=/,.@-]+:[\w+=/,.@-]+:([\w+=/,.@-]*)?:[0-9]+:[\w+=/,.@-]+(:[\w+=/,.@-]+)?(:[\w+=/,.@-]+)?",
    )
}

pub fn password(field: &str, v: &Option<String>) -> Result<String, WireError> {
    let v = required(v, field)?;
    length(field, v, 1, 256)?;
    Ok(v.clone())
}

pub fn code(field: &str, v: &Option<String>) -> Result<String, WireError> {
    let v = required(v, field)?;
    length(field, v, 1, 2048)?;
    matches(field, v, regex!(r"^[\S]+$"), r"[\S]+")?;
    Ok(v.clone())
}

pub fn token(field: &str, v: &Option<String>) -> Result<String, WireError> {
    let v = required(v, field)?;
    length(field, v, 1, 16384)?;
    Ok(v.clone())
}

pub fn optional_secret_hash(v: &Option<String>) -> Result<Option<&str>, WireError> {
    if let Some(s) = v {
        length("secretHash", s, 1, 128)?;
    }
    Ok(v.as_deref())
}

pub fn limit(
    field: &str,
    v: Option<i64>,
    min: i64,
    max: i64,
    default: i64,
) -> Result<usize, WireError> {
    let v = v.unwrap_or(default);
    range(field, v, min, max)?;
    Ok(usize::try_from(v).unwrap_or(0))
}

pub fn pagination_token(field: &str, v: &Option<String>) -> Result<Option<String>, WireError> {
    match v {
        None => Ok(None),
        Some(t) => {
            length(field, t, 1, 2048)?;
            crate::render::decode_token(t)
                .map(Some)
                .ok_or_else(|| invalid(format!("Invalid {field}.")))
        }
    }
}
