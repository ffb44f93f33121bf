//! Each way verification fails, with the exception names and messages AWS uses.

use std::collections::HashMap;

use gatehouse_sigv4::{sign, verify, Credentials, KeyLookup, SigV4Error};
use time::Duration;

use crate::support::{authorization, example_keys, parts, set_header, SUITE_TIME};

const VANILLA_AUTH: &str =
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
    SignedHeaders=host;x-amz-date, \
    Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

fn vanilla_with(authorization: &str) -> http::request::Parts {
    parts(
        "GET",
        "/",
        &[
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
            ("Authorization", authorization),
        ],
    )
}

fn check(request: &http::request::Parts) -> Result<gatehouse_sigv4::VerifiedIdentity, SigV4Error> {
    verify(request, b"", SUITE_TIME, &example_keys())
}

fn malformed_message(request: &http::request::Parts) -> String {
    match check(request) {
        Err(SigV4Error::Malformed(message)) => message,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

/// A Cognito admin call as boto3 makes it, signed by this crate.
fn cognito_call(
    now: time::OffsetDateTime,
    credentials: &Credentials,
) -> (http::request::Parts, Vec<u8>) {
    let body = br#"{"UserPoolId":"us-east-1_AbCdEfGhI","Username":"alice"}"#.to_vec();
    let mut request = parts(
        "POST",
        "/",
        &[
            ("Host", "localhost:9229"),
            ("Content-Type", "application/x-amz-json-1.1"),
            (
                "X-Amz-Target",
                "AWSCognitoIdentityProviderService.AdminGetUser",
            ),
            ("User-Agent", "test"),
        ],
    );
    sign(
        &mut request,
        &body,
        now,
        credentials,
        "us-east-1",
        "cognito-idp",
    )
    .expect("signs");
    (request, body)
}

#[test]
fn aws_names_and_messages() {
    assert_eq!(
        SigV4Error::Missing.aws_error_type(),
        "MissingAuthenticationTokenException"
    );
    assert_eq!(
        SigV4Error::Missing.message(),
        "Missing Authentication Token"
    );
    let m = SigV4Error::Malformed("x".into());
    assert_eq!(m.aws_error_type(), "IncompleteSignatureException");
    assert_eq!(m.message(), "x");
    assert_eq!(
        SigV4Error::UnknownAccessKey.aws_error_type(),
        "UnrecognizedClientException"
    );
    assert_eq!(
        SigV4Error::UnknownAccessKey.message(),
        "The security token included in the request is invalid."
    );
    assert_eq!(
        SigV4Error::SignatureMismatch.aws_error_type(),
        "InvalidSignatureException"
    );
    assert_eq!(
        SigV4Error::SignatureMismatch.message(),
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. \
         Consult the service documentation for details."
    );
    assert_eq!(
        SigV4Error::Expired("e".into()).aws_error_type(),
        "InvalidSignatureException"
    );
    assert_eq!(SigV4Error::Expired("e".into()).to_string(), "e");
}

#[test]
fn cognito_post_signed_with_x_amz_target_verifies() {
    let (request, body) = cognito_call(SUITE_TIME, &example_keys());
    let auth = authorization(&request);
    assert!(
        auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-target,"),
        "{auth}"
    );
    let identity = verify(&request, &body, SUITE_TIME, &example_keys()).expect("verifies");
    assert_eq!(identity.service, "cognito-idp");
}

#[test]
fn wrong_secret() {
    let (request, body) = cognito_call(
        SUITE_TIME,
        &Credentials::new("AKIDEXAMPLE", "not-the-secret"),
    );
    assert_eq!(
        verify(&request, &body, SUITE_TIME, &example_keys()),
        Err(SigV4Error::SignatureMismatch)
    );
}

#[test]
fn unknown_access_key() {
    let (request, body) = cognito_call(SUITE_TIME, &Credentials::new("AKIDOTHER", "whatever"));
    assert_eq!(
        verify(&request, &body, SUITE_TIME, &example_keys()),
        Err(SigV4Error::UnknownAccessKey)
    );
    // The key sets adapters are likely to hold.
    let many = vec![Credentials::new("AKIDOTHER", "whatever"), example_keys()];
    assert!(verify(&request, &body, SUITE_TIME, &many).is_ok());
    let map: HashMap<String, String> = [("AKIDOTHER".to_owned(), "whatever".to_owned())].into();
    assert!(verify(&request, &body, SUITE_TIME, &map).is_ok());
    assert_eq!(map.secret_for("nope"), None);
}

#[test]
fn credentials_debug_hides_the_secret() {
    let shown = format!("{:?}", example_keys());
    assert!(shown.contains("AKIDEXAMPLE"));
    assert!(!shown.contains("wJalr"), "{shown}");
}

#[test]
fn expired_and_not_yet_current() {
    let request = vanilla_with(VANILLA_AUTH);
    let keys = example_keys();
    assert_eq!(
        verify(&request, b"", SUITE_TIME + Duration::minutes(16), &keys),
        Err(SigV4Error::Expired(
            "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z \
             (20150830T125200Z - 15 min.)"
                .into()
        ))
    );
    assert_eq!(
        verify(&request, b"", SUITE_TIME - Duration::hours(1), &keys),
        Err(SigV4Error::Expired(
            "Signature not yet current: 20150830T123600Z is still later than 20150830T115100Z \
             (20150830T113600Z + 15 min.)"
                .into()
        ))
    );
    let err = verify(&request, b"", SUITE_TIME + Duration::days(400), &keys).expect_err("expired");
    assert_eq!(err.aws_error_type(), "InvalidSignatureException");
}

#[test]
fn missing() {
    let request = parts::<&str>("GET", "/", &[("Host", "example.amazonaws.com")]);
    let err = check(&request).expect_err("missing");
    assert_eq!(err, SigV4Error::Missing);
    assert_eq!(err.aws_error_type(), "MissingAuthenticationTokenException");
    // X-Amz-Date alone, or an unrelated query, is still no signature.
    let request = parts(
        "GET",
        "/?X-Amz-Date=20150830T123600Z&foo=bar",
        &[
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
        ],
    );
    assert_eq!(check(&request), Err(SigV4Error::Missing));
}

#[test]
fn other_authorization_schemes_are_incomplete_signatures() {
    let message = malformed_message(&parts(
        "GET",
        "/",
        &[
            ("Host", "example.amazonaws.com"),
            ("Authorization", "Bearer eyJhbGciOi.x.y"),
        ],
    ));
    assert_eq!(
        message,
        "Authorization header requires 'Credential' parameter. \
         Authorization header requires 'Signature' parameter. \
         Authorization header requires 'SignedHeaders' parameter. \
         Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    );
    assert!(!message.contains("eyJ"), "the token is not echoed back");
}

#[test]
fn malformed_authorization_headers() {
    let cases: &[(&str, &str)] = &[
        (
            "AWS4-HMAC-SHA512 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
            "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date",
            "Authorization header requires 'Signature' parameter.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIDEXAMPLE/20150830/us-east-1/aws4_request'",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws5_request, SignedHeaders=host;x-amz-date, Signature=00",
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150831/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20150831' != '20150830', from '20150830T123600Z'.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=x-amz-date, Signature=00",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=, Signature=00",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=00",
            "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x amz date, Signature=00",
            "SignedHeaders contains an invalid header name: 'x amz date'",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders, Signature=00",
            "Invalid key=value pair (missing equal-sign) in Authorization header.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=a/20150830/us-east-1/service/aws4_request, Credential=b/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
            "Authorization header has more than one 'Credential' parameter.",
        ),
    ];
    for (header, expected) in cases {
        assert_eq!(
            malformed_message(&vanilla_with(header)),
            *expected,
            "{header}"
        );
    }
}

#[test]
fn malformed_dates() {
    let request = parts(
        "GET",
        "/",
        &[
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "2015-08-30T12:36:00Z"),
            ("Authorization", VANILLA_AUTH),
        ],
    );
    assert_eq!(
        malformed_message(&request),
        "Date must be in ISO-8601 'basic format'. Got '2015-08-30T12:36:00Z'. See http://en.wikipedia.org/wiki/ISO_8601"
    );
    let request = parts(
        "GET",
        "/",
        &[
            ("Host", "example.amazonaws.com"),
            ("Authorization", VANILLA_AUTH),
        ],
    );
    assert_eq!(
        malformed_message(&request),
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    );
    let request = parts(
        "GET",
        "/",
        &[
            ("Host", "example.amazonaws.com"),
            ("Date", "yesterday"),
            ("Authorization", VANILLA_AUTH),
        ],
    );
    assert!(malformed_message(&request).starts_with("Date header is not a valid HTTP date."));
}

#[test]
fn repeated_auth_headers_and_mixed_mechanisms() {
    let request = parts(
        "GET",
        "/",
        &[
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
            ("Authorization", VANILLA_AUTH),
            ("Authorization", VANILLA_AUTH),
        ],
    );
    assert!(matches!(check(&request), Err(SigV4Error::Malformed(_))));
    let request = parts(
        "GET",
        "/?X-Amz-Signature=00",
        &[
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
            ("Authorization", VANILLA_AUTH),
        ],
    );
    assert!(malformed_message(&request).starts_with("Only one auth mechanism allowed"));
}

#[test]
fn signed_header_absent_from_the_request() {
    let request = vanilla_with(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders=host;x-amz-date;x-amz-target, \
         Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    );
    assert_eq!(check(&request), Err(SigV4Error::SignatureMismatch));
}

#[test]
fn signature_that_is_not_hex_is_a_mismatch() {
    for sig in [
        "",
        "zz",
        "5fa00fa3",
        &"g".repeat(64),
        &"5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31".repeat(2),
    ] {
        let header = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature={sig}"
        );
        assert_eq!(
            check(&vanilla_with(&header)),
            Err(SigV4Error::SignatureMismatch),
            "{sig}"
        );
    }
}

#[test]
fn uppercase_hex_signature_is_accepted() {
    let header = VANILLA_AUTH.replace(
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "5FA00FA31553B73EBF1942676E86291E8372FF2A2260956D9B8AAE1D763FBF31",
    );
    assert!(check(&vanilla_with(&header)).is_ok());
}

#[test]
fn declared_payload_hash_must_match_the_body() {
    let keys = example_keys();
    let body = b"{\"a\":1}";
    let mut request = parts::<&str>("POST", "/", &[("Host", "localhost")]);
    set_header(
        &mut request,
        "x-amz-content-sha256",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    sign(
        &mut request,
        body,
        SUITE_TIME,
        &keys,
        "us-east-1",
        "cognito-idp",
    )
    .expect("signs");
    // Signed over the empty body's hash, sent with a body: refused.
    assert_eq!(
        verify(&request, body, SUITE_TIME, &keys),
        Err(SigV4Error::SignatureMismatch)
    );
    assert!(verify(&request, b"", SUITE_TIME, &keys).is_ok());

    let mut request = parts::<&str>("POST", "/", &[("Host", "localhost")]);
    set_header(
        &mut request,
        "x-amz-content-sha256",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    );
    sign(
        &mut request,
        body,
        SUITE_TIME,
        &keys,
        "us-east-1",
        "cognito-idp",
    )
    .expect("signs");
    assert!(matches!(
        verify(&request, body, SUITE_TIME, &keys),
        Err(SigV4Error::Malformed(_))
    ));
}

#[test]
fn presigned_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "/?X-Amz-Signature=00",
            "AWS query-string parameters must include 'X-Amz-Algorithm'. Re-examine the query-string parameters.",
        ),
        (
            "/?X-Amz-Algorithm=AWS4-HMAC-SHA1&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00",
            "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1'",
        ),
        (
            "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=604801&X-Amz-SignedHeaders=host&X-Amz-Signature=00",
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        ),
        (
            "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=-1&X-Amz-SignedHeaders=host&X-Amz-Signature=00",
            "X-Amz-Expires should be a number of seconds.",
        ),
        (
            "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Signature=01",
            "The query string has more than one 'X-Amz-Signature' parameter.",
        ),
        (
            "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830&X-Amz-SignedHeaders=host&X-Amz-Signature=00",
            "Date must be in ISO-8601 'basic format'. Got '20150830'. See http://en.wikipedia.org/wiki/ISO_8601",
        ),
        (
            "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=x-amz-date&X-Amz-Signature=00",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ),
    ];
    for (target, expected) in cases {
        let request = parts::<&str>("GET", target, &[("Host", "example.amazonaws.com")]);
        let message = malformed_message(&request);
        assert!(message.starts_with(expected), "{target}: {message}");
    }
}
