//! AWS Signature Version 4, verified for real on the requests Gatehouse receives (the aws CLI,
//! boto3 and the SDKs sign admin and management calls with it). We are the server: we rebuild
//! the canonical request, derive the signing key from the secret we hold for the access key,
//! recompute the signature and compare it in constant time.
//!
//! Both ways of carrying a signature are accepted: the `Authorization` header and presigned
//! URLs (`X-Amz-Signature` & co. in the query). [`sign`] and [`presign`] do the client side,
//! for tests and tools.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::todo,
        clippy::unimplemented
    )
)]

mod canonical;
mod claim;
mod error;
mod keys;
mod sign;
mod signature;
mod timestamp;
mod verify;

pub use error::SigV4Error;
pub use keys::{Credentials, KeyLookup};
pub use sign::{presign, sign};
pub use verify::{verify, verify_with, VerifiedIdentity, VerifyOptions};
