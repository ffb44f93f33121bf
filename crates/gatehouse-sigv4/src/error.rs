//! Why a request failed SigV4 verification, in the exception names and messages AWS
//! services answer with, so aws CLI / SDK users see what they would see on AWS.

/// A SigV4 verification failure. `Display` and [`SigV4Error::message`] give AWS's wording;
/// [`SigV4Error::aws_error_type`] gives the exception name for `__type` / `x-amzn-errortype`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// Neither an `Authorization` header nor an `X-Amz-Signature` query parameter.
    #[error("Missing Authentication Token")]
    Missing,
    /// Unparsable Authorization header / presigned parameters, credential scope or date.
    #[error("{0}")]
    Malformed(String),
    /// The access key id is not one we know.
    #[error("The security token included in the request is invalid.")]
    UnknownAccessKey,
    /// The signature (or the declared payload hash) does not match the request.
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. \
         Consult the service documentation for details."
    )]
    SignatureMismatch,
    /// The request time is outside the allowed window (or a presigned URL has expired).
    #[error("{0}")]
    Expired(String),
}

impl SigV4Error {
    /// The AWS exception name, for `{"__type": …}` and the `x-amzn-errortype` header.
    pub fn aws_error_type(&self) -> &'static str {
        match self {
            SigV4Error::Missing => "MissingAuthenticationTokenException",
            SigV4Error::Malformed(_) => "IncompleteSignatureException",
            SigV4Error::UnknownAccessKey => "UnrecognizedClientException",
            SigV4Error::SignatureMismatch | SigV4Error::Expired(_) => "InvalidSignatureException",
        }
    }

    /// The message AWS sends with this error.
    pub fn message(&self) -> String {
        self.to_string()
    }

    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        SigV4Error::Malformed(message.into())
    }
}

/// Client-supplied text echoed in an error message, cut short so a huge header cannot
/// make a huge response (or log line).
pub(crate) fn clip(text: &str) -> String {
    const MAX_CHARS: usize = 128;
    let mut chars = text.chars();
    let mut out: String = chars.by_ref().take(MAX_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}
