//! Access logs in the stage's format (`accessLogSettings.format`, AWS's `$context` variables,
//! JSON or CLF alike: the format is a template), one line per request, to the destination:
//! a file path (or `file://` URL) appended to, or anything else (a CloudWatch log group ARN,
//! `stdout`) through the process log under the target `gatehouse::access`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Debug)]
pub enum Destination {
    Log,
    File(Mutex<File>),
}

#[derive(Debug)]
pub struct AccessLog {
    pub format: String,
    pub destination: Destination,
}

impl AccessLog {
    /// The stage's access log, when it has one (a file that cannot be opened falls back to
    /// the process log, with a warning).
    pub fn from_settings(destination: Option<&str>, format: Option<&str>) -> Option<Arc<Self>> {
        let destination = destination.filter(|d| !d.is_empty())?;
        let format = format
            .filter(|f| !f.is_empty())
            .unwrap_or("$context.requestId $context.identity.sourceIp $context.httpMethod $context.routeKey $context.status")
            .to_string();
        let path = destination
            .strip_prefix("file://")
            .or_else(|| destination.starts_with('/').then_some(destination));
        let destination = match path {
            Some(p) => match OpenOptions::new().create(true).append(true).open(p) {
                Ok(f) => Destination::File(Mutex::new(f)),
                Err(e) => {
                    tracing::warn!(path = p, error = %e, "access log file cannot be opened; logging to the process log");
                    Destination::Log
                }
            },
            None => Destination::Log,
        };
        Some(Arc::new(Self {
            format,
            destination,
        }))
    }

    /// Renders the format with `lookup` answering `context.*` variables.
    pub fn render(&self, lookup: &dyn Fn(&str) -> Option<String>) -> String {
        let mut out = String::with_capacity(self.format.len() + 64);
        let mut rest = self.format.as_str();
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let (name, tail) = if let Some(inner) = after.strip_prefix('{') {
                match inner.find('}') {
                    Some(end) => (&inner[..end], &inner[end + 1..]),
                    None => ("", after),
                }
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':')))
                    .unwrap_or(after.len());
                // A trailing dot ends a sentence, not a name.
                let name = after[..end].trim_end_matches('.');
                (name, &after[name.len()..])
            };
            if name.starts_with("context.") {
                out.push_str(&lookup(name).unwrap_or_else(|| "-".to_string()));
            } else {
                out.push('$');
                out.push_str(name);
            }
            rest = tail;
        }
        out.push_str(rest);
        out
    }

    pub fn write(&self, line: &str) {
        match &self.destination {
            Destination::Log => tracing::info!(target: "gatehouse::access", "{line}"),
            Destination::File(f) => {
                if let Ok(mut f) = f.lock() {
                    let _ = writeln!(f, "{line}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_json_and_clf() {
        let log = AccessLog::from_settings(
            Some("arn:aws:logs:us-east-1:1:log-group:x"),
            Some(r#"{"requestId":"$context.requestId","status":"$context.status","sub":"${context.authorizer.claims.sub}","x":"$context.nope"}"#),
        )
        .unwrap();
        let lookup = |n: &str| match n {
            "context.requestId" => Some("r1".to_string()),
            "context.status" => Some("200".to_string()),
            "context.authorizer.claims.sub" => Some("u".to_string()),
            _ => None,
        };
        assert_eq!(
            log.render(&lookup),
            r#"{"requestId":"r1","status":"200","sub":"u","x":"-"}"#
        );
        let clf = AccessLog::from_settings(
            Some("stdout"),
            Some("$context.requestId [$context.status]."),
        )
        .unwrap();
        assert_eq!(clf.render(&lookup), "r1 [200].");
    }
}
