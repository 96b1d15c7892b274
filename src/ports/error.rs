//! What a port call can fail with: the one error every adapter maps to (a leaf: it depends on
//! nothing else in the crate).

/// Why an AWS call failed, classified for the engine's decisions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PortError {
    /// Rate exceeded (after the SDK's own retries): back off and try again.
    #[error("{op}: throttled by AWS (rate exceeded)")]
    Throttled { op: String },
    /// 5xx, timeout, connection or malformed response: may be retried; a mutating call may or
    /// may not have taken effect.
    #[error("{op}: transient failure: {message}")]
    Transient { op: String, message: String },
    /// The endpoint cannot be reached (DNS, connection refused, connect or attempt timeout).
    #[error("{op}: cannot reach {endpoint}: {message}")]
    Unreachable { op: String, endpoint: String, message: String },
    /// The resource does not exist.
    #[error("{op}: not found: {message}")]
    NotFound { op: String, message: String },
    /// The endpoint does not implement this operation (older region, emulator).
    #[error("{op}: not supported by this endpoint: {message}")]
    Unsupported { op: String, message: String },
    /// AWS refused the request (validation, permissions, conflict). Not retried.
    #[error("{op}: {code}: {message}")]
    Rejected { op: String, code: String, message: String },
}

impl PortError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, PortError::Throttled { .. } | PortError::Transient { .. } | PortError::Unreachable { .. })
    }
}

pub type PortResult<T> = Result<T, PortError>;
