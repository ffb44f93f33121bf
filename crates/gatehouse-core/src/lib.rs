//! The Gatehouse domain: user pools, app clients, users, groups, attributes, auth flows,
//! tokens and keys. It decides; the wire adapters above translate, the store below stores.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)
)]

pub mod apis;
pub mod attributes;
pub mod auth;
pub mod client_oauth;
pub mod clients;
pub mod crypt;
pub mod devices;
pub mod env;
pub mod error;
pub mod groups;
pub mod keys;
pub mod lockout;
pub mod messages;
pub mod mfa;
pub mod oauth;
pub mod password;
pub mod pool_domains;
pub mod pools;
pub mod resource_servers;
pub mod revocation;
pub mod srp;
pub mod tokens;
pub mod ui;
pub mod users;
pub mod verify;

mod directory;
mod read_cache;

pub use directory::{Directory, DirectoryConfig};
pub use error::{Error, Result};
pub use gatehouse_store as store;
