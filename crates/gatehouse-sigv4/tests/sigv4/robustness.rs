//! Garbage in, an error out: never a panic. Deterministic pseudo-random inputs (no seed
//! to chase when something fails), truncations and mutations of valid requests, non-UTF-8
//! and huge values.

use gatehouse_sigv4::{verify, SigV4Error};
use http::HeaderValue;

use crate::support::{example_keys, parts, SUITE_TIME};

const VALID_AUTH: &str =
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
    SignedHeaders=host;x-amz-date, \
    Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

/// xorshift64*: enough randomness for fuzz-ish coverage, reproducible run to run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    /// Bytes a header value may hold (visible ASCII, space, tab, obs-text 0x80-0xFF).
    fn header_bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| loop {
                let b = (self.next() & 0xff) as u8;
                if b == b'\t' || (b >= 0x20 && b != 0x7f) {
                    break b;
                }
            })
            .collect()
    }
}

fn request_with(headers: Vec<(&str, Vec<u8>)>, target: &str) -> Option<http::request::Parts> {
    let mut builder = http::Request::builder().method("GET").uri(target);
    for (name, value) in headers {
        builder = builder.header(name, HeaderValue::from_bytes(&value).ok()?);
    }
    builder.body(()).ok().map(|r| r.into_parts().0)
}

fn run(request: &http::request::Parts, body: &[u8]) -> Result<(), SigV4Error> {
    verify(request, body, SUITE_TIME, &example_keys()).map(|_| ())
}

#[test]
fn every_truncation_of_a_valid_authorization_header() {
    for end in 0..VALID_AUTH.len() {
        let request = parts(
            "GET",
            "/",
            &[
                ("Host", "example.amazonaws.com"),
                ("X-Amz-Date", "20150830T123600Z"),
                ("Authorization", &VALID_AUTH[..end]),
            ],
        );
        assert!(run(&request, b"").is_err(), "prefix {end} verified");
    }
}

#[test]
fn single_byte_mutations_never_verify() {
    let mut rng = Rng(0x5eed_0001);
    for _ in 0..3000 {
        let mut auth = VALID_AUTH.as_bytes().to_vec();
        let at = rng.below(auth.len());
        let replacement = rng.header_bytes(1)[0];
        if auth[at] == replacement {
            continue;
        }
        auth[at] = replacement;
        let Some(request) = request_with(
            vec![
                ("host", b"example.amazonaws.com".to_vec()),
                ("x-amz-date", b"20150830T123600Z".to_vec()),
                ("authorization", auth.clone()),
            ],
            "/",
        ) else {
            continue;
        };
        // A few mutations are harmless (case of a hex digit, spacing, an empty `,,` item);
        // none may panic, and any that verifies must still say the same thing.
        if run(&request, b"").is_ok() {
            let same = |s: &str| {
                s.to_ascii_lowercase()
                    .replace([' ', '\t'], "")
                    .replace(",,", ",")
            };
            let text = String::from_utf8_lossy(&auth).into_owned();
            assert_eq!(same(&text), same(VALID_AUTH), "{text}");
        }
    }
}

#[test]
fn random_garbage_headers_and_targets() {
    let mut rng = Rng(0x5eed_0002);
    let pieces = [
        "AWS4-HMAC-SHA256",
        " ",
        ",",
        ", ",
        "=",
        "/",
        ";",
        "Credential=",
        "SignedHeaders=",
        "Signature=",
        "AKIDEXAMPLE",
        "20150830",
        "us-east-1",
        "service",
        "aws4_request",
        "host",
        "x-amz-date",
        "\t",
        "ሴ",
        "%",
        "%2",
        "%ZZ",
        "%00",
        "..",
        "",
        "X-Amz-Signature",
    ];
    let target_pieces = [
        "/",
        "//",
        ".",
        "..",
        "%",
        "%2F",
        "%24",
        "%E1%88%B4",
        "ሴ",
        "a",
        "?",
        "&",
        "=",
        "+",
        "X-Amz-Signature=",
        "X-Amz-Algorithm=AWS4-HMAC-SHA256",
        "X-Amz-Credential=",
        "X-Amz-Date=",
        "X-Amz-Expires=",
        "X-Amz-SignedHeaders=host",
        "99999999999999999999",
        "20150830T123600Z",
    ];
    for _ in 0..20_000 {
        let auth: String = (0..rng.below(12)).map(|_| rng.pick(&pieces)).collect();
        let mut target = String::from("/");
        for _ in 0..rng.below(10) {
            target.push_str(rng.pick(&target_pieces));
        }
        let date = match rng.below(4) {
            0 => b"20150830T123600Z".to_vec(),
            1 => rng.header_bytes(16),
            2 => b"Sun, 30 Aug 2015 12:36:00 GMT".to_vec(),
            _ => {
                let len = rng.below(40);
                rng.header_bytes(len)
            }
        };
        let mut headers = vec![("host", b"example.amazonaws.com".to_vec())];
        if rng.below(4) != 0 {
            headers.push(("authorization", auth.into_bytes()));
        }
        headers.push((
            if rng.below(2) == 0 {
                "x-amz-date"
            } else {
                "date"
            },
            date,
        ));
        if rng.below(3) == 0 {
            let len = rng.below(70);
            headers.push(("x-amz-content-sha256", rng.header_bytes(len)));
        }
        if let Some(request) = request_with(headers, &target) {
            let len = rng.below(8);
            let _ = run(&request, &rng.header_bytes(len));
        }
    }
}

#[test]
fn non_utf8_values_everywhere() {
    let bad = vec![0xff, 0xfe, b'A', 0x80, 0xc3];
    let signed_all =
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
        SignedHeaders=host;my-header;x-amz-content-sha256;x-amz-date, Signature=00";
    let mut auth_with_bad = VALID_AUTH.as_bytes().to_vec();
    auth_with_bad.extend_from_slice(&bad);
    let cases: Vec<Vec<(&str, Vec<u8>)>> = vec![
        vec![
            ("host", bad.clone()),
            ("x-amz-date", b"20150830T123600Z".to_vec()),
            ("authorization", VALID_AUTH.into()),
        ],
        vec![
            ("host", b"h".to_vec()),
            ("x-amz-date", bad.clone()),
            ("authorization", VALID_AUTH.into()),
        ],
        vec![
            ("host", b"h".to_vec()),
            ("date", bad.clone()),
            ("authorization", VALID_AUTH.into()),
        ],
        vec![
            ("host", b"h".to_vec()),
            ("x-amz-date", b"20150830T123600Z".to_vec()),
            ("authorization", bad.clone()),
        ],
        vec![
            ("host", b"h".to_vec()),
            ("x-amz-date", b"20150830T123600Z".to_vec()),
            ("authorization", auth_with_bad),
        ],
        vec![
            ("host", b"h".to_vec()),
            ("my-header", bad.clone()),
            ("x-amz-content-sha256", bad.clone()),
            ("x-amz-date", b"20150830T123600Z".to_vec()),
            ("authorization", signed_all.into()),
        ],
        vec![
            ("host", b"h".to_vec()),
            ("my-header", bad.clone()),
            ("x-amz-date", b"20150830T123600Z".to_vec()),
            ("authorization", signed_all.into()),
        ],
    ];
    for headers in cases {
        let request = request_with(headers, "/").expect("valid header bytes");
        assert!(run(&request, &bad).is_err());
    }
    // Raw UTF-8 and percent-encoded invalid UTF-8 in the path and query.
    for target in [
        "/ሴ?ሴ=ሴ",
        "/%FF%FE?%FF=%C3&%C3%28",
        "/?X-Amz-Signature=%FF&X-Amz-Credential=%FF%2F",
    ] {
        let request = parts(
            "GET",
            target,
            &[
                ("host", "h"),
                ("x-amz-date", "20150830T123600Z"),
                ("authorization", VALID_AUTH),
            ],
        );
        assert!(run(&request, b"").is_err(), "{target}");
        let request = parts::<&str>("GET", target, &[("host", "h")]);
        let _ = run(&request, b"");
    }
}

#[test]
fn huge_values() {
    let huge = "A".repeat(1 << 20);
    let many_headers: String = (0..10_000).map(|i| format!("h{i};")).collect();
    let cases = [
        format!("AWS4-HMAC-SHA256 Credential={huge}/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"),
        format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/{huge}/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"),
        format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;{many_headers}, Signature=00"),
        format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature={huge}"),
        format!("AWS4-HMAC-SHA256 {}", ",".repeat(1 << 20)),
        format!("AWS4-HMAC-SHA256 Credential={}", "/".repeat(1 << 20)),
        huge.clone(),
    ];
    for auth in &cases {
        let request = parts(
            "GET",
            "/",
            &[
                ("Host", "example.amazonaws.com"),
                ("X-Amz-Date", "20150830T123600Z"),
                ("Authorization", auth.as_str()),
            ],
        );
        let err = run(&request, b"").expect_err("refused");
        assert!(
            err.message().len() < 1024,
            "message echoes too much: {}",
            err.message().len()
        );
    }
    // Close to the longest URI `http` accepts (64 KiB).
    let long_query: String = (0..4_000).map(|i| format!("k{}={}&", i % 97, i)).collect();
    let target = format!("/{}?{long_query}", "seg/".repeat(5_000));
    let request = parts(
        "GET",
        &target,
        &[
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
            ("Authorization", VALID_AUTH),
        ],
    );
    assert_eq!(
        run(&request, &vec![0u8; 1 << 20]),
        Err(SigV4Error::SignatureMismatch)
    );
}

#[test]
fn extreme_clocks() {
    let request = parts(
        "GET",
        "/",
        &[
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
            ("Authorization", VALID_AUTH),
        ],
    );
    let keys = example_keys();
    for now in [
        time::OffsetDateTime::UNIX_EPOCH,
        time::PrimitiveDateTime::MIN.assume_utc(),
        time::PrimitiveDateTime::MAX.assume_utc(),
    ] {
        assert!(matches!(
            verify(&request, b"", now, &keys),
            Err(SigV4Error::Expired(_))
        ));
    }
    let dated = parts(
        "GET",
        "/",
        &[
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "99991231T235959Z"),
            ("Authorization", VALID_AUTH),
        ],
    );
    assert!(verify(
        &dated,
        b"",
        time::PrimitiveDateTime::MAX.assume_utc(),
        &keys
    )
    .is_err());
    let presigned = parts::<&str>(
        "GET",
        "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F99991231%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=99991231T235959Z&X-Amz-Expires=604800&X-Amz-SignedHeaders=host&X-Amz-Signature=00",
        &[("Host", "example.amazonaws.com")],
    );
    for now in [
        time::PrimitiveDateTime::MIN.assume_utc(),
        time::PrimitiveDateTime::MAX.assume_utc(),
    ] {
        assert!(verify(&presigned, b"", now, &keys).is_err());
    }
}
