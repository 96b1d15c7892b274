//! HTTP checks against a test (or production) listener: real requests, N consecutive passes,
//! a per-request timeout and an overall budget.

use super::{Engine, Event};
use crate::spec::CheckSection;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// GET over HTTPS with the system's trust roots. Test listeners usually present the production
/// certificate for another name than the load balancer's DNS name: the checks then fail with the
/// TLS error, and `test_url` can name the right host.
async fn https_get(url: &str, timeout: Duration) -> Result<HttpAnswer, String> {
    use http_body_util::BodyExt as _;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("no TLS trust roots: {e}"))?
        .https_only()
        .enable_http1()
        .build();
    let client: hyper_util::client::legacy::Client<_, http_body_util::Empty<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
    let req = hyper::Request::get(url)
        .header("user-agent", "fgdeploy-check")
        .body(http_body_util::Empty::new())
        .map_err(|e| format!("bad URL {url}: {e}"))?;
    let fut = async {
        let resp = client.request(req).await.map_err(|e| format!("request: {e:?}"))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().iter().map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string())).collect();
        let body = resp.into_body().collect().await.map_err(|e| format!("read: {e}"))?.to_bytes();
        Ok::<_, String>(HttpAnswer { status, headers, body: String::from_utf8_lossy(&body).into_owned() })
    };
    tokio::time::timeout(timeout, fut).await.map_err(|_| format!("no answer within {}", humantime::format_duration(timeout)))?
}

/// GET `url`: HTTP/1.1 over TCP (`Connection: close`), or HTTPS.
pub async fn http_get(url: &str, timeout: Duration) -> Result<HttpAnswer, String> {
    if url.starts_with("https://") {
        return https_get(url, timeout).await;
    }
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("{url} is not an http:// or https:// URL"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = if hostport.contains(':') { hostport.to_string() } else { format!("{hostport}:80") };
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(&addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
        let req =
            format!("GET {path} HTTP/1.1\r\nHost: {hostport}\r\nUser-Agent: fgdeploy-check\r\nAccept: */*\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.map_err(|e| format!("send: {e}"))?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.map_err(|e| format!("read: {e}"))?;
        Ok::<_, String>(buf)
    };
    let raw =
        tokio::time::timeout(timeout, fut).await.map_err(|_| format!("no answer within {}", humantime::format_duration(timeout)))??;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| "malformed HTTP answer".to_string())?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "no HTTP status line".to_string())?;
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_string() };
    Ok(HttpAnswer { status, headers, body })
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Whether one answer passes one check; the reason when not.
pub fn judge(c: &CheckSection, a: &HttpAnswer) -> Result<(), String> {
    if a.status != c.status {
        return Err(format!("{} answered {} (expected {})", c.path, a.status, c.status));
    }
    if let Some(s) = &c.body_contains
        && !a.body.contains(s.as_str())
    {
        return Err(format!("{} body lacks {s:?}", c.path));
    }
    if let Some(h) = &c.header {
        let (name, value) = h.split_once(':').map_or((h.as_str(), ""), |(n, v)| (n, v));
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        if !a.headers.iter().any(|(k, v)| *k == name && (value.is_empty() || v.contains(value))) {
            return Err(format!("{} lacks header {h:?}", c.path));
        }
    }
    Ok(())
}

impl Engine {
    /// Run every check against `base` until each has passed `consecutive` times in a row, or the
    /// budget runs out. Ok, or Err with the last failure.
    pub(super) async fn run_checks(&self, base: &str, checks: &[CheckSection], budget: Duration, what: &str) -> Result<(), String> {
        if checks.is_empty() {
            return Ok(());
        }
        let base = base.trim_end_matches('/');
        let deadline = self.ports.clock.now() + budget.as_secs_f64();
        let mut streak = vec![0u32; checks.len()];
        let mut last_error = String::new();
        loop {
            for (i, c) in checks.iter().enumerate() {
                if streak[i] >= c.consecutive {
                    continue;
                }
                let url = format!("{base}{}", c.path);
                match http_get(&url, c.timeout).await.and_then(|a| judge(c, &a)) {
                    Ok(()) => streak[i] += 1,
                    Err(e) => {
                        if streak[i] > 0 || last_error != e {
                            self.emit(Event::Warning { message: format!("{what} check {url}: {e}") });
                        }
                        streak[i] = 0;
                        last_error = e;
                    }
                }
            }
            if checks.iter().zip(&streak).all(|(c, s)| *s >= c.consecutive) {
                self.info(format!("{what} checks passed: {} path(s) against {base}", checks.len()));
                return Ok(());
            }
            if self.ports.clock.now() >= deadline || self.interrupt.is_set() {
                return Err(if self.interrupt.is_set() {
                    "interrupted".into()
                } else {
                    format!(
                        "{what} checks did not pass within deploy.blue_green.check_budget ({}): {last_error}",
                        humantime::format_duration(budget)
                    )
                });
            }
            let left = (deadline - self.ports.clock.now()).max(0.0);
            self.ports.clock.sleep(Duration::from_secs(2).min(Duration::from_secs_f64(left))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check() -> CheckSection {
        CheckSection {
            path: "/health".into(),
            status: 200,
            body_contains: Some("ok".into()),
            consecutive: 1,
            header: Some("content-type: text/plain".into()),
            timeout: Duration::from_secs(1),
        }
    }

    #[tokio::test]
    async fn https_errors_are_reported_not_panicked() {
        // Nothing listens on port 1; a plain-HTTP listener cannot speak TLS either.
        let e = http_get("https://127.0.0.1:1/health", Duration::from_secs(2)).await.unwrap_err();
        assert!(e.contains("request"), "{e}");
        assert!(http_get("ftp://x/", Duration::from_secs(1)).await.unwrap_err().contains("not an http"));
    }

    #[test]
    fn judging() {
        let a =
            HttpAnswer { status: 200, headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())], body: "all ok".into() };
        assert!(judge(&check(), &a).is_ok());
        assert!(judge(&check(), &HttpAnswer { status: 503, ..a.clone() }).unwrap_err().contains("503"));
        assert!(judge(&check(), &HttpAnswer { body: "bad".into(), ..a.clone() }).unwrap_err().contains("lacks"));
        assert!(judge(&check(), &HttpAnswer { headers: vec![], ..a }).unwrap_err().contains("header"));
        assert_eq!(dechunk("2\r\nok\r\n3\r\n!!!\r\n0\r\n\r\n"), "ok!!!");
    }
}
