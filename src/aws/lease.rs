//! The lease objects in S3, written with conditional writes: `If-None-Match: *` to create,
//! `If-Match: <etag>` to replace (the S3 User Guide, "How to prevent object overwrites with
//! conditional writes"). A lost race is an answer (`None`), not an error.

use super::client::Aws;
use super::errors::map_err;
use crate::ports::*;
use async_trait::async_trait;

/// S3's words for "someone else wrote first": 412 Precondition Failed, or 409
/// ConditionalRequestConflict when two conditional writes of the key overlap.
fn lost_race(e: &PortError) -> bool {
    matches!(e, PortError::Rejected { code, .. } if code == "PreconditionFailed" || code == "ConditionalRequestConflict")
}

fn written(op: &str, r: Result<Option<String>, PortError>) -> PortResult<Option<String>> {
    match r {
        Ok(etag) => Ok(Some(etag.ok_or_else(|| PortError::Transient { op: op.into(), message: "PutObject answered no ETag".into() })?)),
        Err(e) if lost_race(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

#[async_trait]
impl Leases for Aws {
    async fn read(&self, bucket: &str, key: &str) -> PortResult<Option<Stored>> {
        let op = "s3:GetObject";
        self.gate(op).await;
        let out = match self.s3.get_object().bucket(bucket).key(key).send().await.map_err(|e| map_err(op, e)) {
            Ok(out) => out,
            Err(PortError::Rejected { code, .. }) if code == "NoSuchKey" => return Ok(None),
            Err(e) => return Err(e),
        };
        let etag = out.e_tag().unwrap_or_default().to_string();
        let body = out.body.collect().await.map_err(|e| PortError::Transient { op: op.into(), message: e.to_string() })?;
        Ok(Some(Stored { body: body.into_bytes().to_vec(), etag }))
    }

    async fn create(&self, bucket: &str, key: &str, body: &[u8]) -> PortResult<Option<String>> {
        let op = "s3:PutObject";
        self.gate(op).await;
        let put = self.s3.put_object().bucket(bucket).key(key).if_none_match("*").content_type("application/json");
        let r = put.body(body.to_vec().into()).send().await.map(|o| o.e_tag().map(str::to_string)).map_err(|e| map_err(op, e));
        written(op, r)
    }

    async fn replace(&self, bucket: &str, key: &str, body: &[u8], etag: &str) -> PortResult<Option<String>> {
        let op = "s3:PutObject";
        self.gate(op).await;
        let put = self.s3.put_object().bucket(bucket).key(key).if_match(etag).content_type("application/json");
        let r = put.body(body.to_vec().into()).send().await.map(|o| o.e_tag().map(str::to_string)).map_err(|e| map_err(op, e));
        written(op, r)
    }
}
