//! The crate's own client side (`sign`, `presign`) against its verifier.

use gatehouse_sigv4::{presign, sign, verify, Credentials, SigV4Error};
use http::Method;
use time::Duration;

use crate::support::{example_keys, parts, SUITE_TIME};

#[test]
fn signed_requests_verify_across_odd_paths_and_queries() {
    let keys = example_keys();
    for target in [
        "/",
        "/v2/apis/abc/stages/%24default",
        "/v2/apis/abc/routes/r1/requestparameters/route.request.querystring.%E1%88%B4%20x%25y",
        "/a//b/./c/../d/",
        "/?b=2&a=1&a=0&empty&=novalue&sp=a%20b&plus=a+b&tilde=~",
        "/path%2Fwith%2Fencoded%2Fslashes?k=%2F%3F%23",
    ] {
        let mut request = parts::<&str>("GET", target, &[("Host", "localhost:9229")]);
        sign(
            &mut request,
            b"",
            SUITE_TIME,
            &keys,
            "us-east-1",
            "apigateway",
        )
        .expect("signs");
        let identity =
            verify(&request, b"", SUITE_TIME, &keys).unwrap_or_else(|e| panic!("{target}: {e:?}"));
        assert_eq!(identity.service, "apigateway");
    }
}

#[test]
fn presigned_urls_verify_until_they_expire() {
    let keys = example_keys();
    let uri = "http://localhost:9229/v2/apis/abc?maxResults=5"
        .parse()
        .expect("uri");
    let url = presign(
        &Method::GET,
        &uri,
        SUITE_TIME,
        300,
        &keys,
        "eu-west-1",
        "apigateway",
    )
    .expect("presigns");
    let query = url.query().unwrap_or_default();
    assert!(query.contains("X-Amz-Expires=300"), "{url}");
    assert!(query.contains(
        "X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Feu-west-1%2Fapigateway%2Faws4_request"
    ));
    let target = url.path_and_query().expect("path").as_str();
    let request = parts::<&str>("GET", target, &[("Host", "localhost:9229")]);
    let identity =
        verify(&request, b"", SUITE_TIME + Duration::seconds(300), &keys).expect("verifies");
    assert_eq!(identity.region, "eu-west-1");
    assert!(matches!(
        verify(&request, b"", SUITE_TIME + Duration::seconds(301), &keys),
        Err(SigV4Error::Expired(_))
    ));
    let other_host = parts::<&str>("GET", target, &[("Host", "evil:9229")]);
    assert_eq!(
        verify(&other_host, b"", SUITE_TIME, &keys),
        Err(SigV4Error::SignatureMismatch)
    );
    let as_post = parts::<&str>("POST", target, &[("Host", "localhost:9229")]);
    assert_eq!(
        verify(&as_post, b"", SUITE_TIME, &keys),
        Err(SigV4Error::SignatureMismatch)
    );
    let tampered = target.replace("maxResults=5", "maxResults=6");
    let tampered = parts::<&str>("GET", &tampered, &[("Host", "localhost:9229")]);
    assert_eq!(
        verify(&tampered, b"", SUITE_TIME, &keys),
        Err(SigV4Error::SignatureMismatch)
    );
}

#[test]
fn sign_replaces_a_previous_signature() {
    let keys = example_keys();
    let mut request = parts::<&str>("POST", "/", &[("Host", "localhost")]);
    sign(
        &mut request,
        b"one",
        SUITE_TIME,
        &Credentials::new("AKIDOTHER", "x"),
        "us-east-1",
        "s",
    )
    .expect("signs");
    sign(&mut request, b"two", SUITE_TIME, &keys, "us-east-1", "s").expect("signs");
    assert_eq!(request.headers.get_all("authorization").iter().count(), 1);
    assert!(verify(&request, b"two", SUITE_TIME, &keys).is_ok());
}
