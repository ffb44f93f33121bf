//! AWS's SigV4 test suite (aws-sig-v4-test-suite, as carried in aws-sdk-js-v3's
//! `packages/signature-v4/src/suite.fixture.ts`) plus the worked IAM example from the
//! SigV4 documentation: AKIDEXAMPLE, 20150830T123600Z, us-east-1, service "service".

use gatehouse_sigv4::{verify, SigV4Error, VerifiedIdentity};

use crate::support::{example_keys, parts, set_header, SUITE_TIME};

const PREFIX: &str =
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ";

struct Case {
    name: &'static str,
    method: &'static str,
    target: &'static str,
    extra_headers: &'static [(&'static str, &'static str)],
    body: &'static str,
    signed_headers: &'static str,
    signature: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "get-vanilla",
        method: "GET",
        target: "/",
        extra_headers: &[],
        body: "",
        signed_headers: "host;x-amz-date",
        signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
    Case {
        name: "get-header-key-duplicate",
        method: "GET",
        target: "/",
        extra_headers: &[("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1")],
        body: "",
        signed_headers: "host;my-header1;x-amz-date",
        signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
    },
    Case {
        name: "get-header-value-multiline",
        method: "GET",
        target: "/",
        extra_headers: &[("My-Header1", "value1"), ("My-Header1", "value2"), ("My-Header1", "value3")],
        body: "",
        signed_headers: "host;my-header1;x-amz-date",
        signature: "ba17b383a53190154eb5fa66a1b836cc297cc0a3d70a5d00705980573d8ff790",
    },
    Case {
        name: "get-header-value-order",
        method: "GET",
        target: "/",
        extra_headers: &[("My-Header1", "value4"), ("My-Header1", "value1"), ("My-Header1", "value3"), ("My-Header1", "value2")],
        body: "",
        signed_headers: "host;my-header1;x-amz-date",
        signature: "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
    },
    Case {
        name: "get-header-value-trim",
        method: "GET",
        target: "/",
        extra_headers: &[("My-Header1", " value1"), ("My-Header2", "\"a   b   c\"")],
        body: "",
        signed_headers: "host;my-header1;my-header2;x-amz-date",
        signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    },
    Case {
        name: "get-unreserved",
        method: "GET",
        target: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        extra_headers: &[],
        body: "",
        signed_headers: "host;x-amz-date",
        signature: "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
    },
    Case {
        name: "get-utf8",
        method: "GET",
        target: "/ሴ",
        extra_headers: &[],
        body: "",
        signed_headers: "host;x-amz-date",
        signature: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
    },
    Case {
        name: "get-vanilla-empty-query-key",
        method: "GET",
        target: "/?Param1=value1",
        extra_headers: &[],
        body: "",
        signed_headers: "host;x-amz-date",
        signature: "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
    },
    Case {
        name: "get-vanilla-query-order-key-case",
        method: "GET",
        target: "/?Param2=value2&Param1=value1",
        extra_headers: &[],
        body: "",
        signed_headers: "host;x-amz-date",
        signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    },
    Case {
        name: "get-vanilla-query-unreserved",
        method: "GET",
        target: "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        extra_headers: &[],
        body: "",
        signed_headers: "host;x-amz-date",
        signature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
    },
    Case {
        name: "get-vanilla-utf8-query",
        method: "GET",
        target: "/?%E1%88%B4=bar",
        extra_headers: &[],
        body: "",
        signed_headers: "host;x-amz-date",
        signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    },
    Case {
        name: "post-header-key-case",
        method: "POST",
        target: "/",
        extra_headers: &[],
        body: "",
        signed_headers: "host;x-amz-date",
        signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    },
    Case {
        name: "post-header-key-sort",
        method: "POST",
        target: "/",
        extra_headers: &[("My-Header1", "value1")],
        body: "",
        signed_headers: "host;my-header1;x-amz-date",
        signature: "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
    },
    Case {
        name: "post-header-value-case",
        method: "POST",
        target: "/",
        extra_headers: &[("My-Header1", "VALUE1")],
        body: "",
        signed_headers: "host;my-header1;x-amz-date",
        signature: "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
    },
    Case {
        name: "post-vanilla-query",
        method: "POST",
        target: "/?Param1=value1",
        extra_headers: &[],
        body: "",
        signed_headers: "host;x-amz-date",
        signature: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
    },
    Case {
        name: "post-vanilla-query-nonunreserved",
        method: "POST",
        target: "/?%40%23%24%25%5E=&%2B=%2F%2C%3F%3E%3C%60%22%3B%3A%5C%7C%5D%5B%7B%7D",
        extra_headers: &[],
        body: "",
        signed_headers: "host;x-amz-date",
        signature: "66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e",
    },
    Case {
        name: "post-vanilla-query-space",
        method: "POST",
        target: "/?p",
        extra_headers: &[],
        body: "",
        signed_headers: "host;x-amz-date",
        signature: "e71688addb58a26418614085fb730ba3faa623b461c17f48f2fbdb9361b94a9b",
    },
    Case {
        name: "post-x-www-form-urlencoded",
        method: "POST",
        target: "/",
        extra_headers: &[("Content-Type", "application/x-www-form-urlencoded")],
        body: "Param1=value1",
        signed_headers: "content-type;host;x-amz-date",
        signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
    },
    Case {
        name: "post-x-www-form-urlencoded-parameters",
        method: "POST",
        target: "/",
        extra_headers: &[("Content-Type", "application/x-www-form-urlencoded; charset=utf8")],
        body: "Param1=value1",
        signed_headers: "content-type;host;x-amz-date",
        signature: "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe",
    },
];

fn build(case: &Case, signature: &str) -> http::request::Parts {
    let mut headers: Vec<(&str, String)> = vec![
        ("Host", "example.amazonaws.com".into()),
        ("X-Amz-Date", "20150830T123600Z".into()),
    ];
    headers.extend(
        case.extra_headers
            .iter()
            .map(|(n, v)| (*n, (*v).to_owned())),
    );
    headers.push((
        "Authorization",
        format!(
            "{PREFIX}SignedHeaders={}, Signature={signature}",
            case.signed_headers
        ),
    ));
    parts(case.method, case.target, &headers)
}

#[test]
fn every_suite_vector_verifies() {
    let keys = example_keys();
    for case in CASES {
        let result = verify(
            &build(case, case.signature),
            case.body.as_bytes(),
            SUITE_TIME,
            &keys,
        );
        assert_eq!(
            result,
            Ok(VerifiedIdentity {
                access_key_id: "AKIDEXAMPLE".into(),
                region: "us-east-1".into(),
                service: "service".into(),
            }),
            "{}",
            case.name
        );
    }
}

#[test]
fn every_suite_vector_fails_with_one_bit_changed() {
    let keys = example_keys();
    for case in CASES {
        let mut bad = case.signature.to_owned();
        let last = if bad.ends_with('0') { "1" } else { "0" };
        bad.replace_range(63.., last);
        let result = verify(&build(case, &bad), case.body.as_bytes(), SUITE_TIME, &keys);
        assert_eq!(result, Err(SigV4Error::SignatureMismatch), "{}", case.name);
    }
}

#[test]
fn suite_vectors_fail_when_the_request_changes() {
    let keys = example_keys();
    let case = CASES
        .iter()
        .find(|c| c.name == "post-x-www-form-urlencoded")
        .expect("case");
    assert_eq!(
        verify(
            &build(case, case.signature),
            b"Param1=value2",
            SUITE_TIME,
            &keys
        ),
        Err(SigV4Error::SignatureMismatch)
    );
    let mut changed = build(case, case.signature);
    set_header(&mut changed, "content-type", "application/json");
    assert_eq!(
        verify(&changed, case.body.as_bytes(), SUITE_TIME, &keys),
        Err(SigV4Error::SignatureMismatch)
    );
    let mut changed = build(case, case.signature);
    set_header(&mut changed, "host", "example.amazonaws.com.evil");
    assert_eq!(
        verify(&changed, case.body.as_bytes(), SUITE_TIME, &keys),
        Err(SigV4Error::SignatureMismatch)
    );
    let mut changed = build(case, case.signature);
    changed.method = http::Method::PUT;
    assert_eq!(
        verify(&changed, case.body.as_bytes(), SUITE_TIME, &keys),
        Err(SigV4Error::SignatureMismatch)
    );
}

/// The worked example of the SigV4 documentation ("Create a signed AWS API request"):
/// IAM ListUsers, signature 5d672d79….
#[test]
fn documented_iam_example_verifies() {
    let request = parts(
        "GET",
        "/?Action=ListUsers&Version=2010-05-08",
        &[
            ("Host", "iam.amazonaws.com"),
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("X-Amz-Date", "20150830T123600Z"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, \
                 Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
            ),
        ],
    );
    let identity = verify(&request, b"", SUITE_TIME, &example_keys()).expect("verifies");
    assert_eq!(identity.service, "iam");
}

/// HTTP/2 carries the host in `:authority`, which `http` puts in the URI, not the headers.
#[test]
fn host_may_come_from_the_uri_authority() {
    let request = parts(
        "GET",
        "https://example.amazonaws.com/",
        &[
            ("X-Amz-Date", "20150830T123600Z"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                 SignedHeaders=host;x-amz-date, \
                 Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
        ],
    );
    assert!(verify(&request, b"", SUITE_TIME, &example_keys()).is_ok());
}
