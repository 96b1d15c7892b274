//! The `Ecr` port over the SDK.

use super::client::Aws;
use super::errors::map_err;
use crate::ports::*;
use async_trait::async_trait;

const MANIFEST_TYPES: [&str; 4] = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
];

#[async_trait]
impl Ecr for Aws {
    async fn create_repository(&self, repository: &str) -> PortResult<String> {
        let op = "ecr:CreateRepository";
        self.gate(op).await;
        let out = self.ecr.create_repository().repository_name(repository).send().await.map_err(|e| map_err(op, e))?;
        out.repository()
            .and_then(|r| r.repository_uri())
            .map(str::to_string)
            .ok_or_else(|| PortError::Transient { op: op.into(), message: "response without repositoryUri".into() })
    }

    async fn authorization(&self) -> PortResult<RegistryAuth> {
        let op = "ecr:GetAuthorizationToken";
        self.gate(op).await;
        let out = self.ecr.get_authorization_token().send().await.map_err(|e| map_err(op, e))?;
        let data = out
            .authorization_data()
            .first()
            .ok_or_else(|| PortError::Transient { op: op.into(), message: "no authorizationData".into() })?;
        // A token that is missing or cannot be decoded will not decode on a retry either: not
        // retryable (it was, and observe spent 8 tries and a minute on it).
        let bad = |m: &str| PortError::Rejected { op: op.into(), code: "MalformedAuthorizationToken".into(), message: m.to_string() };
        let token = data.authorization_token().ok_or_else(|| bad("no authorizationToken"))?;
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD.decode(token).map_err(|_| bad("authorizationToken is not base64"))?;
        let text = String::from_utf8(decoded).map_err(|_| bad("authorizationToken is not UTF-8"))?;
        let (username, password) = text.split_once(':').ok_or_else(|| bad("authorizationToken is not user:password"))?;
        Ok(RegistryAuth {
            username: username.to_string(),
            password: password.to_string(),
            endpoint: data.proxy_endpoint().ok_or_else(|| bad("no proxyEndpoint"))?.to_string(),
        })
    }

    async fn manifest(&self, repository: &str, tag: &str) -> PortResult<Option<Manifest>> {
        let op = "ecr:BatchGetImage";
        self.gate(op).await;
        let out = self
            .ecr
            .batch_get_image()
            .repository_name(repository)
            .image_ids(aws_sdk_ecr::types::ImageIdentifier::builder().image_tag(tag).build())
            .set_accepted_media_types(Some(MANIFEST_TYPES.iter().map(|s| s.to_string()).collect()))
            .send()
            .await
            .map_err(|e| map_err(op, e))?;
        Ok(out.images().first().and_then(|i| {
            Some(Manifest {
                body: i.image_manifest()?.to_string(),
                media_type: i.image_manifest_media_type().map(str::to_string),
                digest: i.image_id().and_then(|x| x.image_digest()).map(str::to_string),
            })
        }))
    }

    async fn pull_through_upstream(&self, repository: &str) -> PortResult<Option<String>> {
        let op = "ecr:DescribePullThroughCacheRules";
        self.gate(op).await;
        let mut pages = self.ecr.describe_pull_through_cache_rules().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| map_err(op, e))?;
            let found = page.pull_through_cache_rules().iter().find_map(|r| {
                let prefix = r.ecr_repository_prefix()?;
                repository.strip_prefix(prefix)?.starts_with('/').then(|| r.upstream_registry_url().unwrap_or_default().to_string())
            });
            if found.is_some() {
                return Ok(found);
            }
            self.gate_next_page(op, page.next_token()).await;
        }
        Ok(None)
    }

    async fn image_exists_in(&self, registry_id: &str, repository: &str, reference: &str) -> PortResult<bool> {
        let op = "ecr:BatchGetImage";
        self.gate(op).await;
        let id = aws_sdk_ecr::types::ImageIdentifier::builder();
        let id = if reference.starts_with("sha256:") { id.image_digest(reference) } else { id.image_tag(reference) };
        let out = self
            .ecr
            .batch_get_image()
            .registry_id(registry_id)
            .repository_name(repository)
            .image_ids(id.build())
            .set_accepted_media_types(Some(MANIFEST_TYPES.iter().map(|s| s.to_string()).collect()))
            .send()
            .await
            .map_err(|e| map_err(op, e));
        match out {
            Ok(o) => Ok(!o.images().is_empty()),
            Err(PortError::NotFound { .. }) => Ok(false),
            Err(PortError::Rejected { code, .. }) if code == "RepositoryNotFoundException" => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn put_manifest(&self, repository: &str, tag: &str, m: &Manifest) -> PortResult<bool> {
        let op = "ecr:PutImage";
        self.gate(op).await;
        // A manifest without its own mediaType needs imageManifestMediaType.
        let media_type = m.media_type.clone().or_else(|| {
            serde_json::from_str::<serde_json::Value>(&m.body)
                .ok()
                .and_then(|v| v.get("mediaType").and_then(|t| t.as_str()).map(str::to_string))
        });
        match self
            .ecr
            .put_image()
            .repository_name(repository)
            .image_tag(tag)
            .image_manifest(&m.body)
            .set_image_manifest_media_type(media_type)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match map_err(op, e) {
                PortError::Rejected { code, .. } if code == "ImageAlreadyExistsException" => Ok(false),
                other => Err(other),
            },
        }
    }

    async fn repository_uri(&self, repository: &str) -> PortResult<String> {
        let op = "ecr:DescribeRepositories";
        self.gate(op).await;
        let out = self.ecr.describe_repositories().repository_names(repository).send().await.map_err(|e| map_err(op, e))?;
        out.repositories()
            .first()
            .and_then(|r| r.repository_uri())
            .map(str::to_string)
            .ok_or_else(|| PortError::NotFound { op: op.into(), message: format!("repository {repository} not found") })
    }

    async fn image_digest(&self, repository: &str, tag: &str) -> PortResult<Option<String>> {
        // A missing tag comes back in `failures` (ImageNotFound), not as an error.
        Ok(self.manifest(repository, tag).await?.and_then(|m| m.digest))
    }
}
