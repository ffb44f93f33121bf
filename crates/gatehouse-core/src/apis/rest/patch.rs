//! The patch operations of API Gateway v1 updates (`patchOperations`: JSON-Patch-like
//! `{op, path, value, from}` with string values). Each resource says which paths it takes and
//! how to read, set and remove them (`Patchable`); this engine runs the six operations on top:
//! `add`, `replace` and `remove` directly, `test`, `copy` and `move` through reads. A list is
//! applied in order to the resource in memory, so one refused operation leaves it unchanged
//! (the caller stores nothing).

use crate::apis::error::{ApiError, ApiResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Add,
    Remove,
    Replace,
    Move,
    Copy,
    Test,
}

impl PatchKind {
    pub fn parse(op: &str) -> ApiResult<Self> {
        Ok(match op {
            "add" => PatchKind::Add,
            "remove" => PatchKind::Remove,
            "replace" => PatchKind::Replace,
            "move" => PatchKind::Move,
            "copy" => PatchKind::Copy,
            "test" => PatchKind::Test,
            other => {
                return Err(ApiError::bad(format!(
                    "Invalid patch operation specified: {other}. Must be one of: [add, remove, replace, move, copy, test]"
                )))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PatchKind::Add => "add",
            PatchKind::Remove => "remove",
            PatchKind::Replace => "replace",
            PatchKind::Move => "move",
            PatchKind::Copy => "copy",
            PatchKind::Test => "test",
        }
    }
}

/// One operation as the client sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub op: PatchKind,
    pub path: String,
    pub value: Option<String>,
    pub from: Option<String>,
}

impl PatchOp {
    pub fn new(op: PatchKind, path: &str, value: Option<&str>) -> Self {
        PatchOp {
            op,
            path: path.to_string(),
            value: value.map(str::to_string),
            from: None,
        }
    }
}

/// A path split at `/` with JSON Pointer escapes undone (`~1` is `/`, `~0` is `~`), so
/// `/~1pets/GET/throttling/rateLimit` is `["/pets", "GET", "throttling", "rateLimit"]`.
pub fn segments(path: &str) -> ApiResult<Vec<String>> {
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| ApiError::bad(format!("Invalid patch path {path}")))?;
    Ok(rest
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect())
}

/// Escapes one path segment (the inverse of `segments`).
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// What a resource answers a patch with. `path` is already split (see `segments`); `raw` is
/// the path as sent, for messages.
pub trait Patchable {
    /// The paths the resource takes, as AWS lists them in its messages.
    fn patch_paths(&self) -> &'static str;
    /// The current value at a path, as a string (`None`: unset). For `test`, `copy`, `move`.
    fn read(&self, path: &[String], raw: &str) -> ApiResult<Option<String>>;
    /// `add`, `replace` (with a value) or `remove` (with the value sent, if any).
    fn write(
        &mut self,
        op: PatchKind,
        path: &[String],
        raw: &str,
        value: Option<&str>,
    ) -> ApiResult<()>;
}

/// The message AWS gives for a path the resource does not have.
pub fn invalid_path(op: PatchKind, raw: &str, valid: &str) -> ApiError {
    ApiError::bad(format!(
        "Invalid patch path  '{raw}' specified for op '{}'. Must be one of: [{valid}]",
        op.as_str()
    ))
}

/// The message AWS gives for an operation a valid path does not take.
pub fn unsupported_op(op: PatchKind, raw: &str) -> ApiError {
    ApiError::bad(format!(
        "Invalid patch path  '{raw}' specified for op '{}'. Please choose supported operations",
        op.as_str()
    ))
}

/// The value of an `add` / `replace`, required.
pub fn need_value<'a>(op: PatchKind, raw: &str, value: Option<&'a str>) -> ApiResult<&'a str> {
    value.ok_or_else(|| {
        ApiError::bad(format!(
            "Invalid null or empty value in patch operation '{}' on path '{raw}'",
            op.as_str()
        ))
    })
}

/// `true` / `false`, as AWS spells booleans in patch values.
pub fn parse_bool(raw: &str, value: &str) -> ApiResult<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::bad(format!(
            "Invalid boolean value '{value}' specified for path '{raw}'"
        ))),
    }
}

pub fn parse_int(raw: &str, value: &str) -> ApiResult<i64> {
    value.trim().parse::<i64>().map_err(|_| {
        ApiError::bad(format!(
            "Invalid integer value '{value}' specified for path '{raw}'"
        ))
    })
}

pub fn parse_double(raw: &str, value: &str) -> ApiResult<f64> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            ApiError::bad(format!(
                "Invalid number value '{value}' specified for path '{raw}'"
            ))
        })
}

/// Applies the operations in order; the first refusal stops and is returned (the caller then
/// discards the half-patched copy).
pub fn apply<P: Patchable>(target: &mut P, ops: &[PatchOp]) -> ApiResult<()> {
    for op in ops {
        let path = segments(&op.path)?;
        match op.op {
            // A `remove` may carry a value too: lists are removed from by value
            // (`op=remove,path=/providerARNs,value={arn}`).
            PatchKind::Add | PatchKind::Replace | PatchKind::Remove => {
                target.write(op.op, &path, &op.path, op.value.as_deref())?
            }
            PatchKind::Test => {
                let current = target.read(&path, &op.path)?;
                if current.as_deref() != op.value.as_deref() {
                    return Err(ApiError::bad(format!(
                        "Patch test failed: the value at '{}' is not '{}'",
                        op.path,
                        op.value.as_deref().unwrap_or("null")
                    )));
                }
            }
            PatchKind::Copy | PatchKind::Move => {
                let from_raw = op.from.as_deref().ok_or_else(|| {
                    ApiError::bad(format!(
                        "Invalid patch operation: '{}' needs a 'from' path",
                        op.op.as_str()
                    ))
                })?;
                let from = segments(from_raw)?;
                let value = target.read(&from, from_raw)?.ok_or_else(|| {
                    ApiError::bad(format!(
                        "Invalid patch path {from_raw}: there is no value to {}",
                        op.op.as_str()
                    ))
                })?;
                if op.op == PatchKind::Move {
                    target.write(PatchKind::Remove, &from, from_raw, None)?;
                }
                target.write(PatchKind::Add, &path, &op.path, Some(&value))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// A tiny resource: `/name` (replace only) and `/tags/{key}` (add, replace, remove).
    #[derive(Default, Debug, Clone, PartialEq)]
    struct Thing {
        name: String,
        tags: BTreeMap<String, String>,
    }

    impl Patchable for Thing {
        fn patch_paths(&self) -> &'static str {
            "/name, /tags/{key}"
        }
        fn read(&self, path: &[String], raw: &str) -> ApiResult<Option<String>> {
            match path {
                [n] if n == "name" => Ok(Some(self.name.clone())),
                [t, k] if t == "tags" => Ok(self.tags.get(k).cloned()),
                _ => Err(invalid_path(PatchKind::Test, raw, self.patch_paths())),
            }
        }
        fn write(
            &mut self,
            op: PatchKind,
            path: &[String],
            raw: &str,
            value: Option<&str>,
        ) -> ApiResult<()> {
            match (path, op) {
                ([n], PatchKind::Replace) if n == "name" => {
                    self.name = need_value(op, raw, value)?.to_string();
                }
                ([n], _) if n == "name" => return Err(unsupported_op(op, raw)),
                ([t, k], PatchKind::Remove) if t == "tags" => {
                    self.tags.remove(k);
                }
                ([t, k], _) if t == "tags" => {
                    self.tags
                        .insert(k.clone(), need_value(op, raw, value)?.to_string());
                }
                _ => return Err(invalid_path(op, raw, self.patch_paths())),
            }
            Ok(())
        }
    }

    fn op(kind: PatchKind, path: &str, value: Option<&str>) -> PatchOp {
        PatchOp::new(kind, path, value)
    }

    #[test]
    fn segments_undo_json_pointer_escapes() {
        assert_eq!(
            segments("/~1pets~1{id}/GET/throttling/rateLimit").unwrap(),
            vec!["/pets/{id}", "GET", "throttling", "rateLimit"]
        );
        assert_eq!(segments("/a~0b").unwrap(), vec!["a~b"]);
        assert!(segments("name").is_err());
        assert_eq!(escape("/pets/{id}"), "~1pets~1{id}");
        assert_eq!(
            segments(&format!("/{}", escape("a~/b"))).unwrap(),
            vec!["a~/b"]
        );
    }

    #[test]
    fn add_replace_remove() {
        let mut t = Thing::default();
        apply(
            &mut t,
            &[
                op(PatchKind::Replace, "/name", Some("n")),
                op(PatchKind::Add, "/tags/a", Some("1")),
                op(PatchKind::Add, "/tags/b~1c", Some("2")),
                op(PatchKind::Remove, "/tags/a", None),
            ],
        )
        .unwrap();
        assert_eq!(t.name, "n");
        assert_eq!(t.tags.len(), 1);
        assert_eq!(t.tags["b/c"], "2");
    }

    #[test]
    fn test_copy_and_move() {
        let mut t = Thing::default();
        t.tags.insert("a".into(), "1".into());
        apply(&mut t, &[op(PatchKind::Test, "/tags/a", Some("1"))]).unwrap();
        assert!(apply(&mut t, &[op(PatchKind::Test, "/tags/a", Some("2"))]).is_err());
        let mut copy = op(PatchKind::Copy, "/tags/b", None);
        copy.from = Some("/tags/a".into());
        apply(&mut t, &[copy]).unwrap();
        assert_eq!(t.tags["b"], "1");
        let mut mv = op(PatchKind::Move, "/name", None);
        mv.from = Some("/tags/a".into());
        // `/name` only takes replace: the move is refused...
        assert!(apply(&mut t.clone(), &[mv.clone()]).is_err());
        mv.path = "/tags/c".into();
        apply(&mut t, &[mv]).unwrap();
        assert_eq!(t.tags.get("a"), None);
        assert_eq!(t.tags["c"], "1");
        // Copy from nothing, or without `from`, is refused.
        let mut none = op(PatchKind::Copy, "/tags/d", None);
        assert!(apply(&mut t, &[none.clone()]).is_err());
        none.from = Some("/tags/zzz".into());
        assert!(apply(&mut t, &[none]).is_err());
    }

    #[test]
    fn refusals_carry_aws_messages() {
        let mut t = Thing::default();
        let e = apply(&mut t, &[op(PatchKind::Add, "/name", Some("x"))]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Invalid patch path  '/name' specified for op 'add'. Please choose supported operations"
        );
        let e = apply(&mut t, &[op(PatchKind::Replace, "/nope", Some("x"))]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Invalid patch path  '/nope' specified for op 'replace'. Must be one of: [/name, /tags/{key}]"
        );
        assert!(apply(&mut t, &[op(PatchKind::Replace, "/name", None)]).is_err());
        assert!(PatchKind::parse("frob").is_err());
        assert_eq!(PatchKind::parse("copy").unwrap(), PatchKind::Copy);
    }

    #[test]
    fn values() {
        assert!(parse_bool("/x", "TRUE").unwrap());
        assert!(parse_bool("/x", "yes").is_err());
        assert_eq!(parse_int("/x", " 42 ").unwrap(), 42);
        assert!(parse_int("/x", "4.2").is_err());
        assert_eq!(parse_double("/x", "2.5").unwrap(), 2.5);
        assert!(parse_double("/x", "NaN").is_err());
    }
}
