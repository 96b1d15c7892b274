//! The `Leases` port: one small object per service, written only with compare-and-swap (S3
//! conditional writes), for the lease that serialises releases of a service (#27).

use super::error::PortResult;
use async_trait::async_trait;

/// An object and its version (S3's ETag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub body: Vec<u8>,
    pub etag: String,
}

#[async_trait]
pub trait Leases: Send + Sync {
    /// GetObject: `None` when the key does not exist.
    async fn read(&self, bucket: &str, key: &str) -> PortResult<Option<Stored>>;
    /// PutObject with `If-None-Match: *`: the new ETag, or `None` when the key exists (someone
    /// else created it first: 412 Precondition Failed, or 409 ConditionalRequestConflict).
    async fn create(&self, bucket: &str, key: &str, body: &[u8]) -> PortResult<Option<String>>;
    /// PutObject with `If-Match: etag`: the new ETag, or `None` when the object is no longer
    /// that version (someone else wrote it first).
    async fn replace(&self, bucket: &str, key: &str, body: &[u8], etag: &str) -> PortResult<Option<String>>;
}
