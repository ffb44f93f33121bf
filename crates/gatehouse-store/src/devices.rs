//! Remembered devices: the aggregate and its store trait.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Page, StoreResult};

/// A device of a user. Issued at sign-in (unconfirmed) as NewDeviceMetadata; ConfirmDevice
/// gives it the device's SRP verifier, after which it can sign in with DEVICE_SRP_AUTH.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Device {
    pub pool_id: String,
    /// The owning user's sub.
    pub sub: String,
    pub device_key: String,
    pub device_group_key: String,
    pub confirmed: bool,
    /// `remembered` or `not_remembered` once confirmed.
    pub remembered_status: Option<String>,
    /// The device's SRP verifier and salt, sealed by the domain.
    pub verifier: Option<String>,
    /// `device_name`, `last_ip_used`, ... as shown in DeviceAttributes.
    pub attributes: BTreeMap<String, String>,
    pub created: i64,
    pub modified: i64,
    pub last_authenticated: Option<i64>,
}

#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Inserts or replaces the device.
    async fn put_device(&self, device: &Device) -> StoreResult<()>;
    /// Inserts a new unconfirmed device and, in the same transaction, drops the user's
    /// unconfirmed devices created before `stale_before` (devices never confirmed do not pile
    /// up).
    async fn add_pending_device(&self, device: &Device, stale_before: i64) -> StoreResult<()>;
    async fn get_device(&self, pool_id: &str, device_key: &str) -> StoreResult<Option<Device>>;
    /// The user's confirmed devices ordered by device key, after `page.after`.
    async fn list_devices(&self, pool_id: &str, sub: &str, page: &Page)
        -> StoreResult<Vec<Device>>;
    /// NotFound when there is no such device.
    async fn delete_device(&self, pool_id: &str, device_key: &str) -> StoreResult<()>;
}
