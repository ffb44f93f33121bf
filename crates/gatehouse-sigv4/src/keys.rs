//! Where secrets come from: the server looks an access key id up through [`KeyLookup`].

use std::collections::HashMap;
use std::fmt;

/// An access key pair, as configured for Gatehouse's admin API (or used by a signing client).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl Credentials {
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Credentials {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
        }
    }
}

// Hand-written so the secret never reaches a log line through `{:?}`.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// Finds the secret access key for an access key id; `None` if the key is unknown.
pub trait KeyLookup {
    fn secret_for(&self, access_key_id: &str) -> Option<String>;
}

impl KeyLookup for Credentials {
    fn secret_for(&self, access_key_id: &str) -> Option<String> {
        (self.access_key_id == access_key_id).then(|| self.secret_access_key.clone())
    }
}

impl KeyLookup for [Credentials] {
    fn secret_for(&self, access_key_id: &str) -> Option<String> {
        self.iter().find_map(|c| c.secret_for(access_key_id))
    }
}

impl KeyLookup for Vec<Credentials> {
    fn secret_for(&self, access_key_id: &str) -> Option<String> {
        self.as_slice().secret_for(access_key_id)
    }
}

/// Access key id → secret access key.
impl KeyLookup for HashMap<String, String> {
    fn secret_for(&self, access_key_id: &str) -> Option<String> {
        self.get(access_key_id).cloned()
    }
}

impl<T: KeyLookup + ?Sized> KeyLookup for &T {
    fn secret_for(&self, access_key_id: &str) -> Option<String> {
        (**self).secret_for(access_key_id)
    }
}
