//! The canonical request: how both sides reduce an HTTP request to the exact bytes that
//! are hashed and signed. Works on raw bytes throughout, so odd input cannot panic.
//!
//! The URI rules follow what AWS services and botocore do for every service but S3: the
//! path as it arrived (still percent-encoded) has its dot segments and empty segments
//! removed and is then percent-encoded *again*, so `/stages/%24default` is signed as
//! `/stages/%2524default`.

use http::HeaderMap;
use percent_encoding::{percent_decode, percent_encode, AsciiSet, NON_ALPHANUMERIC};

pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";
pub(crate) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
pub(crate) const SIGNATURE_PARAM: &str = "X-Amz-Signature";

/// Everything but AWS's unreserved characters `A-Z a-z 0-9 - _ . ~`.
const QUERY_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// As [`QUERY_SET`], but `/` separates path segments and stays.
const PATH_SET: &AsciiSet = &QUERY_SET.remove(b'/');

/// URI-encodes with AWS's unreserved set (uppercase hex).
pub(crate) fn uri_encode(bytes: &[u8]) -> String {
    percent_encode(bytes, QUERY_SET).to_string()
}

/// RFC 3986 "remove dot segments", also dropping empty segments, exactly as botocore's
/// `remove_dot_segments` does before signing.
fn normalize_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    out
}

/// The canonical URI of a request path as received on the wire.
pub(crate) fn canonical_uri(raw_path: &str) -> String {
    percent_encode(normalize_path(raw_path).as_bytes(), PATH_SET).to_string()
}

/// One query component decoded the way form parsers (and so our handlers) read it:
/// `+` is a space, `%XX` a byte; malformed escapes stay literal.
fn decode_component(raw: &str) -> Vec<u8> {
    let bytes: Vec<u8> = raw
        .bytes()
        .map(|b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&bytes).collect()
}

/// The query string as decoded `(name, value)` pairs, in order; a name without `=` has an
/// empty value and empty pieces (`a=1&&b=2`) are skipped.
pub(crate) fn query_pairs(raw_query: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(name), decode_component(value))
        })
        .collect()
}

/// The canonical query string: every parameter re-encoded with the unreserved set, sorted
/// by encoded name then value, `name=` for empty values. `X-Amz-Signature` is left out
/// for presigned requests.
pub(crate) fn canonical_query(pairs: &[(Vec<u8>, Vec<u8>)], skip_signature: bool) -> String {
    let mut encoded: Vec<(String, String)> = pairs
        .iter()
        .filter(|(name, _)| !(skip_signature && name.as_slice() == SIGNATURE_PARAM.as_bytes()))
        .map(|(name, value)| (uri_encode(name), uri_encode(value)))
        .collect();
    encoded.sort();
    let mut out = String::new();
    for (i, (name, value)) in encoded.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// Appends a header value trimmed, with inner runs of spaces and tabs collapsed to one space.
fn push_trimmed(out: &mut Vec<u8>, value: &[u8]) {
    let words = value
        .split(|b| *b == b' ' || *b == b'\t')
        .filter(|w| !w.is_empty());
    for (i, word) in words.enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(word);
    }
}

/// A header named in SignedHeaders that the request does not carry.
#[derive(Debug)]
pub(crate) struct MissingSignedHeader;

/// `name:value\n` for each signed header (names already lowercase, sorted and unique).
/// Repeated headers are joined with `,`. `host` falls back to the URI authority, which is
/// where HTTP/2 carries it.
pub(crate) fn canonical_headers(
    headers: &HeaderMap,
    authority: Option<&str>,
    signed: &[String],
) -> Result<Vec<u8>, MissingSignedHeader> {
    let mut out = Vec::new();
    for name in signed {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let mut count = 0usize;
        for value in headers.get_all(name.as_str()) {
            if count > 0 {
                out.push(b',');
            }
            push_trimmed(&mut out, value.as_bytes());
            count += 1;
        }
        if count == 0 {
            match authority {
                Some(host) if name == "host" => push_trimmed(&mut out, host.as_bytes()),
                _ => return Err(MissingSignedHeader),
            }
        }
        out.push(b'\n');
    }
    Ok(out)
}

/// Everything of the canonical request except its last line, the payload hash.
pub(crate) fn canonical_request_prefix(
    method: &str,
    raw_path: &str,
    canonical_query: &str,
    canonical_headers: &[u8],
    signed: &[String],
) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(256 + raw_path.len() + canonical_query.len() + canonical_headers.len());
    out.extend_from_slice(method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri(raw_path).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_headers);
    out.push(b'\n');
    out.extend_from_slice(signed.join(";").as_bytes());
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_is_normalized_then_encoded_again() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("//"), "/");
        assert_eq!(canonical_uri("/example/.."), "/");
        assert_eq!(canonical_uri("/example/../.."), "/");
        assert_eq!(canonical_uri("/./"), "/");
        assert_eq!(canonical_uri("/a/./b/../c/"), "/a/c/");
        assert_eq!(canonical_uri("/a//b///c"), "/a/b/c");
        assert_eq!(canonical_uri("/example space/"), "/example%20space/");
        assert_eq!(canonical_uri("/ሴ"), "/%E1%88%B4");
        assert_eq!(
            canonical_uri("/v2/apis/abc/stages/%24default"),
            "/v2/apis/abc/stages/%2524default"
        );
        assert_eq!(
            canonical_uri("/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
            "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        );
        assert_eq!(
            canonical_uri("/a:b@c!$&'()*+,;="),
            "/a%3Ab%40c%21%24%26%27%28%29%2A%2B%2C%3B%3D"
        );
        // Encoded dots are not dot segments.
        assert_eq!(canonical_uri("/a/%2E%2E/b"), "/a/%252E%252E/b");
    }

    fn query(raw: &str, skip: bool) -> String {
        canonical_query(&query_pairs(raw), skip)
    }

    #[test]
    fn query_is_decoded_reencoded_and_sorted() {
        assert_eq!(query("", false), "");
        assert_eq!(
            query("Param2=value2&Param1=value1", false),
            "Param1=value1&Param2=value2"
        );
        assert_eq!(query("b=2&a=1&A=0", false), "A=0&a=1&b=2");
        assert_eq!(
            query("Param1=value2&Param1=value1", false),
            "Param1=value1&Param1=value2"
        );
        assert_eq!(query("Param1", false), "Param1=");
        assert_eq!(query("Param1=", false), "Param1=");
        assert_eq!(query("a=1&&b=2&", false), "a=1&b=2");
        assert_eq!(query("%E1%88%B4=bar", false), "%E1%88%B4=bar");
        assert_eq!(query("ሴ=bar", false), "%E1%88%B4=bar");
        assert_eq!(
            query("k=a%2Bb%2fc%3Dd%20e~f", false),
            "k=a%2Bb%2Fc%3Dd%20e~f"
        );
        assert_eq!(query("k=a+b", false), "k=a%20b");
        assert_eq!(query("k=%zz%", false), "k=%25zz%25");
        assert_eq!(
            query("X-Amz-Signature=abc&X-Amz-Date=1", true),
            "X-Amz-Date=1"
        );
        assert_eq!(
            query("X-Amz-Signature=abc&X-Amz-Date=1", false),
            "X-Amz-Date=1&X-Amz-Signature=abc"
        );
    }

    #[test]
    fn headers_are_trimmed_joined_and_host_falls_back_to_authority() {
        let mut headers = HeaderMap::new();
        headers.append(
            "my-header1",
            http::HeaderValue::from_static("  a   b \t c  "),
        );
        headers.append("my-header2", http::HeaderValue::from_static("value2"));
        headers.append("my-header2", http::HeaderValue::from_static("value1"));
        let signed = ["host", "my-header1", "my-header2"].map(String::from);
        let out = canonical_headers(&headers, Some("example.com:8080"), &signed);
        assert_eq!(
            out.ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .as_deref(),
            Some("host:example.com:8080\nmy-header1:a b c\nmy-header2:value2,value1\n")
        );
        assert!(canonical_headers(&headers, None, &signed).is_err());
        let missing = ["x-missing".to_owned()];
        assert!(canonical_headers(&headers, Some("h"), &missing).is_err());
    }
}
