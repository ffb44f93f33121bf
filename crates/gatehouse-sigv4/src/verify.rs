//! Server-side verification: recompute the signature a request claims and compare it in
//! constant time. Order of checks: auth present → parsed → scope date → time window →
//! key known → payload hash → signature.

use http::header::AUTHORIZATION;
use subtle::{Choice, ConstantTimeEq};
use time::{Duration, OffsetDateTime};

use crate::canonical::{
    canonical_headers, canonical_query, canonical_request_prefix, query_pairs, UNSIGNED_PAYLOAD,
};
use crate::claim::{self, Claim, Transport};
use crate::error::{clip, SigV4Error};
use crate::keys::KeyLookup;
use crate::signature::{sha256_hex, signature, signing_key, string_to_sign};
use crate::timestamp::format_amz_date;

const X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";

/// Who signed a request that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    pub access_key_id: String,
    /// The region of the credential scope, e.g. `us-east-1`; the caller decides if it is acceptable.
    pub region: String,
    /// The service of the credential scope, e.g. `cognito-idp` or `apigateway`.
    pub service: String,
}

/// Knobs for [`verify_with`]; [`verify`] uses the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyOptions {
    /// How far the request time may be from `now`, either way. AWS uses 15 minutes.
    pub max_skew: Duration,
    /// Accept `x-amz-content-sha256: UNSIGNED-PAYLOAD` (body not covered by the signature),
    /// and the same for presigned URLs. AWS accepts it; botocore only sends it over HTTPS.
    pub allow_unsigned_payload: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            max_skew: Duration::minutes(15),
            allow_unsigned_payload: true,
        }
    }
}

/// Verifies the SigV4 signature of a request (Authorization header or presigned URL)
/// with the default [`VerifyOptions`].
///
/// `parts.uri` must carry the path and query exactly as received (still percent-encoded);
/// `body` is the complete request body; `now` is the server's current time. Whether the
/// scope's region and service are acceptable is the caller's call ([`VerifiedIdentity`]).
///
/// ```
/// use gatehouse_sigv4::{verify, Credentials, SigV4Error};
///
/// let request = http::Request::post("/")
///     .header("host", "localhost:9229")
///     .header("x-amz-target", "AWSCognitoIdentityProviderService.ListUserPools")
///     .body(())
///     .unwrap();
/// let (parts, ()) = request.into_parts();
/// let keys = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
/// let err = verify(&parts, b"{}", time::OffsetDateTime::UNIX_EPOCH, &keys).unwrap_err();
/// assert_eq!(err, SigV4Error::Missing);
/// assert_eq!(err.aws_error_type(), "MissingAuthenticationTokenException");
/// ```
pub fn verify(
    parts: &http::request::Parts,
    body: &[u8],
    now: OffsetDateTime,
    keys: &dyn KeyLookup,
) -> Result<VerifiedIdentity, SigV4Error> {
    verify_with(parts, body, now, keys, &VerifyOptions::default())
}

/// As [`verify`], with explicit options.
pub fn verify_with(
    parts: &http::request::Parts,
    body: &[u8],
    now: OffsetDateTime,
    keys: &dyn KeyLookup,
    options: &VerifyOptions,
) -> Result<VerifiedIdentity, SigV4Error> {
    let query = query_pairs(parts.uri.query().unwrap_or(""));
    let presigned = claim::is_presigned(&query);
    let claim = match (parts.headers.contains_key(AUTHORIZATION), presigned) {
        (false, false) => return Err(SigV4Error::Missing),
        (true, true) => {
            return Err(SigV4Error::malformed(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
                 Signature query string parameter or the Authorization header should be specified",
            ))
        }
        (true, false) => {
            claim::from_authorization_header(&parts.headers)?.ok_or(SigV4Error::Missing)?
        }
        (false, true) => claim::from_query(&query)?,
    };

    if claim.amz_date.get(..8) != Some(claim.scope.date.as_str()) {
        return Err(SigV4Error::malformed(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
            clip(&claim.scope.date),
            claim.amz_date.get(..8).unwrap_or_default(),
            claim.amz_date
        )));
    }
    check_time(&claim, now, options.max_skew)?;

    let secret = keys
        .secret_for(&claim.access_key_id)
        .ok_or(SigV4Error::UnknownAccessKey)?;

    let payload_hashes = payload_hashes(parts, body, &claim, options)?;

    let headers = canonical_headers(
        &parts.headers,
        parts.uri.authority().map(|a| a.as_str()),
        &claim.signed_headers,
    )
    .map_err(|_| SigV4Error::SignatureMismatch)?;
    let presigned = matches!(claim.transport, Transport::Query { .. });
    let prefix = canonical_request_prefix(
        parts.method.as_str(),
        parts.uri.path(),
        &canonical_query(&query, presigned),
        &headers,
        &claim.signed_headers,
    );
    let key = signing_key(&secret, &claim.scope).ok_or(SigV4Error::SignatureMismatch)?;

    let mut provided = [0u8; 32];
    let provided_ok = Choice::from(u8::from(
        hex::decode_to_slice(claim.signature.as_bytes(), &mut provided).is_ok(),
    ));
    let mut matched = Choice::from(0);
    for payload_hash in &payload_hashes {
        let mut canonical_request = prefix.clone();
        canonical_request.extend_from_slice(payload_hash.as_bytes());
        let sts = string_to_sign(&claim.amz_date, &claim.scope, &canonical_request);
        let expected = signature(&key, &sts).ok_or(SigV4Error::SignatureMismatch)?;
        matched |= expected.ct_eq(&provided);
    }
    if !bool::from(matched & provided_ok) {
        return Err(SigV4Error::SignatureMismatch);
    }

    Ok(VerifiedIdentity {
        access_key_id: claim.access_key_id,
        region: claim.scope.region,
        service: claim.scope.service,
    })
}

fn skew_text(d: Duration) -> String {
    let secs = d.whole_seconds();
    if secs % 60 == 0 {
        format!("{} min.", secs / 60)
    } else {
        format!("{secs} sec.")
    }
}

fn check_time(claim: &Claim, now: OffsetDateTime, skew: Duration) -> Result<(), SigV4Error> {
    let now_text = format_amz_date(now);
    let latest = now.checked_add(skew);
    if latest.is_some_and(|latest| claim.time > latest) {
        return Err(SigV4Error::Expired(format!(
            "Signature not yet current: {} is still later than {} ({} + {})",
            claim.amz_date,
            latest.map(format_amz_date).unwrap_or_default(),
            now_text,
            skew_text(skew)
        )));
    }
    let (window, window_text) = match claim.transport {
        Transport::Query {
            expires: Some(secs),
        } => {
            let d = Duration::seconds(i64::from(secs));
            (d, format!("{secs} sec."))
        }
        _ => (skew, skew_text(skew)),
    };
    let earliest = now.checked_sub(window);
    if earliest.is_some_and(|earliest| claim.time < earliest) {
        return Err(SigV4Error::Expired(format!(
            "Signature expired: {} is now earlier than {} ({} - {})",
            claim.amz_date,
            earliest.map(format_amz_date).unwrap_or_default(),
            now_text,
            window_text
        )));
    }
    Ok(())
}

/// The payload hash(es) the signer may have used. Usually one; a presigned URL without
/// `x-amz-content-sha256` may have been signed over `UNSIGNED-PAYLOAD` (S3 style, most
/// SDKs) or the body's hash (botocore's generic presigner), and either is accepted.
fn payload_hashes(
    parts: &http::request::Parts,
    body: &[u8],
    claim: &Claim,
    options: &VerifyOptions,
) -> Result<Vec<String>, SigV4Error> {
    let body_hash = sha256_hex(body);
    let mut declared = parts.headers.get_all(X_AMZ_CONTENT_SHA256).iter();
    let first = declared.next();
    if declared.next().is_some() {
        return Err(SigV4Error::malformed(
            "The request has more than one 'x-amz-content-sha256' header.",
        ));
    }
    let unsigned_refused =
        || SigV4Error::malformed("UNSIGNED-PAYLOAD is not accepted here; sign the request body.");
    match first.map(|v| v.as_bytes()) {
        Some(b"UNSIGNED-PAYLOAD") => {
            if options.allow_unsigned_payload {
                Ok(vec![UNSIGNED_PAYLOAD.to_owned()])
            } else {
                Err(unsigned_refused())
            }
        }
        Some(value) if value.len() == 64 && value.iter().all(u8::is_ascii_hexdigit) => {
            if value.eq_ignore_ascii_case(body_hash.as_bytes()) {
                Ok(vec![String::from_utf8_lossy(value).into_owned()])
            } else {
                // The body is not the one that was signed.
                Err(SigV4Error::SignatureMismatch)
            }
        }
        Some(_) => Err(SigV4Error::malformed(
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or the hex SHA-256 of the request body.",
        )),
        None => match claim.transport {
            Transport::Query { .. } if options.allow_unsigned_payload => {
                Ok(vec![body_hash, UNSIGNED_PAYLOAD.to_owned()])
            }
            _ => Ok(vec![body_hash]),
        },
    }
}
