//! The AWS Query protocol (form-encoded POST, XML answer) for the few read-only calls fgdeploy
//! makes to EC2 (DescribeSubnets, DescribeSecurityGroups), IAM (GetRole) and CloudFormation
//! (DescribeStacks) and CloudWatch (DescribeAlarms, DescribeAlarmHistory), and SSM's one call
//! (GetParameter) in the AWS JSON 1.1 protocol (`json_call`), signed with AWS's own signer (`aws-sigv4`, the SDK's) and the same
//! `SdkConfig`'s credentials, region and endpoint override as every SDK client.
//!
//! Why not `aws-sdk-ec2`, `aws-sdk-iam` and `aws-sdk-cloudformation`: measured on a 2-core
//! machine, `aws-sdk-ec2` alone took 206 s of a 417 s cold `cargo build` (its critical path),
//! IAM 40 s and CloudFormation 24 s more, for four calls whose answers fgdeploy reads as "there
//! or not", a URL-encoded policy document and a stack's outputs. The answers are read with a
//! few lines of XML scanning (`tag`, `members`), tested on AWS's documented answer shapes here
//! and on moto's over the wire.

use crate::ports::{PortError, PortResult};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use std::time::Duration;

/// Where one service's Query calls go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(crate) url: String,
    /// The region the signature is for (IAM's global endpoint signs for us-east-1).
    pub(crate) signing_region: String,
    pub(crate) service: &'static str,
    /// The Query protocol's `Version`; for the JSON protocol, the `X-Amz-Target` prefix.
    pub(crate) version: &'static str,
    /// The JSON protocol's version (`1.1`; SQS speaks `1.0`).
    pub(crate) json: &'static str,
}

pub struct Query {
    http: reqwest::Client,
    credentials: Option<SharedCredentialsProvider>,
    pub(crate) ec2: Endpoint,
    pub(crate) iam: Endpoint,
    pub(crate) cloudformation: Endpoint,
    /// CloudWatch (alarms): its Query protocol, for the same reason as EC2's.
    pub(crate) monitoring: Endpoint,
    /// SSM (GetParameter): its JSON protocol (`json_call`), for the same reason: `aws-sdk-ssm`
    /// took 62 s of a cold build, on its critical path, for one operation.
    pub(crate) ssm: Endpoint,
    /// EventBridge (the watch's temporary rule, #28): JSON 1.1, for the same reason.
    pub(crate) events: Endpoint,
    /// SQS (the watch's temporary queue): JSON 1.0, for the same reason.
    pub(crate) sqs: Endpoint,
}

/// An error answer, as the Query protocol spells it (`<Error><Code>…</Code><Message>…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) code: Option<String>,
    pub(crate) message: String,
}

impl Query {
    pub(crate) fn new(conf: &aws_config::SdkConfig) -> Query {
        let region = conf.region().map(ToString::to_string).unwrap_or_else(|| "us-east-1".into());
        let overridden =
            |env: &str| std::env::var(format!("AWS_ENDPOINT_URL_{env}")).ok().or_else(|| conf.endpoint_url().map(str::to_string));
        let suffix = super::endpoints::dns_suffix(&region);
        let regional = |service: &'static str, env: &str, version: &'static str| Endpoint {
            url: overridden(env).unwrap_or_else(|| format!("https://{service}.{region}.{suffix}")),
            signing_region: region.clone(),
            service,
            version,
            json: "1.1",
        };
        let (iam_url, iam_region) = iam_endpoint(&region);
        // As the SDK clients: 3 s to connect, 20 s for an answer, one attempt.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(20))
            .user_agent(concat!("fgdeploy/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Query {
            http,
            credentials: conf.credentials_provider(),
            ec2: regional("ec2", "EC2", "2016-11-15"),
            cloudformation: regional("cloudformation", "CLOUDFORMATION", "2010-05-15"),
            monitoring: regional("monitoring", "CLOUDWATCH", "2010-08-01"),
            ssm: regional("ssm", "SSM", "AmazonSSM"),
            events: regional("events", "EVENTBRIDGE", "AWSEvents"),
            sqs: Endpoint { json: "1.0", ..regional("sqs", "SQS", "AmazonSQS") },
            iam: Endpoint {
                signing_region: if overridden("IAM").is_some() { region.clone() } else { iam_region },
                url: overridden("IAM").unwrap_or(iam_url),
                service: "iam",
                version: "2010-05-08",
                json: "1.1",
            },
        }
    }

    /// One call: `Ok(Ok(xml))` on HTTP 200, `Ok(Err(refusal))` for an error answer; the
    /// transport's failures as `PortError::Unreachable`.
    pub(crate) async fn call(&self, op: &str, ep: &Endpoint, action: &str, params: &[(&str, &str)]) -> PortResult<Result<String, Refusal>> {
        let mut body = format!("Action={action}&Version={}", ep.version);
        for (k, v) in params {
            body.push_str(&format!("&{}={}", encode(k), encode(v)));
        }
        let request = self.signed(op, ep, &body).await?;
        let unreachable =
            |e: reqwest::Error| PortError::Unreachable { op: op.into(), endpoint: ep.url.clone(), message: crate::error::chain(&e) };
        let answer = request.send().await.map_err(unreachable)?;
        let status = answer.status().as_u16();
        let text = answer.text().await.map_err(unreachable)?;
        if status == 200 {
            return Ok(Ok(text));
        }
        Ok(Err(Refusal { status, code: tag(&text, "Code"), message: tag(&text, "Message").unwrap_or_default() }))
    }

    /// One call of the AWS JSON protocol (1.1, or the endpoint's) (`X-Amz-Target: <prefix>.<action>`, JSON both ways):
    /// `Ok(Ok(answer))` on HTTP 200, `Ok(Err(refusal))` for an error answer (`__type`, `message`).
    pub(crate) async fn json_call(
        &self,
        op: &str,
        ep: &Endpoint,
        action: &str,
        body: &serde_json::Value,
    ) -> PortResult<Result<serde_json::Value, Refusal>> {
        self.json_call_within(op, ep, action, body, None).await
    }

    /// [`Query::json_call`] with its own answer timeout (a long poll waits longer than 20 s).
    pub(crate) async fn json_call_within(
        &self,
        op: &str,
        ep: &Endpoint,
        action: &str,
        body: &serde_json::Value,
        timeout: Option<Duration>,
    ) -> PortResult<Result<serde_json::Value, Refusal>> {
        let target = format!("{}.{action}", ep.version);
        let content_type = format!("application/x-amz-json-{}", ep.json);
        let mut request =
            self.signed_with(op, ep, &body.to_string(), &[("content-type", &content_type), ("x-amz-target", &target)]).await?;
        if let Some(t) = timeout {
            request = request.timeout(t);
        }
        let unreachable =
            |e: reqwest::Error| PortError::Unreachable { op: op.into(), endpoint: ep.url.clone(), message: crate::error::chain(&e) };
        let answer = request.send().await.map_err(unreachable)?;
        let status = answer.status().as_u16();
        let text = answer.text().await.map_err(unreachable)?;
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        if status == 200 {
            return Ok(Ok(json));
        }
        Ok(Err(json_refusal(status, &json)))
    }

    /// The POST, signed with SigV4 for the endpoint's service and signing region.
    async fn signed(&self, op: &str, ep: &Endpoint, body: &str) -> PortResult<reqwest::RequestBuilder> {
        self.signed_with(op, ep, body, &[("content-type", "application/x-www-form-urlencoded; charset=utf-8")]).await
    }

    /// A POST of `body` with `headers`, signed (the headers included) for the endpoint.
    async fn signed_with(&self, op: &str, ep: &Endpoint, body: &str, headers: &[(&str, &str)]) -> PortResult<reqwest::RequestBuilder> {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        let no_credentials = |why: String| PortError::Rejected {
            op: op.into(),
            code: "NoCredentials".into(),
            message: format!(
                "no usable AWS credentials ({why}); set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, run `aws sso login`, or rehearse with --sandbox"
            ),
        };
        let construction = |e: String| PortError::Rejected { op: op.into(), code: "RequestConstruction".into(), message: e };
        let provider = self.credentials.as_ref().ok_or_else(|| no_credentials("none configured".into()))?;
        let identity = provider.provide_credentials().await.map_err(|e| no_credentials(e.to_string()))?.into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&ep.signing_region)
            .name(ep.service)
            .time(std::time::SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| construction(e.to_string()))?
            .into();
        let signable = SignableRequest::new("POST", &ep.url, headers.iter().copied(), SignableBody::Bytes(body.as_bytes()))
            .map_err(|e| construction(e.to_string()))?;
        let (instructions, _) = sign(signable, &params).map_err(|e| construction(e.to_string()))?.into_parts();
        let mut request = self.http.post(&ep.url).body(body.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        Ok(request)
    }
}

/// IAM is global per partition: `iam.amazonaws.com` signed for us-east-1, the China and
/// GovCloud partitions' own ("AWS Identity and Access Management endpoints and quotas",
/// docs.aws.amazon.com/general/latest/gr/iam-service.html); other partitions regional.
fn iam_endpoint(region: &str) -> (String, String) {
    match region {
        r if r.starts_with("cn-") => ("https://iam.cn-north-1.amazonaws.com.cn".into(), "cn-north-1".into()),
        r if r.starts_with("us-gov-") => ("https://iam.us-gov.amazonaws.com".into(), "us-gov-west-1".into()),
        r if super::endpoints::dns_suffix(r) == "amazonaws.com" => ("https://iam.amazonaws.com".into(), "us-east-1".into()),
        r => (format!("https://iam.{r}.{}", super::endpoints::dns_suffix(r)), r.to_string()),
    }
}

/// An error answer as the engine sees it, classified like the SDK clients' (`map_err`).
pub(super) fn refused(op: &str, r: Refusal) -> PortError {
    let op = op.to_string();
    match r.code.as_deref() {
        Some("RequestLimitExceeded") | Some("Throttling") | Some("ThrottlingException") => PortError::Throttled { op },
        Some(c) if c.ends_with(".NotFound") || c == "NoSuchEntity" => PortError::NotFound { op, message: format!("{c}: {}", r.message) },
        Some(c) if r.status >= 500 => PortError::Transient { op, message: format!("{c}: {}", r.message) },
        Some(c) => PortError::Rejected { op, code: c.to_string(), message: r.message },
        None if r.status >= 500 => PortError::Transient { op, message: format!("HTTP {}", r.status) },
        None => PortError::Unsupported { op, message: format!("HTTP {} without an AWS error body", r.status) },
    }
}

/// An AWS JSON error answer: `__type` (`ParameterNotFound`, or with its namespace before `#`)
/// and `message` (or `Message`).
fn json_refusal(status: u16, json: &serde_json::Value) -> Refusal {
    let code = json["__type"].as_str().map(|t| t.rsplit('#').next().unwrap_or(t).split(':').next().unwrap_or(t).to_string());
    let message = json["message"].as_str().or_else(|| json["Message"].as_str()).unwrap_or_default().to_string();
    Refusal { status, code, message }
}

/// The text of the first `<name>…</name>` in `xml`, entities decoded.
pub(super) fn tag(xml: &str, name: &str) -> Option<String> {
    let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(unescape(&xml[start..end]))
}

/// The `<member>` elements directly inside the first `<list>` element (not nested lists'
/// members: a member's own lists are skipped over).
pub(super) fn members<'a>(xml: &'a str, list: &str) -> Vec<&'a str> {
    let Some(start) = xml.find(&format!("<{list}>")).map(|i| i + list.len() + 2) else { return Vec::new() };
    let Some(len) = xml[start..].find(&format!("</{list}>")) else { return Vec::new() };
    let inner = &xml[start..start + len];
    let mut out = Vec::new();
    let (mut depth, mut from) = (0usize, 0usize);
    let mut i = 0;
    while let Some(pos) = inner[i..].find("member>") {
        let at = i + pos;
        let closing = at >= 2 && &inner[at - 2..at] == "</";
        let opening = at >= 1 && &inner[at - 1..at] == "<" && !closing;
        if opening {
            if depth == 0 {
                from = at + "member>".len();
            }
            depth += 1;
        } else if closing && depth > 0 {
            depth -= 1;
            if depth == 0 {
                out.push(&inner[from..at - 2]);
            }
        }
        i = at + "member>".len();
    }
    out
}

fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let Some(end) = after.find(';') else {
            out.push_str(after);
            return out;
        };
        let entity = &after[1..end];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => out.push(c),
            None => out.push_str(&after[..=end]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Form-encode a value (unreserved characters as they are, everything else `%XX`).
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answer shapes of the EC2 and IAM API References' error responses and CloudFormation's
    /// DescribeStacks (`member` lists, nested `Outputs`, an escaped value).
    #[test]
    fn query_answers_are_read_as_aws_documents_them() {
        let err = r#"<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>InvalidSubnetID.NotFound</Code><Message>The subnet ID 'subnet-0' does not exist</Message></Error></Errors><RequestID>x</RequestID></Response>"#;
        assert_eq!(tag(err, "Code").as_deref(), Some("InvalidSubnetID.NotFound"));
        assert_eq!(tag(err, "Message").as_deref(), Some("The subnet ID 'subnet-0' does not exist"));
        let stacks = r#"<DescribeStacksResponse><DescribeStacksResult><Stacks><member><StackName>q</StackName>
<Tags><member><Key>team</Key><Value>x</Value></member></Tags>
<Outputs><member><OutputKey>Url</OutputKey><OutputValue>https://q.example/?a=1&amp;b=2</OutputValue></member>
<member><OutputKey>Arn</OutputKey><OutputValue>arn:aws:sqs:us-east-1:1:q</OutputValue></member></Outputs></member></Stacks>
</DescribeStacksResult></DescribeStacksResponse>"#;
        let stack = members(stacks, "Stacks");
        assert_eq!(stack.len(), 1, "{stack:?}");
        let outputs = members(stack[0], "Outputs");
        assert_eq!(outputs.len(), 2, "{outputs:?}");
        assert_eq!(tag(outputs[0], "OutputValue").as_deref(), Some("https://q.example/?a=1&b=2"));
        assert_eq!(tag(outputs[1], "OutputKey").as_deref(), Some("Arn"));
        assert_eq!(members("<Stacks></Stacks>", "Stacks"), Vec::<&str>::new());
        assert_eq!(unescape("&lt;a&gt; &#65;&#x42; &bogus; &"), "<a> AB &bogus; &");
        assert_eq!(encode("a b&c/d"), "a%20b%26c%2Fd");
        assert_eq!(iam_endpoint("eu-west-1"), ("https://iam.amazonaws.com".into(), "us-east-1".into()));
        assert_eq!(iam_endpoint("cn-northwest-1").1, "cn-north-1");
        let throttled = refused("ec2:X", Refusal { status: 503, code: Some("RequestLimitExceeded".into()), message: String::new() });
        assert!(matches!(throttled, PortError::Throttled { .. }));
        // The AWS JSON 1.1 error shape (SSM): `__type`, bare or namespaced, and `message`.
        let missing = json_refusal(400, &serde_json::json!({"__type": "ParameterNotFound", "message": "Parameter /x not found."}));
        assert_eq!((missing.code.as_deref(), missing.message.as_str()), (Some("ParameterNotFound"), "Parameter /x not found."));
        let namespaced =
            json_refusal(400, &serde_json::json!({"__type": "com.amazonaws.ssm#ThrottlingException", "Message": "Rate exceeded"}));
        assert!(matches!(refused("ssm:GetParameter", namespaced), PortError::Throttled { .. }));
    }
}
