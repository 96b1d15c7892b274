//! An SDK error as a port error: throttling, transient, refusals, not found — the one mapping.

use super::endpoints::endpoint_of;
use crate::ports::*;
use aws_sdk_ecs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Classify an SDK error for the engine.
pub(crate) fn map_err<E, R>(op: &str, e: SdkError<E, R>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
    SdkError<E, R>: std::error::Error + 'static,
{
    let op = op.to_string();
    let text = DisplayErrorContext(&e).to_string();
    match &e {
        SdkError::ServiceError(ctx) => {
            let status = raw_status(ctx.raw());
            let code = ctx.err().code().map(str::to_string);
            let message = ctx.err().message().unwrap_or_default().to_string();
            match code.as_deref() {
                Some(c) if c.contains("Throttl") || c == "RequestLimitExceeded" || c == "TooManyRequestsException" => {
                    PortError::Throttled { op }
                }
                Some(c) if c.ends_with("NotFoundException") || c == "RepositoryNotFoundException" => {
                    PortError::NotFound { op, message: format!("{c}: {message}") }
                }
                Some("UnknownOperationException") | Some("UnsupportedFeatureException") => PortError::Unsupported { op, message },
                Some(c) if status >= 500 => PortError::Transient { op, message: format!("{c}: {message}") },
                Some(c) => PortError::Rejected { op, code: c.to_string(), message },
                // AWS always answers with an error code; a bare 500/404 comes from an endpoint that
                // does not implement the operation (an emulator, a proxy).
                None if status == 500 || status == 404 => {
                    PortError::Unsupported { op, message: format!("HTTP {status} without an AWS error body") }
                }
                None => PortError::Transient { op, message: short(&text) },
            }
        }
        SdkError::ConstructionFailure(_) => PortError::Rejected { op, code: "RequestConstruction".into(), message: short(&text) },
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) if !text.contains("redentials") => {
            let service = op.split(':').next().unwrap_or_default().to_string();
            PortError::Unreachable { op, endpoint: endpoint_of(&service), message: short(&text) }
        }
        _ if text.contains("credentials") || text.contains("Credentials") => PortError::Rejected {
            op,
            code: "NoCredentials".into(),
            message: "no usable AWS credentials (environment, profile, SSO, container or instance role); set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, run `aws sso login`, or rehearse with --sandbox".into(),
        },
        _ => PortError::Transient { op, message: short(&text) },
    }
}

/// The SDK's error chain can run to kilobytes of debug output: keep the readable head.
pub(super) fn short(text: &str) -> String {
    // DisplayErrorContext appends the whole Debug chain in parentheses: drop that part.
    let cut = ["(DispatchFailure", "(ServiceError", "(ResponseError", "(TimeoutError", "(ConstructionFailure"]
        .iter()
        .filter_map(|m| text.find(m))
        .min();
    let head = cut.map_or(text, |i| text[..i].trim_end());
    if head.chars().count() > 300 { format!("{}…", head.chars().take(300).collect::<String>()) } else { head.to_string() }
}

pub(super) fn raw_status<R: std::fmt::Debug>(raw: &R) -> u16 {
    // `R` is the HTTP response; its Debug output carries the status. Kept generic so this works
    // for every service's error type without naming the runtime's response type.
    let d = format!("{raw:?}");
    d.split("status: StatusCode(").nth(1).and_then(|s| s.split(')').next()).and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}
