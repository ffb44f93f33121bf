//! Requests signed by an independent implementation: boto3 / botocore and the aws CLI,
//! captured off the wire by `gen_botocore_fixtures.py` into `botocore_fixtures.rs`.

use gatehouse_sigv4::{verify, Credentials, SigV4Error};
use time::macros::datetime;
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

use crate::botocore_fixtures::{Captured, CAPTURED};
use crate::support::{example_keys, parts};

/// The clock the fixture script froze boto3 at.
const FROZEN: OffsetDateTime = datetime!(2024-03-15 10:15:30 UTC);

fn fixture(name: &str) -> &'static Captured {
    CAPTURED
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

fn request(c: &Captured) -> http::request::Parts {
    parts(c.method, c.target, c.headers)
}

/// When the fixture was signed: its X-Amz-Date (aws CLI fixtures use the real clock).
fn signed_at(c: &Captured) -> OffsetDateTime {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    c.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("x-amz-date"))
        .map(|(_, v)| {
            PrimitiveDateTime::parse(v, &format)
                .expect("x-amz-date")
                .assume_utc()
        })
        .unwrap_or(FROZEN)
}

fn expected_service(c: &Captured) -> &'static str {
    if c.name.contains("cognito") {
        "cognito-idp"
    } else {
        "apigateway"
    }
}

#[test]
fn every_captured_request_verifies() {
    assert!(CAPTURED.len() >= 10);
    let keys = example_keys();
    for c in CAPTURED {
        let identity = verify(&request(c), c.body.as_bytes(), signed_at(c), &keys)
            .unwrap_or_else(|e| panic!("{}: {e:?}", c.name));
        assert_eq!(identity.access_key_id, "AKIDEXAMPLE", "{}", c.name);
        assert_eq!(identity.region, "us-east-1", "{}", c.name);
        assert_eq!(identity.service, expected_service(c), "{}", c.name);
    }
}

#[test]
fn a_wrong_secret_fails_every_captured_request() {
    let keys = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEz");
    for c in CAPTURED {
        assert_eq!(
            verify(&request(c), c.body.as_bytes(), signed_at(c), &keys),
            Err(SigV4Error::SignatureMismatch),
            "{}",
            c.name
        );
    }
}

#[test]
fn dollar_default_stage_is_double_encoded() {
    // boto3 sends `/stages/%24default` and signs `/stages/%2524default`; decoding the path
    // first (and signing `%24default`) would reject it.
    let c = fixture("boto3_apigw_get_stage_default");
    assert!(c.target.ends_with("/stages/%24default"));
    assert!(verify(&request(c), b"", FROZEN, &example_keys()).is_ok());
    let mut other = request(c);
    other.uri = "/v2/apis/abc1234567/stages/$default".parse().expect("uri");
    assert_eq!(
        verify(&other, b"", FROZEN, &example_keys()),
        Err(SigV4Error::SignatureMismatch)
    );
    let cli = fixture("cli_apigw_get_stage_default");
    assert!(verify(&request(cli), b"", signed_at(cli), &example_keys()).is_ok());
}

#[test]
fn tampering_with_a_cognito_call_is_detected() {
    let c = fixture("boto3_cognito_admin_get_user");
    let keys = example_keys();
    let body = c.body.replace("alice", "mallory");
    assert_eq!(
        verify(&request(c), body.as_bytes(), FROZEN, &keys),
        Err(SigV4Error::SignatureMismatch)
    );
    let mut retargeted = request(c);
    retargeted.headers.insert(
        "x-amz-target",
        http::HeaderValue::from_static("AWSCognitoIdentityProviderService.AdminDeleteUser"),
    );
    assert_eq!(
        verify(&retargeted, c.body.as_bytes(), FROZEN, &keys),
        Err(SigV4Error::SignatureMismatch)
    );
    // Unsigned headers (User-Agent, amz-sdk-*) may change freely.
    let mut noisy = request(c);
    noisy
        .headers
        .insert("user-agent", http::HeaderValue::from_static("curl/8"));
    noisy.headers.remove("amz-sdk-request");
    assert!(verify(&noisy, c.body.as_bytes(), FROZEN, &keys).is_ok());
}

#[test]
fn query_parameters_are_covered() {
    let c = fixture("boto3_apigw_get_apis_query");
    let keys = example_keys();
    let mut changed = request(c);
    changed.uri = c
        .target
        .replace("maxResults=10", "maxResults=11")
        .parse()
        .expect("uri");
    assert_eq!(
        verify(&changed, b"", FROZEN, &keys),
        Err(SigV4Error::SignatureMismatch)
    );
    // The same parameters in another order are the same canonical query.
    let mut reordered = request(c);
    reordered.uri = "/v2/apis?nextToken=a%2Bb%2Fc%3Dd%20e~f&maxResults=10"
        .parse()
        .expect("uri");
    assert!(verify(&reordered, b"", FROZEN, &keys).is_ok());
}

#[test]
fn date_header_fallback_and_unsigned_payload() {
    let keys = example_keys();
    let dated = fixture("boto3_cognito_date_header");
    assert!(dated
        .headers
        .iter()
        .all(|(n, _)| !n.eq_ignore_ascii_case("x-amz-date")));
    assert!(verify(&request(dated), dated.body.as_bytes(), FROZEN, &keys).is_ok());

    let unsigned = fixture("boto3_cognito_unsigned_payload");
    // The body is not covered: any body verifies.
    assert!(verify(&request(unsigned), b"{}", FROZEN, &keys).is_ok());
    let mut strict = gatehouse_sigv4::VerifyOptions::default();
    strict.allow_unsigned_payload = false;
    assert!(matches!(
        gatehouse_sigv4::verify_with(&request(unsigned), b"{}", FROZEN, &keys, &strict),
        Err(SigV4Error::Malformed(_))
    ));
}

#[test]
fn botocore_presigned_url_verifies_until_it_expires() {
    let c = fixture("boto3_apigw_presigned_get_api");
    let keys = example_keys();
    assert!(verify(&request(c), b"", FROZEN, &keys).is_ok());
    assert!(verify(&request(c), b"", FROZEN + Duration::seconds(900), &keys).is_ok());
    let late = verify(&request(c), b"", FROZEN + Duration::seconds(901), &keys);
    assert!(matches!(late, Err(SigV4Error::Expired(_))), "{late:?}");
    // botocore's generic presigner signs the (empty) body's hash, so a body breaks it.
    assert_eq!(
        verify(&request(c), b"x", FROZEN, &keys),
        Err(SigV4Error::SignatureMismatch)
    );
    let mut changed = request(c);
    changed.uri = c
        .target
        .replace("abc1234567", "abc1234568")
        .parse()
        .expect("uri");
    assert_eq!(
        verify(&changed, b"", FROZEN, &keys),
        Err(SigV4Error::SignatureMismatch)
    );
}

#[test]
fn captured_requests_expire_after_fifteen_minutes() {
    let c = fixture("boto3_cognito_admin_get_user");
    let keys = example_keys();
    let body = c.body.as_bytes();
    assert!(verify(&request(c), body, FROZEN + Duration::minutes(15), &keys).is_ok());
    assert!(verify(&request(c), body, FROZEN - Duration::minutes(15), &keys).is_ok());
    assert_eq!(
        verify(
            &request(c),
            body,
            FROZEN + Duration::minutes(15) + Duration::seconds(1),
            &keys
        ),
        Err(SigV4Error::Expired(
            "Signature expired: 20240315T101530Z is now earlier than 20240315T101531Z \
             (20240315T103031Z - 15 min.)"
                .into()
        ))
    );
    assert_eq!(
        verify(&request(c), body, FROZEN - Duration::minutes(16), &keys),
        Err(SigV4Error::Expired(
            "Signature not yet current: 20240315T101530Z is still later than 20240315T101430Z \
             (20240315T095930Z + 15 min.)"
                .into()
        ))
    );
}
