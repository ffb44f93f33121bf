//! What a request claims about its own signature: access key, scope, signed headers,
//! signature and time, read from the `Authorization` header or from presigned-URL query
//! parameters. Parsing only; nothing here is trusted until `verify` recomputes the signature.

use http::header::{AUTHORIZATION, DATE};
use http::{HeaderMap, HeaderName, HeaderValue};
use time::OffsetDateTime;

use crate::canonical::{ALGORITHM, SIGNATURE_PARAM};
use crate::error::{clip, SigV4Error};
use crate::signature::{Scope, TERMINATOR};
use crate::timestamp::{format_amz_date, parse_amz_date, parse_http_date};

const X_AMZ_DATE: &str = "x-amz-date";
/// The longest validity AWS accepts for a presigned URL: one week.
pub(crate) const MAX_PRESIGN_EXPIRES: u32 = 604_800;
const HOST_NOT_SIGNED: &str =
    "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.";

/// How the signature travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Header,
    /// Presigned URL; `expires` is `X-Amz-Expires` in seconds, if given.
    Query {
        expires: Option<u32>,
    },
}

#[derive(Debug)]
pub(crate) struct Claim {
    pub access_key_id: String,
    pub scope: Scope,
    /// Lowercase, sorted, unique; always contains `host`.
    pub signed_headers: Vec<String>,
    pub signature: String,
    pub time: OffsetDateTime,
    /// `time` in the basic ISO 8601 form that goes into the string to sign.
    pub amz_date: String,
    pub transport: Transport,
}

/// Which auth mechanism a request uses, if any.
pub(crate) fn is_presigned(query: &[(Vec<u8>, Vec<u8>)]) -> bool {
    query.iter().any(|(name, _)| {
        matches!(
            name.as_slice(),
            b"X-Amz-Signature" | b"X-Amz-Algorithm" | b"X-Amz-Credential"
        )
    })
}

fn parse_credential(credential: &str) -> Result<(String, Scope), SigV4Error> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts.as_slice() else {
        return Err(SigV4Error::malformed(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{}'",
            clip(credential)
        )));
    };
    let mut problems = Vec::new();
    if region.is_empty() {
        problems.push("Credential should be scoped to a valid region, not ''.".to_owned());
    }
    if service.is_empty() {
        problems.push("Credential should be scoped to a valid service, not ''.".to_owned());
    }
    if *terminator != TERMINATOR {
        problems.push(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
            clip(terminator)
        ));
    }
    if !problems.is_empty() {
        return Err(SigV4Error::malformed(problems.join(" ")));
    }
    Ok((
        (*access_key_id).to_owned(),
        Scope {
            date: (*date).to_owned(),
            region: (*region).to_owned(),
            service: (*service).to_owned(),
        },
    ))
}

fn parse_signed_headers(list: &str) -> Result<Vec<String>, SigV4Error> {
    let mut names = Vec::new();
    for raw in list.split(';') {
        let name = raw.trim().to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(SigV4Error::malformed(format!(
                "SignedHeaders contains an invalid header name: '{}'",
                clip(&name)
            )));
        }
        names.push(name);
    }
    names.sort();
    names.dedup();
    if !names.iter().any(|n| n == "host") {
        return Err(SigV4Error::malformed(HOST_NOT_SIGNED));
    }
    Ok(names)
}

fn bad_iso_date(value: &str) -> SigV4Error {
    SigV4Error::malformed(format!(
        "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
        clip(value)
    ))
}

/// The one value of a header that must not repeat; `Ok(None)` if absent.
fn single_header<'a>(
    headers: &'a HeaderMap,
    name: &str,
) -> Result<Option<&'a HeaderValue>, SigV4Error> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(SigV4Error::malformed(format!(
            "The request has more than one '{name}' header."
        )));
    }
    Ok(first)
}

fn header_text<'a>(value: &'a HeaderValue, name: &str) -> Result<&'a str, SigV4Error> {
    value
        .to_str()
        .map_err(|_| SigV4Error::malformed(format!("The '{name}' header is not valid ASCII.")))
}

/// The request time in header auth: `X-Amz-Date`, else `Date`. Returns the time and the
/// header it came from.
fn header_time(headers: &HeaderMap) -> Result<Option<(OffsetDateTime, &'static str)>, SigV4Error> {
    if let Some(value) = single_header(headers, X_AMZ_DATE)? {
        let text = header_text(value, "X-Amz-Date")?;
        let time = parse_amz_date(text.trim()).ok_or_else(|| bad_iso_date(text))?;
        return Ok(Some((time, X_AMZ_DATE)));
    }
    if let Some(value) = single_header(headers, DATE.as_str())? {
        let text = header_text(value, "Date")?;
        let time = parse_http_date(text).ok_or_else(|| {
            SigV4Error::malformed(format!(
                "Date header is not a valid HTTP date. Got '{}'.",
                clip(text)
            ))
        })?;
        return Ok(Some((time, "date")));
    }
    Ok(None)
}

/// Reads `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
pub(crate) fn from_authorization_header(headers: &HeaderMap) -> Result<Option<Claim>, SigV4Error> {
    let Some(value) = single_header(headers, AUTHORIZATION.as_str())? else {
        return Ok(None);
    };
    let text = header_text(value, "Authorization")?.trim();
    let (algorithm, rest) = text.split_once([' ', '\t']).unwrap_or((text, ""));

    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    if algorithm == ALGORITHM {
        for item in rest.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let Some((key, value)) = item.split_once('=') else {
                return Err(SigV4Error::malformed(
                    "Invalid key=value pair (missing equal-sign) in Authorization header.",
                ));
            };
            let slot = match key.trim() {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed_headers,
                "Signature" => &mut signature,
                _ => continue,
            };
            if slot.is_some() {
                return Err(SigV4Error::malformed(format!(
                    "Authorization header has more than one '{}' parameter.",
                    clip(key.trim())
                )));
            }
            *slot = Some(value.trim());
        }
    } else if algorithm.starts_with("AWS4-") {
        return Err(SigV4Error::malformed(format!(
            "Unsupported AWS 'algorithm': '{}'",
            clip(algorithm)
        )));
    }

    let time = header_time(headers)?;
    let mut problems = Vec::new();
    for (found, name) in [
        (credential.is_some(), "Credential"),
        (signature.is_some(), "Signature"),
        (signed_headers.is_some(), "SignedHeaders"),
    ] {
        if !found {
            problems.push(format!("Authorization header requires '{name}' parameter."));
        }
    }
    if time.is_none() {
        problems.push(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .to_owned(),
        );
    }
    let (Some(credential), Some(signed_headers), Some(signature), Some((time, date_header))) =
        (credential, signed_headers, signature, time)
    else {
        return Err(SigV4Error::malformed(problems.join(" ")));
    };

    let (access_key_id, scope) = parse_credential(credential)?;
    let signed_headers = parse_signed_headers(signed_headers)?;
    // The date is in the string to sign anyway; AWS SDKs always sign its header too.
    if !signed_headers.iter().any(|n| n == date_header) {
        return Err(SigV4Error::malformed(format!(
            "'{}' must be a 'SignedHeader' in the AWS Authorization.",
            if date_header == X_AMZ_DATE {
                "X-Amz-Date"
            } else {
                "Date"
            }
        )));
    }
    Ok(Some(Claim {
        access_key_id,
        scope,
        signed_headers,
        signature: signature.to_owned(),
        amz_date: format_amz_date(time),
        time,
        transport: Transport::Header,
    }))
}

/// Reads the `X-Amz-*` parameters of a presigned URL.
pub(crate) fn from_query(query: &[(Vec<u8>, Vec<u8>)]) -> Result<Claim, SigV4Error> {
    let param = |name: &str| -> Result<Option<&str>, SigV4Error> {
        let mut values = query
            .iter()
            .filter(|(n, _)| n.as_slice() == name.as_bytes())
            .map(|(_, v)| v);
        let first = values.next();
        if values.next().is_some() {
            return Err(SigV4Error::malformed(format!(
                "The query string has more than one '{name}' parameter."
            )));
        }
        first
            .map(|v| {
                std::str::from_utf8(v).map_err(|_| {
                    SigV4Error::malformed(format!("The '{name}' parameter is not valid UTF-8."))
                })
            })
            .transpose()
    };

    let algorithm = param("X-Amz-Algorithm")?;
    let credential = param("X-Amz-Credential")?;
    let date = param("X-Amz-Date")?;
    let signed_headers = param("X-Amz-SignedHeaders")?;
    let signature = param(SIGNATURE_PARAM)?;
    let expires = param("X-Amz-Expires")?;

    let (Some(algorithm), Some(credential), Some(date), Some(signed_headers), Some(signature)) =
        (algorithm, credential, date, signed_headers, signature)
    else {
        let problems: Vec<String> = [
            (algorithm.is_some(), "X-Amz-Algorithm"),
            (credential.is_some(), "X-Amz-Credential"),
            (signature.is_some(), SIGNATURE_PARAM),
            (signed_headers.is_some(), "X-Amz-SignedHeaders"),
            (date.is_some(), "X-Amz-Date"),
        ]
        .into_iter()
        .filter(|(found, _)| !found)
        .map(|(_, name)| {
            format!("AWS query-string parameters must include '{name}'. Re-examine the query-string parameters.")
        })
        .collect();
        return Err(SigV4Error::malformed(problems.join(" ")));
    };
    if algorithm != ALGORITHM {
        return Err(SigV4Error::malformed(format!(
            "Unsupported AWS 'algorithm': '{}'",
            clip(algorithm)
        )));
    }
    let expires = match expires {
        None => None,
        Some(text) => {
            if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(SigV4Error::malformed(
                    "X-Amz-Expires should be a number of seconds.",
                ));
            }
            match text.parse::<u32>() {
                Ok(secs) if secs <= MAX_PRESIGN_EXPIRES => Some(secs),
                _ => {
                    return Err(SigV4Error::malformed(format!(
                        "X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGN_EXPIRES}"
                    )))
                }
            }
        }
    };
    let time = parse_amz_date(date).ok_or_else(|| bad_iso_date(date))?;
    let (access_key_id, scope) = parse_credential(credential)?;
    let signed_headers = parse_signed_headers(signed_headers)?;
    Ok(Claim {
        access_key_id,
        scope,
        signed_headers,
        signature: signature.to_owned(),
        amz_date: format_amz_date(time),
        time,
        transport: Transport::Query { expires },
    })
}
