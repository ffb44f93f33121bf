//! Integration tests for gatehouse-sigv4, one binary: AWS's published vectors, requests
//! captured from boto3 / the aws CLI, every error the verifier can give, and garbage input.

mod aws_suite;
mod botocore;
mod botocore_fixtures;
mod errors;
mod robustness;
mod roundtrip;
mod support;
