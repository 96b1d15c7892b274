//! EC2's two read-only calls (DescribeSubnets and DescribeSecurityGroups by id, for `verify`),
//! as signed Query requests over the HTTP client fgdeploy already has.
//!
//! Why not `aws-sdk-ec2`: that crate alone took 206 s of a 417 s cold `cargo build` on a 2-core
//! machine — the build's critical path — for two calls whose answer fgdeploy reads only as
//! "there" or "not there". The signing is AWS's own (`aws-sigv4`, the signer the SDK uses);
//! credentials, region and endpoint override come from the same `SdkConfig` as every SDK client.

use crate::ports::{PortError, PortResult};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use std::time::Duration;

/// The EC2 Query API version fgdeploy speaks (the current one).
const VERSION: &str = "2016-11-15";

pub struct Ec2 {
    http: reqwest::Client,
    credentials: Option<SharedCredentialsProvider>,
    region: String,
    endpoint: String,
}

impl Ec2 {
    /// Over `conf`'s credentials and region; the endpoint is `AWS_ENDPOINT_URL_EC2`, else the
    /// config's endpoint override (`AWS_ENDPOINT_URL`), else the regional one.
    pub fn new(conf: &aws_config::SdkConfig) -> Ec2 {
        let region = conf.region().map(ToString::to_string).unwrap_or_else(|| "us-east-1".into());
        let endpoint = std::env::var("AWS_ENDPOINT_URL_EC2")
            .ok()
            .or_else(|| conf.endpoint_url().map(str::to_string))
            .unwrap_or_else(|| format!("https://ec2.{region}.{}", super::dns_suffix(&region)));
        // As the SDK clients: 3 s to connect, 20 s for an answer, one attempt.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(20))
            .user_agent(concat!("fgdeploy/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Ec2 { http, credentials: conf.credentials_provider(), region, endpoint }
    }

    /// Whether the resource `id` exists: `action` (DescribeSubnets, DescribeSecurityGroups) with
    /// `param.1 = id`. An `*.NotFound` / `*.Malformed` answer is `false`; other errors are mapped
    /// as the SDK clients' are.
    pub async fn exists(&self, op: &str, action: &str, param: &str, id: &str) -> PortResult<bool> {
        let body = format!("Action={action}&Version={VERSION}&{param}.1={}", encode(id));
        let send = self.signed(op, &body).await?;
        let answer = send.send().await.map_err(|e| self.unreachable(op, &e))?;
        let status = answer.status().as_u16();
        let text = answer.text().await.map_err(|e| self.unreachable(op, &e))?;
        if status == 200 {
            return Ok(true);
        }
        let code = tag(&text, "Code");
        let message = tag(&text, "Message").unwrap_or_default();
        match code.as_deref() {
            Some(c) if c.ends_with(".NotFound") || c.ends_with(".Malformed") => Ok(false),
            Some("RequestLimitExceeded") | Some("Throttling") => Err(PortError::Throttled { op: op.into() }),
            Some(c) if status >= 500 => Err(PortError::Transient { op: op.into(), message: format!("{c}: {message}") }),
            Some(c) => Err(PortError::Rejected { op: op.into(), code: c.to_string(), message }),
            None if status >= 500 => Err(PortError::Transient { op: op.into(), message: format!("HTTP {status}") }),
            None => Err(PortError::Unsupported { op: op.into(), message: format!("HTTP {status} without an AWS error body") }),
        }
    }

    /// The POST, signed with SigV4 for `ec2` in the region.
    async fn signed(&self, op: &str, body: &str) -> PortResult<reqwest::RequestBuilder> {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        let no_credentials = |why: String| PortError::Rejected {
            op: op.into(),
            code: "NoCredentials".into(),
            message: format!(
                "no usable AWS credentials ({why}); set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, run `aws sso login`, or rehearse with --sandbox"
            ),
        };
        let provider = self.credentials.as_ref().ok_or_else(|| no_credentials("none configured".into()))?;
        let credentials = provider.provide_credentials().await.map_err(|e| no_credentials(e.to_string()))?;
        let identity = credentials.into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("ec2")
            .time(std::time::SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| PortError::Rejected { op: op.into(), code: "RequestConstruction".into(), message: e.to_string() })?
            .into();
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let headers = [("content-type", content_type)];
        let signable = SignableRequest::new("POST", &self.endpoint, headers.into_iter(), SignableBody::Bytes(body.as_bytes()))
            .map_err(|e| PortError::Rejected { op: op.into(), code: "RequestConstruction".into(), message: e.to_string() })?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| PortError::Rejected { op: op.into(), code: "RequestConstruction".into(), message: e.to_string() })?
            .into_parts();
        let mut request = self.http.post(&self.endpoint).header("content-type", content_type).body(body.to_string());
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        Ok(request)
    }

    fn unreachable(&self, op: &str, e: &reqwest::Error) -> PortError {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            message.push_str(&format!(": {s}"));
            source = s.source();
        }
        PortError::Unreachable { op: op.into(), endpoint: self.endpoint.clone(), message }
    }
}

/// The text of the first `<name>…</name>` in an XML answer.
fn tag(xml: &str, name: &str) -> Option<String> {
    let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(xml[start..end].to_string())
}

/// Form-encode an id (ids are `[a-z0-9-]`; anything else is escaped all the same).
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_and_values_are_read_from_the_query_answer() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>InvalidSubnetID.NotFound</Code><Message>The subnet ID 'subnet-0' does not exist</Message></Error></Errors><RequestID>x</RequestID></Response>"#;
        assert_eq!(tag(xml, "Code").as_deref(), Some("InvalidSubnetID.NotFound"));
        assert_eq!(tag(xml, "Message").as_deref(), Some("The subnet ID 'subnet-0' does not exist"));
        assert_eq!(tag("<a/>", "Code"), None);
        assert_eq!(encode("sg-0123abc"), "sg-0123abc");
        assert_eq!(encode("a b&c"), "a%20b%26c");
    }
}
