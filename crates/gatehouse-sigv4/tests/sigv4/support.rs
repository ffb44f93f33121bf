use gatehouse_sigv4::Credentials;
use http::request::Parts;
use time::macros::datetime;
use time::OffsetDateTime;

pub const AKID: &str = "AKIDEXAMPLE";
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// The time of AWS's SigV4 test suite.
pub const SUITE_TIME: OffsetDateTime = datetime!(2015-08-30 12:36:00 UTC);

pub fn example_keys() -> Credentials {
    Credentials::new(AKID, SECRET)
}

/// Request parts as a server would see them: the target exactly as on the request line,
/// headers appended in order (repeats kept).
pub fn parts<V: AsRef<[u8]>>(method: &str, target: &str, headers: &[(&str, V)]) -> Parts {
    let mut builder = http::Request::builder().method(method).uri(target);
    for (name, value) in headers {
        let value = http::HeaderValue::from_bytes(value.as_ref()).expect("valid header value");
        builder = builder.header(*name, value);
    }
    builder.body(()).expect("valid request").into_parts().0
}

pub fn set_header(parts: &mut Parts, name: &'static str, value: &str) {
    parts.headers.insert(
        name,
        http::HeaderValue::from_str(value).expect("valid header value"),
    );
}

pub fn authorization(parts: &Parts) -> String {
    parts.headers["authorization"]
        .to_str()
        .expect("ascii")
        .to_owned()
}
